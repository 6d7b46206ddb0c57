"""Counter-based random numbers: every draw is a pure function of its coordinates.

A draw is keyed by ``(seed, replication, stream, step, customer, slot)`` where ``slot`` folds the
need, the firm and a draw counter. Nothing is sequential, so a draw is identical whatever the
thread count or the order customers are visited in, and two arms of an experiment that share
``(seed, replication)`` see the same customers and shocks (common random numbers, see
docs/design.md, "Randomness").

The mixer is SplitMix64's finaliser (Steele, Lea & Flood 2014), applied once per coordinate. We
have not run TestU01 on it; what the repository checks (tests/test_rng.py) is uniformity and
independence of the draws across each coordinate (chi-square and correlation tests) and the moments
of every distribution family built on it.

Notes:
    All functions are scalar functions for use inside other kernels, each compiled for the one
    signature its annotations state (``jit.scalar``): a constant argument does not make a new
    specialisation, and LLVM inlines them into their callers.
    ``hash_draw`` is four rounds of the mixer: the stream, the step, the customer and the slot.
    A kernel that draws many values of one customer computes the first three once
    (``stream_key``, ``customer_key``) and pays one round per draw (``bits_at``, ``uniform_at``,
    ``normal_at``): the same bits.
"""

from __future__ import annotations

import numpy as np
from numba import uint64

from ecosim.kernels.jit import scalar

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53

# Streams: one per kind of randomness, so adding a draw of one kind never shifts another.
STREAM_TRAITS = 1
STREAM_SOCIODEMO = 2
STREAM_NEED = 3  # prevalence and basket of a customer's need (fixed per customer)
STREAM_INITIAL = 4
STREAM_NETWORK = 5
STREAM_AWARENESS = 6
STREAM_LIFECYCLE = 7
STREAM_OCCURRENCE = 8
STREAM_OPEN = 9
STREAM_CHOICE = 10
STREAM_PURCHASES = 11
STREAM_POLICY = 12
STREAM_TASTE = 13  # persistent match of (customer, need, firm): drawn at step 0, never again
STREAM_CONTACT = 14  # shocks of a cross-sell contact's binary choice
STREAM_CONTEXT = 15  # whether a contextual offer fires
STREAM_ORDER = 16  # the order in which a customer's needs arise within a step
STREAM_PREVALENCE = 17  # whether a customer has a need
STREAM_ATTENTION = 18  # whether a contacted customer considers the offer
STREAM_SATISFACTION = 19  # the experience of a purchase (its noise)
STREAM_RISK = 20  # a customer's true relative risk, and each lender's estimation noise
_NORMAL_SPACE = 1 << 20  # normals draw their uniforms from stream + this, never shared


@scalar
def mix64(z: uint64) -> uint64:
    """SplitMix64 finaliser: a bijective avalanche mix of a 64-bit word."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@scalar
def run_key(seed: int, replication: int) -> uint64:
    """The key of one replication of one seed; every draw of that replication starts from it."""
    return mix64(mix64(np.uint64(seed) * _GOLDEN + _GOLDEN) + np.uint64(replication) * _GOLDEN)


@scalar
def stream_key(key: uint64, stream: int, step: int) -> uint64:
    """The key of one stream at one step: the first two rounds of ``hash_draw``.

    ``key`` is cast to uint64: a key that reaches a kernel as a (signed) Python int would
    otherwise be mixed in signed arithmetic and give non-uniform bits.
    """
    h = mix64(np.uint64(key) ^ (np.uint64(stream) * _GOLDEN))
    return mix64(h ^ (np.uint64(step) * _M1))


@scalar
def customer_key(stream_key: uint64, customer: int) -> uint64:
    """The key of one customer's draws in a stream at a step (``stream_key``): round three."""
    return mix64(stream_key ^ np.uint64(customer))


@scalar
def bits_at(customer_key: uint64, slot: int) -> uint64:
    """``hash_draw``'s 64 bits from a customer's key (``customer_key``): the last round.

    A kernel that makes many draws of one customer in one stream computes the customer's key
    once and then pays one round per draw instead of four; the bits are the same.
    """
    return mix64(customer_key ^ (np.uint64(slot) * _M2))


@scalar
def hash_draw(key: uint64, stream: int, step: int, customer: int, slot: int) -> uint64:
    """64 random bits for one coordinate tuple (four rounds of ``mix64``)."""
    return bits_at(customer_key(stream_key(key, stream, step), customer), slot)


