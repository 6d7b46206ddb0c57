"""Lifecycle: how relationships end exogenously (docs/model.md, "Lifecycle").

``contractual``: every relationship ends with the customer's per-step hazard ``theta_i`` (fixed:
geometric survival ``(1 - theta)^t``; Beta across customers: the shifted-beta-geometric model).

``noncontractual`` (BG/NBD, Fader, Hardie & Lee 2005): purchases of a need arrive as a Poisson
process with the customer's rate ``lambda_i`` per step; after each *repeat* purchase the customer
drops out of that need for good with probability ``p_i``. The trial purchase of a customer who
holds a provider at step 0 was made at t = 0, so dropout follows every purchase of the run; a
customer without one makes the trial at their first purchase of the need (the process is the
customer's for the need, whoever provides it). Purchase times inside a step are the
order statistics of uniforms, so the transaction log is an exact continuous-time BG/NBD sample.

Notes:
    Scalar helpers, jitted and inlined into the customer step kernel (by Numba's IR inlining,
    or by LLVM for those compiled as ordinary jitted functions).
"""

from __future__ import annotations

from numba import njit

from ecosim.kernels.rng import STREAM_LIFECYCLE, STREAM_PURCHASES, poisson, uniform, uniform_at

CONTRACTUAL, NONCONTRACTUAL = 0, 1
#: Upper bound on purchases of one need in one step (noncontractual); reaching it is reported.
MAX_PURCHASES = 32


@njit(inline="always", cache=True)
def _relationship_ends(lifecycle_key, need, hazard):
    """Whether a contractual relationship ends this step (probability ``hazard``).

    ``lifecycle_key``: the customer's key of ``STREAM_LIFECYCLE`` at the step
    (``rng.customer_key``). ``need`` is the need's stable id; slots ``need * 64 + 63`` never
    meet ``_drops_out``'s.
    """
    return uniform_at(lifecycle_key, need * 64 + 63) < hazard


@njit(inline="always", cache=True)
def _purchase_count(key, step, customer, need, rate):
    """Number of purchases of a need in one step: Poisson(``rate``), capped at MAX_PURCHASES."""
    return min(poisson(key, STREAM_PURCHASES, step, customer, need * 64 + 63, rate),
               MAX_PURCHASES)


@njit(inline="always", cache=True)
def _next_purchase_time(key, step, customer, need, j, n, previous):
    """Time in [0, 1) within the step of the j-th of n purchases, given the (j-1)-th at previous.

    Sequential generation of sorted uniforms: ``U(j) = U(j-1) + (1 - U(j-1)) (1 - V^(1/(n-j)))``.
    """
    v = uniform(key, STREAM_PURCHASES, step, customer, (need + 1) * 64 + j)
    return previous + (1.0 - previous) * (1.0 - v ** (1.0 / (n - j)))


@njit(inline="always", cache=True)
def _drops_out(key, step, customer, need, j, dropout):
    """Whether the customer leaves a need for good after a repeat purchase (``dropout``)."""
    return uniform(key, STREAM_LIFECYCLE, step, customer, (need + 1) * 64 + j) < dropout
