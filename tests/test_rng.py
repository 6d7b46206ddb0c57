"""The counter-based generator and distribution draws (docs/design.md §3, ``ecosim.kernels.rng``).

Tolerances: a sample statistic is compared with its exact value within 5 standard errors of
that statistic at the sample size used (two-sided normal tail 5.7e-7), and distribution tests
(Kolmogorov–Smirnov, chi-square) must have p-values above 1e-6. The draws are deterministic, so
a test either always passes or always fails; the margin says how unlucky a correct generator
would have to be to fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import HUGE_QUALITY
from numba import njit
from scipy import stats

from ecosim.config import DistSpec
from ecosim.kernels.distributions import BETA, GAMMA, LOGNORMAL, NORMAL, UNIFORM, draw
from ecosim.kernels.rng import (
    bits_at,
    customer_key,
    gumbel,
    hash_draw,
    mix64,
    normal,
    normal_at,
    normal_key,
    poisson,
    run_key,
    stream_key,
    uniform,
    uniform_at,
)
from ecosim.model import EcosystemModel

N_DRAWS = 1_000_000  # uniforms: SE of the mean sqrt(1/12/1e6) = 2.9e-4
N_FAMILY = 200_000  # family draws: SE of the mean sd/sqrt(2e5) = 0.0022 sd
Z = 5.0  # standard errors allowed
P_MIN = 1e-6  # smallest p-value allowed for a distribution test
KEY = np.uint64(run_key(7, 3))  # as CustomerPopulation passes it to the kernels

# Which coordinate of (customer, step, slot) a sequence of draws runs along.
ALONG_CUSTOMER, ALONG_STEP, ALONG_SLOT = 0, 1, 2


@njit(cache=True)
def _uniforms(key, stream, step, customer, slot, along, n):
    """``n`` uniforms at consecutive values of one coordinate, the others fixed."""
    out = np.empty(n)
    for j in range(n):
        if along == ALONG_CUSTOMER:
            out[j] = uniform(key, stream, step, customer + j, slot)
        elif along == ALONG_STEP:
            out[j] = uniform(key, stream, step + j, customer, slot)
        else:
            out[j] = uniform(key, stream, step, customer, slot + j)
    return out


@njit(cache=True)
def _draws(code, p1, p2, key, stream, step, slot, n):
    """``n`` draws of one family, one per customer index."""
    out = np.empty(n)
    for i in range(n):
        out[i] = draw(code, p1, p2, key, stream, step, i, slot)
    return out


@njit(cache=True)
def _gumbels(key, stream, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = gumbel(key, stream, 1, i, 0)
    return out


@njit(cache=True)
def _poissons(key, stream, lam, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = poisson(key, stream, 1, i, 0, lam)
    return out


def _assert_close(got: float, expected: float, se: float, what: str) -> None:
    message = f"{what}: {got:.6g}, expected {expected:.6g} ± {Z * se:.3g}"
    assert abs(got - expected) <= Z * se, message


# -- the mixer and the key ---------------------------------------------------------------------


def test_mix64_is_the_splitmix64_finaliser():
    """SplitMix64 seeded with 0 outputs mix64(k * golden) for k = 1, 2, 3 (published values)."""
    golden = 0x9E3779B97F4A7C15
    expected = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    got = [int(mix64(np.uint64(k * golden % 2**64))) for k in (1, 2, 3)]
    assert got == expected


def test_run_keys_are_distinct():
    """No two (seed, replication) pairs in a grid share a key (a shared key = identical runs)."""
    keys = {int(run_key(seed, rep)) for seed in range(50) for rep in range(50)}
    assert len(keys) == 2500


# -- uniforms ------------------------------------------------------------------------------------


@pytest.mark.parametrize("along", [ALONG_CUSTOMER, ALONG_STEP, ALONG_SLOT])
def test_uniform_mean_variance_and_histogram(along):
    """Mean 1/2, variance 1/12, flat 100-bin histogram, along each coordinate."""
    u = _uniforms(KEY, 3, 1, 0, 0, along, N_DRAWS)
    assert u.min() > 0.0 and u.max() < 1.0  # the open interval: safe for log(u)
    # SE of the mean: sd/sqrt(n) with sd^2 = 1/12.
    _assert_close(u.mean(), 0.5, math.sqrt(1 / 12 / N_DRAWS), "mean")
    # SE of the (known-mean) variance: sqrt(Var[(U - 1/2)^2] / n), Var = 1/80 - 1/144 = 1/180.
    _assert_close(((u - 0.5) ** 2).mean(), 1 / 12, math.sqrt(1 / 180 / N_DRAWS), "variance")
    counts = np.bincount((u * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > P_MIN


@pytest.mark.parametrize("along", [ALONG_CUSTOMER, ALONG_STEP, ALONG_SLOT])
def test_uniform_neighbours_are_independent(along):
    """Consecutive draws along a coordinate: no lag-1 correlation, flat joint histogram."""
    u = _uniforms(KEY, 3, 1, 0, 0, along, N_DRAWS)
    # SE of a sample correlation of independent variables: 1/sqrt(n).
    _assert_close(np.corrcoef(u[:-1], u[1:])[0, 1], 0.0, 1 / math.sqrt(N_DRAWS), "lag-1 corr")
    # 10x10 joint histogram of (u_j, u_j+1) on disjoint pairs: 5000 per cell.
    cells = (u[0::2] * 10).astype(int) * 10 + (u[1::2] * 10).astype(int)
    assert stats.chisquare(np.bincount(cells, minlength=100)).pvalue > P_MIN


@pytest.mark.parametrize("other", [
    pytest.param((7, 3, 4), id="next-stream"),
    pytest.param((7, 4, 3), id="next-replication"),
    pytest.param((8, 3, 3), id="next-seed"),
])
def test_streams_replications_and_seeds_are_independent(other):
    """The same coordinates under another stream, replication or seed are uncorrelated."""
    seed, replication, stream = other
    u = _uniforms(KEY, 3, 1, 0, 0, ALONG_CUSTOMER, N_DRAWS)
    v = _uniforms(np.uint64(run_key(seed, replication)), stream, 1, 0, 0, ALONG_CUSTOMER, N_DRAWS)
    _assert_close(np.corrcoef(u, v)[0, 1], 0.0, 1 / math.sqrt(N_DRAWS), "correlation")
    cells = (u * 10).astype(int) * 10 + (v * 10).astype(int)
    assert stats.chisquare(np.bincount(cells, minlength=100)).pvalue > P_MIN


def test_a_key_passed_as_a_python_int_gives_the_same_draws():
    """``run_key`` called from Python returns an int; a kernel given it must draw the same."""
    as_int = int(KEY)
    assert np.array_equal(_uniforms(as_int, 3, 1, 0, 0, ALONG_CUSTOMER, 1000),
                          _uniforms(KEY, 3, 1, 0, 0, ALONG_CUSTOMER, 1000))


def test_draws_are_pure_functions_of_their_coordinates():
    """Same coordinates, same draw, whatever was drawn before or in which order."""
    forward = _uniforms(KEY, 3, 5, 100, 2, ALONG_CUSTOMER, 1000)
    backward = np.array([uniform(KEY, 3, 5, 100 + j, 2) for j in range(999, -1, -1)])[::-1]
    assert np.array_equal(forward, backward)
    a = _draws(GAMMA, 0.7, 2.0, KEY, 1, 0, 3, 1000)
    b = _draws(GAMMA, 0.7, 2.0, KEY, 1, 0, 3, 1000)
    assert np.array_equal(a, b)


# -- distribution families -----------------------------------------------------------------------

FAMILIES = [
    pytest.param(NORMAL, 1.5, 2.0, stats.norm(loc=1.5, scale=2.0), id="normal"),
    pytest.param(LOGNORMAL, 0.2, 0.5, stats.lognorm(s=0.5, scale=math.exp(0.2)), id="lognormal"),
    pytest.param(GAMMA, 0.4, 2.0, stats.gamma(a=0.4, scale=2.0), id="gamma-shape<1"),
    pytest.param(GAMMA, 3.0, 0.5, stats.gamma(a=3.0, scale=0.5), id="gamma-shape>1"),
    pytest.param(BETA, 0.8, 2.5, stats.beta(0.8, 2.5), id="beta-a<1"),
    pytest.param(BETA, 2.0, 5.0, stats.beta(2.0, 5.0), id="beta-a>1"),
    pytest.param(UNIFORM, -1.0, 3.0, stats.uniform(loc=-1.0, scale=4.0), id="uniform"),
]


@pytest.mark.parametrize(("code", "p1", "p2", "law"), FAMILIES)
def test_family_draws_have_the_law_of_their_family(code, p1, p2, law):
    """Mean and variance within 5 SE of the family's, and a Kolmogorov–Smirnov test against it."""
    x = _draws(code, p1, p2, KEY, 1, 0, 2, N_FAMILY)
    mean, var, excess_kurtosis = (float(m) for m in law.stats(moments="mvk"))
    _assert_close(x.mean(), mean, math.sqrt(var / N_FAMILY), "mean")
    # SE of the sample variance: sqrt((mu4 - sigma^4) / n), mu4 = sigma^4 (excess kurtosis + 3).
    _assert_close(x.var(), var, var * math.sqrt((excess_kurtosis + 2) / N_FAMILY), "variance")
    assert stats.kstest(x, law.cdf).pvalue > P_MIN