@scalar
def uniform(key: uint64, stream: int, step: int, customer: int, slot: int) -> float:
    """A uniform draw in the open interval (0, 1)."""
    bits = hash_draw(key, stream, step, customer, slot) >> _S11
    return (np.float64(bits) + 0.5) * _TWO_M53


@scalar
def uniform_of(bits: uint64) -> float:
    """The uniform in (0, 1) that ``uniform`` makes of a hash (``hash_draw``'s 64 bits)."""
    return (np.float64(bits >> _S11) + 0.5) * _TWO_M53


@scalar
def gumbel_of(bits: uint64) -> float:
    """The standard Gumbel draw of a hash: ``gumbel`` from bits already computed."""
    return -np.log(-np.log(uniform_of(bits)))


@scalar
def gumbel(key: uint64, stream: int, step: int, customer: int, slot: int) -> float:
    """A standard Gumbel draw (the noise of a logit choice)."""
    return -np.log(-np.log(uniform(key, stream, step, customer, slot)))


@scalar
def uniform_at(customer_key: uint64, slot: int) -> float:
    """``uniform`` from a customer's key in the stream (``customer_key``): the same draw."""
    return uniform_of(bits_at(customer_key, slot))


@scalar
def normal_stream_key(key: uint64, stream: int, step: int) -> uint64:
    """The stream key (``stream_key``) of the uniforms behind ``normal`` draws of a stream."""
    return stream_key(key, stream + _NORMAL_SPACE, step)


@scalar
def normal_key(key: uint64, stream: int, step: int, customer: int) -> uint64:
    """The customer key (``customer_key``) of the uniforms behind ``normal`` draws of a stream."""
    return customer_key(normal_stream_key(key, stream, step), customer)


@scalar
def normal_at(normal_key: uint64, slot: int) -> float:
    """``normal`` from the customer's ``normal_key``: Box–Muller on its two uniforms."""
    u1 = uniform_at(normal_key, 2 * slot)
    u2 = uniform_at(normal_key, 2 * slot + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@scalar
def normal(key: uint64, stream: int, step: int, customer: int, slot: int) -> float:
    """A standard normal draw (Box–Muller on two uniforms of a stream space of its own)."""
    return normal_at(normal_key(key, stream, step, customer), slot)


@scalar
def poisson(key: uint64, stream: int, step: int, customer: int, slot: int, lam: float) -> int:
    """A Poisson(``lam``) count by inversion (``lam`` per step is small in practice)."""
    u = uniform(key, stream, step, customer, slot)
    p = np.exp(-lam)
    cdf = p
    k = 0
    while u > cdf and k < 10_000:
        k += 1
        p *= lam / k
        cdf += p
    return k


# Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
_A0, _A1, _A2 = -3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02
_A3, _A4, _A5 = 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00
_B0, _B1, _B2 = -5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02
_B3, _B4 = 6.680131188771972e01, -1.328068155288572e01
_C0, _C1, _C2 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00
_C3, _C4, _C5 = -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00
_D0, _D1, _D2, _D3 = 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, \
    3.754408661907416e00
_P_LOW = 0.02425


@scalar
def normal_quantile(u: float) -> float:
    """The standard normal quantile of ``u`` in (0, 1) (Acklam's approximation, rel. err. 1e-9).

    One uniform and, for 95 % of draws, no transcendental function: cheaper than Box–Muller
    (``normal``) where a kernel draws a normal on every purchase.
    """
    if u < _P_LOW:
        q = np.sqrt(-2.0 * np.log(u))
        return ((((((_C0 * q + _C1) * q + _C2) * q + _C3) * q + _C4) * q + _C5)
                / ((((_D0 * q + _D1) * q + _D2) * q + _D3) * q + 1.0))
    if u > 1.0 - _P_LOW:
        q = np.sqrt(-2.0 * np.log(1.0 - u))
        return -((((((_C0 * q + _C1) * q + _C2) * q + _C3) * q + _C4) * q + _C5)
                 / ((((_D0 * q + _D1) * q + _D2) * q + _D3) * q + 1.0))
    q = u - 0.5
    r = q * q
    return ((((((_A0 * r + _A1) * r + _A2) * r + _A3) * r + _A4) * r + _A5) * q
            / (((((_B0 * r + _B1) * r + _B2) * r + _B3) * r + _B4) * r + 1.0))


@scalar
def quantile_normal(key: uint64, stream: int, step: int, customer: int, slot: int) -> float:
    """A standard normal draw from one uniform by its quantile (``normal_quantile``)."""
    return normal_quantile(uniform(key, stream, step, customer, slot))
