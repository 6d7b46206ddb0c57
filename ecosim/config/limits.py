"""What a run can draw, and what it costs: the bounds behind the checks of ``validate``.

Draws. The kernels draw a standard normal by Box–Muller from uniforms in ``[2**-54, 1)``, so
``|z| <= Z_MAX = sqrt(2 * 54 * ln 2) ~ 8.65``; every family's draws therefore lie in a range
that ``draw_range`` computes from its parameters (a gamma is bounded through its normal, see
``kernels.distributions``). Validation refuses a spec whose range reaches a value that is not
allowed at its position, so a bound holds for every draw of every run, not only most of them.

Memory. ``memory_estimate`` adds up the arrays a run allocates (customers, network, per-block
ledgers, history) and the tables it keeps for every replication and arm, from the same sizes
the engine uses: 64 bytes per customer and 8 per customer-need, plus 8 per customer when
awareness is held of brands that are not one per firm, 8 per customer with risk decisions on and
4 per customer-need with satisfaction on (``CustomerPopulation.nbytes``, checked by a test),
ledgers from ``kernels.accounting``.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from ecosim.config.schema import DistSpec

if TYPE_CHECKING:
    from ecosim.config.schema import EcosimConfig

#: Largest |z| of the kernels' normal draws (Box–Muller on uniforms >= 2**-54).
Z_MAX = math.sqrt(2.0 * 54.0 * math.log(2.0))
#: Largest magnitude of any draw (a spend, a rate, a utility weight): above it a value is a unit
#: error, and sums of up to ~1e16 draws in a run stay far inside float64 (and traits in float32).
MAX_DRAW = 1e12
LOG_MAX_DRAW = math.log(MAX_DRAW)

#: Bytes the engine holds per customer and per customer-need (``CustomerPopulation.nbytes``).
PER_CUSTOMER_BYTES = 64
PER_CUSTOMER_NEED_BYTES = 8
#: ... plus the bitmask of used brands (separate brands) and satisfaction (when on).
UNIT_BYTES = 8
SATISFACTION_BYTES = 4
#: ... and each customer-need's basket with the basket cache on (float64; ``basket_cache``).
BASKET_BYTES = 8
RISK_BYTES = 8  # the true relative risk; and per potential lender, its estimation noise
#: Peak bytes per network link (edge end; ``customers.n × degree`` links) while the network is
#: built, beside its int64 ``indptr``: the int32 neighbour lists that stay (4) and, until they are
#: deduplicated, the int32 edge lists (4 for Erdős–Rényi, 2 for Watts–Strogatz). Measured with
#: tracemalloc at 10^6 customers of degree 10 (tests/test_network.py): 8.00 and 6.00; the build
#: this replaced (int64 edge lists and a global sort) took 56.
NETWORK_BYTES_PER_LINK = 8
#: Bytes per cell of a result table while it is built, concatenated and written (three copies).
TABLE_BYTES_PER_CELL = 24
#: Bytes per logged purchase (the step buffers' rows and the transactions table).
TRANSACTION_BYTES = 160
#: Purchases the streamed log gathers before it writes a row group (the same number as
#: ``ecosim.metrics.transaction_log.ROW_GROUP_ROWS``, which tests/test_config.py checks).
TRANSACTION_ROW_GROUP = 1 << 16
#: Rows the streamed cohort table gathers before it writes a row group (the same number as
#: ``ecosim.metrics.cohorts.ROW_GROUP_ROWS``, which tests/test_config.py checks).
COHORT_ROW_GROUP = 1 << 20
#: Peak bytes per row of a cohort row group while it is gathered, sorted and written: 306
#: measured (tracemalloc and Arrow's pool, 2^20 rows of 10 firms).
COHORT_ROW_BYTES = 320
#: The interpreter, numba, pandas and the figures, whatever the market.
BASE_BYTES = 2**29
#: Most purchases of one need a customer makes in a step (``kernels.lifecycle.MAX_PURCHASES``).
MAX_PURCHASES_PER_STEP = 32
#: Throughput of the step kernels, customer-need-steps per core-second (benchmarks/results.json:
#: about 3.1e6 for the standalone market), for the work estimate.
STEPS_PER_CORE_SECOND = 3e6
#: Warn when a run needs more than this share of the machine's memory, or this much CPU time.
WARN_MEMORY_SHARE = 0.5
WARN_CORE_HOURS = 1.0


def draw_range(spec: DistSpec) -> tuple[float, float]:
    """The smallest and largest value a (validated) spec can draw in the kernels."""
    if spec.dist == "fixed":
        return spec.value, spec.value
    if spec.dist == "uniform":
        return spec.low, spec.high
    if spec.dist == "beta":
        return 0.0, 1.0
    if spec.dist == "normal":
        return spec.mean - Z_MAX * spec.sd, spec.mean + Z_MAX * spec.sd
    if spec.dist == "lognormal":
        return 0.0, _exp(spec.mean + Z_MAX * spec.sd)
    shape = spec.shape + 1.0 if spec.shape < 1.0 else spec.shape  # the boost of shape < 1 is <= 1
    d = shape - 1.0 / 3.0
    return 0.0, spec.scale * d * (1.0 + Z_MAX / math.sqrt(9.0 * d)) ** 3


def _exp(x: float) -> float:
    return math.exp(x) if x < 700 else math.inf


def machine_memory() -> int:
    """Physical memory of this machine in bytes (0 if the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def max_threads() -> int:
    """The most numba threads this process can use (``NUMBA_NUM_THREADS``, else the cores)."""
    from numba import config

    return int(config.NUMBA_NUM_THREADS)


def n_arms(cfg: EcosimConfig) -> int:
    """Arms of the experiment (1 for a single scenario)."""
    return max(1, len(cfg.experiment.arms))


def brand_names(cfg: EcosimConfig) -> list[str]:
    """Every brand of a run in index order: firms' own brands first, then offerings' and events'."""
    names = [firm.brand or name for name, firm in cfg.firms.items()]
    for name, firm in cfg.firms.items():
        names += [o.brand for o in firm.offerings.values() if o.brand]
        names += [str(v) for e in cfg.events if e.firm == name for path, v in e.set.items()
                  if path == "brand" or path.endswith(".brand")]
    return list(dict.fromkeys(names))


def potential_lenders(cfg: EcosimConfig) -> list[int]:
    """Indices of the firms that offer a risk-priced need in their config (not as a marketplace).

    With risk decisions on, the population keeps these lenders' estimation noise of each
    customer (8 bytes a customer each); a firm that lends otherwise (through an event) draws it
    again every step, with the same result.
    """
    risky = {name for name, need in cfg.needs.items() if need.risk_priced}
    return [f for f, firm in enumerate(cfg.firms.values())
            if firm.model != "marketplace" and risky & set(firm.offerings)]


#: Customer-needs up to which a run keeps every basket draw when ``basket_cache`` is null:
#: 2**27, a cache of 1 GiB (16.7 million customers with 8 needs).
BASKET_CACHE_AUTO = 1 << 27


def basket_cache_on(cfg: EcosimConfig) -> bool:
    """Whether the run keeps each customer-need's basket draw (``basket_cache``).

    A customer's basket for a need (the draw from the need's basket distribution times the
    income multiplier) is fixed for the run; kept, it is drawn once instead of at every
    occasion-bearing step (a normal and an exponential: about a fifth of a step's time), for
    8 bytes per customer-need. ``null`` keeps it up to ``BASKET_CACHE_AUTO`` customer-needs,
    when the run still fits in this machine's memory with it (``memory_estimate``). Results
    are the same bit for bit either way.
    """
    return _basket_cache_on(cfg, None)


def _basket_cache_on(cfg: EcosimConfig, without: float | None) -> bool:
    """``basket_cache_on``, given the run's peak bytes without the cache when known."""
    if cfg.basket_cache is not None:
        return cfg.basket_cache
    needs = cfg.customers.n * len(cfg.needs)
    if needs > BASKET_CACHE_AUTO:
        return False
    machine = machine_memory()
    if not machine:
        return True
    if without is None:
        without = total_memory(memory_estimate(cfg, basket_cache=False))
    return without + BASKET_BYTES * needs <= machine


def separate_brands(cfg: EcosimConfig) -> bool:
    """Whether awareness units can differ from firms: held of brands, and brands not one per firm.

    Brands are one per firm when firms' own brands are distinct, every offering carries its
    firm's brand and no event changes a brand; otherwise a unit's brand is not its firm.
    """
    if cfg.customers.awareness != "brand":
        return False
    firm_brands = {name: firm.brand or name for name, firm in cfg.firms.items()}
    if len(set(firm_brands.values())) < len(firm_brands):
        return True
    if any(o.brand and o.brand != firm_brands[name]
           for name, firm in cfg.firms.items() for o in firm.offerings.values()):
        return True
    return any(path == "brand" or path.endswith(".brand")
               for event in cfg.events for path in event.set)


def memory_estimate(cfg: EcosimConfig, basket_cache: bool | None = None) -> dict[str, float]:
    """Bytes a run needs at its peak, by part (``basket_cache``: as if set so; None: the run's).

    Returns:
        ``population``, ``network``, ``ledgers`` (per-block step ledgers) and ``buffers`` (the
        step's transaction buffers) grow with ``customers.n``; ``cell_ledgers`` (per-block
        cross-sell ledgers) also with the age × income cells; ``history`` (arrays over steps)
        and ``tables`` (result tables of one replication) with ``time.horizon``;
        ``all_tables`` is ``tables`` times replications and arms, ``cohorts`` the cohort table
        held while it is streamed to Parquet (a row group and one step's rows: the cohort
        table is steps² / 2 × firms rows), ``transactions`` the purchase log held while it is
        streamed (``output.transactions``: one row group plus one step's purchases), ``base``
        the interpreter and libraries. The CLI streams both; a library caller of
        ``run_experiment`` without a run directory holds them whole instead.
    """
    from ecosim.kernels.accounting import BLOCK, N_C, N_CELL, N_F, N_FK, N_SF, n_cohort_groups

    customers = cfg.customers
    n, k, f = customers.n, len(cfg.needs), len(cfg.firms)
    s, t = len(customers.segments), cfg.time.horizon + 1
    cells = max(1, s, customers.sociodemo.age_bands * len(customers.sociodemo.income_scale))
    blocks = -(-n // BLOCK)
    links = 0 if customers.network.kind == "none" else n * customers.network.degree
    rows = {"firm": t * f * 25, "unit": t * f * k * 13, "segment": t * s * (f + 1) * 10}
    tables = TABLE_BYTES_PER_CELL * sum(rows.values())
    cohort_rows = min(f * t * (t + 1) / 2, COHORT_ROW_GROUP + f * t)
    purchases = 0.0
    buffers = 0.0
    if cfg.output.transactions:
        per_need = [need.prevalence * _rate(cfg, need.occurrence) for need in cfg.needs.values()]
        # the CLI streams the log (ecosim.metrics.transaction_log): it holds one row group
        # being gathered plus one step's purchases, never the whole log
        per_step = float(n) * sum(per_need)
        purchases = TRANSACTION_ROW_GROUP + per_step
        per_block = min(n, BLOCK) * k * max(1, math.ceil(3 * _rate(cfg, 1.0) + 3))
        buffers = blocks * per_block * 6 * 8.0
    parts = {
        "population": float(n) * (PER_CUSTOMER_BYTES + UNIT_BYTES * separate_brands(cfg)
                                  + RISK_BYTES * customers.risk.enabled
                                  * (1 + len(potential_lenders(cfg)))
                                  + (PER_CUSTOMER_NEED_BYTES + SATISFACTION_BYTES
                                     * (customers.satisfaction.memory > 0)) * k),
        "network": float(links) * NETWORK_BYTES_PER_LINK + 8.0 * (n + 1) * (links > 0),
        "ledgers": 8.0 * (blocks * (N_FK * f * k + N_F * f + N_SF * s * (f + 1) + s * k)
                          + n_cohort_groups(blocks) * N_C * f * t),
        "cell_ledgers": 8.0 * blocks * N_CELL * f * cells,
        "buffers": buffers,
        "history": 8.0 * t * (11 * f * k + 11 * f + 2 * s * (f + 1) + s + s * k),
        "tables": tables,
        "all_tables": tables * cfg.replications * n_arms(cfg),
        "cohorts": COHORT_ROW_BYTES * cohort_rows + 16.0 * f * t,
        "transactions": purchases * TRANSACTION_BYTES,
        "base": float(BASE_BYTES),
    }
    if basket_cache is None:  # the automatic rule needs the run's peak without the cache
        basket_cache = _basket_cache_on(cfg, total_memory(parts))
    parts["population"] += float(BASKET_BYTES * n * k) * basket_cache
    return parts


def _rate(cfg: EcosimConfig, occurrence: float) -> float:
    """Purchases per step of a customer with a need: its occurrence, or the BG/NBD mean rate."""
    life = cfg.customers.lifecycle
    if life.kind == "contractual":
        return occurrence
    rate = life.rate
    low, high = draw_range(rate)
    means = {"fixed": rate.value, "normal": rate.mean, "uniform": (low + high) / 2,
             "beta": 0.5, "gamma": (rate.shape or 0) * (rate.scale or 0),
             "lognormal": _exp((rate.mean or 0) + (rate.sd or 0) ** 2 / 2)}
    return max(0.0, min(float(means[rate.dist]), MAX_PURCHASES_PER_STEP))


def total_memory(parts: dict[str, float]) -> float:
    """Peak bytes of a run from ``memory_estimate``'s parts (``tables`` is in ``all_tables``)."""
    return sum(value for name, value in parts.items() if name != "tables")


def work_estimate(cfg: EcosimConfig) -> float:
    """Customer-need-steps a run plays (all replications and arms)."""
    return (float(cfg.customers.n) * len(cfg.needs) * cfg.time.horizon * cfg.replications
            * n_arms(cfg))


def gib(nbytes: float) -> str:
    """``12.3 GiB``."""
    return f"{nbytes / 2**30:.1f} GiB"


def resource_warning(cfg: EcosimConfig) -> str | None:
    """One line with the memory and CPU estimates when a run is large, else ``None``.

    Large: more than ``WARN_MEMORY_SHARE`` of this machine's memory, or more than
    ``WARN_CORE_HOURS`` of CPU at ``STEPS_PER_CORE_SECOND``.
    """
    memory = total_memory(memory_estimate(cfg))
    machine = machine_memory()
    work = work_estimate(cfg)
    hours = work / STEPS_PER_CORE_SECOND / 3600
    if memory <= WARN_MEMORY_SHARE * machine and hours <= WARN_CORE_HOURS:
        return None
    return (f"this run needs about {gib(memory)} of memory (this machine has {gib(machine)}) and "
            f"about {hours:.2g} core-hours ({work:.2g} customer-need-steps at "
            f"{STEPS_PER_CORE_SECOND:.0e} per core-second)")
