"""The choice kernel against a reference that evaluates every option's noise exactly.

``choice._choose_provider`` brackets each option's Gumbel noise from the top bits of its hashes
and evaluates exactly only the options whose bracket reaches the best lower bound; for a market
with a wide span of firm indices it also runs its first pass as a vectorised loop over the span.
Whatever the path, the option chosen must be the one a plain argmax over ``utility + noise`` of
every option picks (the outside option first, then firms by index, the first of equal totals).
The reference below is written from the module's docstring in plain Python (libm logarithms),
with its own hashing of the draw slots; it shares nothing with the kernel but ``rng.bits_at``.

The cases mix every path: candidate sets that are empty, a single firm, two firms, and wide
sparse or dense spans of up to 40 firms; with and without the outside option; taste or shock
switched off; the customer's current provider among the candidates or not, brands in use, and
business-model utility (``extra``). A choice differs from the reference only if two totals lie
within rounding error of each other, which none of these draws does: the test asserts equality.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ecosim.kernels.choice import OUTSIDE, _choose_provider
from ecosim.kernels.population import (
    BRAND_AFF,
    CONV_SENS,
    HABIT_STR,
    MAX_INDEX,
    N_TRAITS,
    PRICE_SENS,
    SWITCH_COST,
)
from ecosim.kernels.rng import bits_at
from ecosim.kernels.state import Market

FIRMS, NEEDS = 40, 3
CASES = 6_000


def _market(rng: np.random.Generator) -> Market:
    """A market of FIRMS x NEEDS offers with random quality, price, convenience and brands."""
    shape = (FIRMS, NEEDS)
    zero = np.zeros(shape)
    brand = rng.integers(0, 12, shape)
    return Market(np.ones(shape, np.bool_), zero, rng.normal(0.0, 0.3, shape),
                  rng.normal(0.0, 1.0, shape), rng.normal(0.0, 1.0, shape), zero, zero, zero,
                  brand, zero, zero, np.zeros((FIRMS, 4)), np.zeros((FIRMS, 4), np.int64),
                  np.zeros(FIRMS, np.uint64), zero, brand, zero)


@njit
def _kernel_choices(market, taste_keys, shock_keys, ks, need_ids, occasions, currents, habits,
                    candidates, outside, extras, brands, traits, taste_scale, shock_scale):
    """``_choose_provider`` on each case, with one scratch for all as in the step kernel: what one
    case leaves in it must not change the next."""
    seen = np.zeros((3, 65))
    hashes = np.zeros((2, 65), np.uint64)
    out = np.empty(ks.shape[0], np.int64)
    for c in range(ks.shape[0]):
        out[c] = _choose_provider(taste_keys[c], shock_keys[c], ks[c], need_ids[c],
                                  occasions[c], currents[c], habits[c], candidates[c],
                                  outside[c], extras[c], brands[c], traits[c], market,
                                  taste_scale[c], shock_scale[c], seen, hashes)
    return out


def _gumbel(bits: int) -> float:
    """The standard Gumbel draw of a 64-bit hash (top 53 bits as a uniform in (0, 1))."""
    u = ((bits >> 11) + 0.5) * 2.0 ** -53
    return -math.log(-math.log(u))


def _reference(taste_key, shock_key, k, need_id, occasion, current, habit, candidates, outside,
               extra, brands, trait, market, taste_scale, shock_scale) -> int:
    """Argmax of utility + noise over every option compared, every noise evaluated exactly."""

    def noise(option: int) -> float:
        base = (need_id * (MAX_INDEX + 1) + option) * 64
        e = 0.0
        if taste_scale > 0.0:
            e += taste_scale * _gumbel(int(bits_at(taste_key, base)))
        if shock_scale > 0.0:
            e += shock_scale * _gumbel(int(bits_at(shock_key, base + occasion)))
        return e

    best, best_u = int(OUTSIDE), -math.inf
    if outside:
        best_u = noise(MAX_INDEX)
    for f in range(FIRMS):
        if not (candidates >> f) & 1:
            continue
        v = (market.quality[f, k] - float(trait[PRICE_SENS]) * market.log_price[f, k]
             + float(trait[CONV_SENS]) * market.convenience[f, k])
        if (brands >> int(market.brand[f, k])) & 1:
            v += float(trait[BRAND_AFF])
        if f == current:
            v += float(trait[HABIT_STR]) * habit + float(trait[SWITCH_COST])
        u = v + extra[f] + noise(f)
        if u > best_u:
            best, best_u = f, u
    return best


def _cases(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """CASES random choices; a fifth each of empty-to-two-firm, narrow, wide sparse and wide
    dense candidate sets, and one with every firm."""
    n = CASES
    kind = rng.integers(0, 5, n)
    candidates = np.zeros(n, np.uint64)
    for c in range(n):
        if kind[c] == 0:  # none, one or two firms anywhere
            firms = rng.choice(FIRMS, rng.integers(0, 3), replace=False)
        elif kind[c] == 1:  # a few neighbours
            start = rng.integers(0, FIRMS - 4)
            firms = start + rng.choice(4, rng.integers(1, 5), replace=False)
        elif kind[c] == 2:  # wide and sparse
            firms = rng.choice(FIRMS, rng.integers(3, 6), replace=False)
        elif kind[c] == 3:  # wide and dense
            firms = np.flatnonzero(rng.random(FIRMS) < 0.6)
        else:
            firms = np.arange(FIRMS)
        candidates[c] = sum(np.uint64(1) << np.uint64(f) for f in firms) if len(firms) else 0
    traits = rng.lognormal(-0.5, 0.6, (n, N_TRAITS)).astype(np.float32)
    scales = rng.choice([0.0, 0.5, 1.0], (n, 2))
    scales[(scales == 0.0).all(axis=1), 1] = 0.5  # at least one source of noise
    current = rng.integers(-1, FIRMS, n)
    return {
        "taste_keys": rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + np.uint64(1),
        "shock_keys": rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2),
        "ks": rng.integers(0, NEEDS, n), "need_ids": rng.integers(0, 2**31, n),
        "occasions": rng.integers(0, 64, n), "currents": current, "habits": rng.random(n),
        "candidates": candidates, "outside": (rng.random(n) < 0.6) | (candidates == 0),
        "extras": rng.normal(0.0, 0.5, (n, FIRMS)),
        "brands": rng.integers(0, 2**12, n).astype(np.uint64), "traits": traits,
        "taste_scale": scales[:, 0], "shock_scale": scales[:, 1],
    }


def test_choice_is_the_argmax_of_every_option_evaluated_exactly() -> None:
    rng = np.random.default_rng(20261202)
    market = _market(rng)
    cases = _cases(rng)
    got = _kernel_choices(market, *cases.values())
    expected = [
        _reference(int(cases["taste_keys"][c]), int(cases["shock_keys"][c]), int(cases["ks"][c]),
                   int(cases["need_ids"][c]), int(cases["occasions"][c]),
                   int(cases["currents"][c]), float(cases["habits"][c]),
                   int(cases["candidates"][c]), bool(cases["outside"][c]), cases["extras"][c],
                   int(cases["brands"][c]), cases["traits"][c], market,
                   float(cases["taste_scale"][c]), float(cases["shock_scale"][c]))
        for c in range(CASES)]
    mismatches = np.flatnonzero(got != np.array(expected))
    assert mismatches.size == 0, f"cases {mismatches[:10].tolist()} differ from the reference"
    # every path was taken: outside chosen, a firm chosen, and candidates spanning > 2 firms
    assert (got == OUTSIDE).sum() > 100 and (got >= 0).sum() > 3_000
