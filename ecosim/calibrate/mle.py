"""Maximum likelihood over positive parameters: optimiser, standard errors, the fit's record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

#: Fewest events (customers who bought again, for BG/NBD; customers who churned, for sBG) per
#: parameter for a fit to be attempted at all. The usual events-per-variable rule of thumb
#: (Peduzzi et al. 1996): below it maximum-likelihood estimates are strongly biased and their
#: standard errors mean nothing. Ten BG/NBD customers give ``a = 1.7e3`` for a true 0.7.
EVENTS_PER_PARAMETER = 10
#: Largest relative standard error (``se / estimate``) of a parameter the data pin down. Above
#: it the 95 % interval runs from about zero to twice the estimate: the fit is reported with a
#: warning that the sample is too small for that parameter to mean anything.
MAX_RELATIVE_SE = 0.5


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
        converged: whether the optimiser reported success at a proper maximum (a positive
            definite Hessian: every standard error finite).
        lifecycle: the ``customers.lifecycle`` block of an ecosim config for these estimates.
        message: why the fit did not converge (empty when it did).
        horizon: the longest age or observation time in the data (periods), for projections.
    """

    model: str
    params: dict[str, float]
    se: dict[str, float]
    loglik: float
    n: int
    converged: bool
    lifecycle: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    horizon: float = 0.0

    def weak(self) -> list[str]:
        """The parameters the data do not pin down (relative SE above ``MAX_RELATIVE_SE``)."""
        return [name for name, value in self.params.items()
                if not self.se[name] <= MAX_RELATIVE_SE * abs(value)]


def require_events(events: int, parameters: int, what: str) -> None:
    """Refuse a fit with fewer than ``EVENTS_PER_PARAMETER`` events per parameter.

    Raises:
        ValueError: naming the count, what was counted and the minimum.
    """
    needed = EVENTS_PER_PARAMETER * parameters
    if events < needed:
        raise ValueError(f"only {events} {what}: too few to fit {parameters} parameters "
                         f"(at least {needed} needed, {EVENTS_PER_PARAMETER} per parameter)")


def maximise(loglik: Callable[[np.ndarray], float], start: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, float, bool, str]:
    """Maximise ``loglik(theta)`` over positive ``theta``, searching in ``log theta``.

    Returns:
        ``(theta, se, loglik, converged, message)``: ``converged`` is false, with the reason in
        ``message``, when the optimiser failed or the point it stopped at is no proper maximum
        (the Hessian is not positive definite: some direction is flat or goes uphill).
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
    positive_definite = bool(np.all(np.isfinite(hessian))
                             and np.all(np.linalg.eigvalsh(hessian) > 0)
                             and np.all(np.isfinite(se)))
    message = ""
    if not best.success:
        message = f"the optimiser stopped: {best.message}"
    elif not positive_definite:
        message = "no proper maximum: the log-likelihood is flat or rising in some direction"
    return theta, se, -float(best.fun), not message, message


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
