"""Maximum likelihood over positive parameters: optimiser, standard errors, the fit's record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize


@dataclass
class Fit:
    """A fitted model.

    Attributes:
        model: ``sbg`` or ``bgnbd``.
        params: the estimates by name.
        se: their standard errors (delta method from the Hessian in log-parameters; NaN if the
            Hessian is not positive definite).
        loglik: the maximised log-likelihood.
        n: customers (or cohort members) in the data.
        converged: whether the optimiser reported success.
        lifecycle: the ``customers.lifecycle`` block of an ecosim config for these estimates.
    """

    model: str
    params: dict[str, float]
    se: dict[str, float]
    loglik: float
    n: int
    converged: bool
    lifecycle: dict[str, Any] = field(default_factory=dict)


def maximise(loglik: Callable[[np.ndarray], float], start: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, float, bool]:
    """Maximise ``loglik(theta)`` over positive ``theta``, searching in ``log theta``.

    Returns:
        ``(theta, se, loglik, converged)``.
    """
    def negative(log_theta: np.ndarray) -> float:
        value = loglik(np.exp(log_theta))
        return -value if np.isfinite(value) else 1e300

    log_start = np.log(np.asarray(start, float))
    best = optimize.minimize(negative, log_start, method="L-BFGS-B")
    if not best.success:  # a rough surface: a simplex search, then polish
        simplex = optimize.minimize(negative, best.x, method="Nelder-Mead",
                                    options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 4000})
        polished = optimize.minimize(negative, simplex.x, method="L-BFGS-B")
        best = min((best, simplex, polished), key=lambda result: result.fun)
    log_theta = best.x
    hessian = _hessian(negative, log_theta)
    theta = np.exp(log_theta)
    try:
        cov_log = np.linalg.inv(hessian)
        diagonal = np.diag(cov_log)
        se = np.where(diagonal > 0, theta * np.sqrt(np.abs(diagonal)), np.nan)
    except np.linalg.LinAlgError:
        se = np.full_like(theta, np.nan)
    return theta, se, -float(best.fun), bool(best.success)


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``x``."""
    k = x.size
    hessian = np.empty((k, k))
    eye = np.eye(k) * step
    for i in range(k):
        for j in range(i, k):
            value = (f(x + eye[i] + eye[j]) - f(x + eye[i] - eye[j])
                     - f(x - eye[i] + eye[j]) + f(x - eye[i] - eye[j])) / (4 * step * step)
            hessian[i, j] = hessian[j, i] = value
    return hessian