def test_family_draws_of_different_slots_are_independent():
    """Two factors of one customer (slots 1 and 2, as traits are drawn) are uncorrelated."""
    x = _draws(GAMMA, 2.0, 1.0, KEY, 1, 0, 1, N_FAMILY)
    y = _draws(BETA, 2.0, 3.0, KEY, 1, 0, 2, N_FAMILY)
    _assert_close(np.corrcoef(x, y)[0, 1], 0.0, 1 / math.sqrt(N_FAMILY), "correlation")


def test_gumbel_moments():
    """Standard Gumbel: mean Euler's gamma, variance pi^2/6 (excess kurtosis 12/5)."""
    g = _gumbels(KEY, 10, N_FAMILY)
    var = math.pi ** 2 / 6
    _assert_close(g.mean(), np.euler_gamma, math.sqrt(var / N_FAMILY), "mean")
    _assert_close(g.var(), var, var * math.sqrt((2.4 + 2) / N_FAMILY), "variance")
    assert stats.kstest(g, stats.gumbel_r.cdf).pvalue > P_MIN


@pytest.mark.parametrize("lam", [0.3, 4.0])
def test_poisson_counts(lam):
    """Poisson(lam): mean and variance lam, and the probabilities of the first counts."""
    k = _poissons(KEY, 11, lam, N_FAMILY)
    _assert_close(k.mean(), lam, math.sqrt(lam / N_FAMILY), "mean")
    # Poisson excess kurtosis 1/lam: SE of the variance lam sqrt((1/lam + 2)/n).
    _assert_close(k.var(), lam, lam * math.sqrt((1 / lam + 2) / N_FAMILY), "variance")
    top = int(stats.poisson(lam).ppf(1 - 1e-3))
    counts = np.bincount(np.minimum(k.astype(int), top + 1), minlength=top + 2)
    expected = np.append(stats.poisson(lam).pmf(np.arange(top + 1)),
                         stats.poisson(lam).sf(top)) * N_FAMILY
    assert stats.chisquare(counts, expected).pvalue > P_MIN


# -- slots of the engine's draws -----------------------------------------------------------------


def test_a_needs_basket_does_not_depend_on_having_the_need(market, need, offering, firm):
    """Prevalence and basket of a need are drawn in one stream: they must not share a uniform.

    Beta(2, 0.5) spend (mean 0.8, sd 0.214) on a need half the customers have: among the ~20 000
    who buy, the mean spend has SE 0.0015 and must be within 5 SE of 0.8. (With the prevalence
    uniform reused as the beta's second gamma's shape < 1 boost, it was 0.920.)
    """
    a, b = 2.0, 0.5
    cfg = market(40_000, 1, {"x": need(prevalence=0.5, basket=DistSpec(dist="beta", a=a, b=b))},
                 {"f": firm({"x": offering(quality=HUGE_QUALITY)}, initial_awareness=1.0)})
    history = EcosystemModel(cfg).run()
    buyers = history.purchases[1, 0, 0]
    assert abs(buyers - 20_000) <= Z * math.sqrt(40_000 * 0.25)
    mean, var = (float(m) for m in stats.beta(a, b).stats(moments="mv"))
    _assert_close(history.revenue[1, 0, 0] / buyers, mean, math.sqrt(var / buyers), "mean spend")


def test_normal_quantile_is_the_normal_inverse_cdf() -> None:
    """Acklam's approximation: relative error below 1.2e-9 against scipy over (0, 1)."""
    from scipy import stats

    from ecosim.kernels.rng import normal_quantile

    u = np.concatenate([np.geomspace(1e-15, 0.02425, 200), np.linspace(0.02425, 0.97575, 400),
                        1.0 - np.geomspace(0.02425, 1e-15, 200)])
    got = np.array([normal_quantile(x) for x in u])
    exact = stats.norm.ppf(u)
    assert np.allclose(got, exact, rtol=1.2e-9, atol=1e-12)


@njit(cache=True)
def _keyed_against_full(key, n):
    """Per draw, (full hash, keyed hash), (full uniform, keyed), (full normal, keyed)."""
    bits = np.empty((n, 2), np.uint64)
    values = np.empty((n, 4))
    for j in range(n):
        stream, step, customer, slot = 1 + j % 20, j % 37, 1000 + 7 * j, (j * 131) % 4096
        ck = customer_key(stream_key(key, stream, step), customer)
        bits[j, 0] = hash_draw(key, stream, step, customer, slot)
        bits[j, 1] = bits_at(ck, slot)
        values[j, 0] = uniform(key, stream, step, customer, slot)
        values[j, 1] = uniform_at(ck, slot)
        values[j, 2] = normal(key, stream, step, customer, slot)
        values[j, 3] = normal_at(normal_key(key, stream, step, customer), slot)
    return bits, values


def test_a_customers_key_gives_the_same_draws_as_the_full_hash() -> None:
    """The kernels draw from a customer's key of a stream (one round of the mixer a draw): the
    bits, uniforms and normals must be those of the four-round hash, exactly."""
    bits, values = _keyed_against_full(KEY, 10_000)
    assert np.array_equal(bits[:, 0], bits[:, 1])
    assert np.array_equal(values[:, 0], values[:, 1])
    assert np.array_equal(values[:, 2], values[:, 3])


def test_needs_arise_in_the_order_of_their_priorities():
    """``_need_order``: a stable sort of the needs by their random priority (ties, forced here by
    repeating a need id, in index order), whatever the number of needs; ordering a subset of
    the needs gives the order of all of them with the others left out; and every order of
    eight needs is about equally likely (the priorities are uniform hashes)."""
    from ecosim.kernels.rng import bits_at
    from ecosim.kernels.step import _need_order

    subsets = np.random.default_rng(3)
    for n in (1, 2, 5, 8, 13):
        ids = np.arange(7, 7 + n, dtype=np.int64)
        ids[n // 2:] = ids[0] if n > 2 else ids[n // 2:]  # ties from the middle on
        every = np.arange(n, dtype=np.int64)
        for key in range(200):
            order, priority = np.zeros(n, np.int64), np.zeros(n, np.uint64)
            _need_order(np.uint64(key), ids, every, n, order, priority)
            expected = np.argsort([bits_at(np.uint64(key), int(i)) for i in ids], kind="stable")
            assert order.tolist() == expected.tolist(), (n, key)
            active = np.flatnonzero(subsets.random(n) < 0.6).astype(np.int64)
            m = active.size
            active = np.concatenate([active, np.full(n - m, -1, np.int64)])  # the rest unread
            _need_order(np.uint64(key), ids, active, m, order, priority)
            assert order[:m].tolist() == [k for k in expected if k in active[:m]], (n, key)
    firsts = np.zeros(8)
    ids = np.arange(8, dtype=np.int64)
    order, priority = np.zeros(8, np.int64), np.zeros(8, np.uint64)
    for key in range(8000):
        _need_order(np.uint64(key * 7919 + 1), ids, ids, 8, order, priority)
        firsts[order[0]] += 1
    assert stats.chisquare(firsts).pvalue > 1e-3, firsts
