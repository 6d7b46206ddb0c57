"""Exogenous churn (docs/design.md §2.5, §7): geometric and shifted-beta-geometric survival,
BG/NBD.

Setting: one need arising every step, one firm, openness 0: customers with a provider are on
autopilot (no choice, so no voluntary churn), and the lifecycle alone ends relationships.
Contractual survival is read from the cohort table:
``History.cohort_alive[t, f, c]`` customers of cohort c still unbroken at step t.

Tolerances: the survivors of a cohort of n customers at age t are binomial (customers churn
independently given their hazards), SE ``sqrt(S (1 - S) / n)``, 5 SE allowed. BG/NBD parameters
are maximum-likelihood estimates, allowed 5 asymptotic standard errors from the observed
information (the inverse Hessian of the log-likelihood at the estimate).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from conftest import HUGE_QUALITY
from scipy import optimize, special, stats

from ecosim.calibrate.bgnbd import loglik_per_customer as bgnbd_log_likelihood
from ecosim.config import DistSpec, LifecycleConfig
from ecosim.model import EcosystemModel

Z = 5.0
N = 20_000


def assert_survival(alive: np.ndarray, expected: np.ndarray, n: float) -> None:
    """Survivors by age within 5 binomial SE of ``n * expected``."""
    se = np.sqrt(expected * (1 - expected) / n)
    got = alive / n
    worst = np.max(np.abs(got - expected) / np.maximum(se, 1e-12))
    assert np.all(np.abs(got - expected) <= Z * se + 1e-12), (worst, got, expected)


def test_fixed_hazard_gives_geometric_survival(monopoly, fixed, run_model):
    """Hazard theta for everyone: cohort survival (1 - theta)^t, for cohort 0 and a later one."""
    theta, horizon = 0.08, 24
    cfg = monopoly(N, horizon, lifecycle=LifecycleConfig(kind="contractual",
                                                         hazard=fixed(theta)))
    history = run_model(cfg)
    ages = np.arange(horizon + 1)
    assert history.cohort_alive[0, 0, 0] == N
    assert_survival(history.cohort_alive[:, 0, 0], (1 - theta) ** ages, N)
    # nobody leaves voluntarily and everyone lost at t returns at t + 1 as a new customer
    assert np.array_equal(history.new_customers[2:, 0], history.churned_customers[1:-1, 0])
    assert np.array_equal(history.customers[1:, 0], N - history.churned_customers[1:, 0])
    # cohort 2 (the ~N theta customers lost at step 1, back at step 2): the same law from age 0
    c = 2
    size = history.cohort_alive[c, 0, c]
    assert size == history.churned_customers[1, 0] > 1000
    assert_survival(history.cohort_alive[c:, 0, c], (1 - theta) ** ages[: horizon + 1 - c], size)


def test_beta_hazard_gives_shifted_beta_geometric_survival(monopoly, run_model):
    """theta_i ~ Beta(a, b): cohort-0 survival B(a, b + t) / B(a, b) (Fader & Hardie 2007), for
    a firm of ordinary quality (0: the outside option is as good) with the default persistent
    tastes and shocks: customers on autopilot never choose, so nobody leaves voluntarily."""
    a, b, horizon = 0.668, 3.806, 24  # their "high end" customer base
    cfg = monopoly(N, horizon, quality=0.0, taste_scale=1.0, shock_scale=0.5,
                   lifecycle=LifecycleConfig(kind="contractual",
                                             hazard=DistSpec(dist="beta", a=a, b=b)))
    history = run_model(cfg)
    ages = np.arange(horizon + 1)
    expected = np.exp(special.betaln(a, b + ages) - special.betaln(a, b))
    assert_survival(history.cohort_alive[:, 0, 0], expected, N)
    # heterogeneity matters: the geometric law with the mean hazard is far off at the horizon
    geometric = (1 - a / (a + b)) ** horizon
    assert history.cohort_alive[-1, 0, 0] / N > 2 * geometric


# -- BG/NBD ------------------------------------------------------------------------------------


def log_likelihood_from_time_zero(log_params, t0, x, t_x, horizon, never):
    """Log-likelihood of every customer's purchases on [0, horizon], in the BG/NBD.

    The BG/NBD (eq. 6) describes a customer from their first purchase; here every customer is
    observed from time 0, so the first purchase time ``t0`` carries information on the purchase
    rate: given it, lambda ~ Gamma(r + 1, alpha + t0), and t0 itself has the Lomax density
    ``r alpha^r / (alpha + t0)^(r + 1)`` (no dropout before the first repeat purchase). Fitting eq.
    6 with (r, alpha) to customers selected by having bought would overstate r. The exact
    likelihood is therefore Lomax(t0) x BG/NBD(r + 1, alpha + t0, a, b), and ``never`` customers
    who did not buy at all contribute P(no purchase in [0, horizon]) = (alpha/(alpha+horizon))^r.
    The BG/NBD term is ecosim.calibrate's (checked against the model's definition, by numerical
    integration, in test_calibrate).
    """
    r, alpha, a, b = np.exp(log_params)
    lomax = np.log(r) + r * np.log(alpha) - (r + 1) * np.log(alpha + t0)
    repeat = bgnbd_log_likelihood(r + 1, alpha + t0, a, b, x, t_x, horizon - t0)
    return lomax.sum() + repeat.sum() + never * r * (np.log(alpha) - np.log(alpha + horizon))


def numerical_hessian(f, point, step=1e-3):
    """Central-difference Hessian of a scalar function."""
    n = point.size
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * step, np.eye(n)[j] * step
            hessian[i, j] = (f(point + ei + ej) - f(point + ei - ej) - f(point - ei + ej)
                             + f(point - ei - ej)) / (4 * step * step)
    return hessian


def customer_summary(transactions: np.ndarray, horizon: float):
    """(t0, x, t_x, T) per customer who bought: first purchase, repeats, recency, age."""
    customer, time = transactions[:, 0].astype(np.int64), transactions[:, 1]
    order = np.lexsort((time, customer))
    customer, time = customer[order], time[order]
    first = np.r_[True, customer[1:] != customer[:-1]]
    last = np.r_[customer[1:] != customer[:-1], True]
    t0 = time[first]
    x = (np.flatnonzero(last) - np.flatnonzero(first)).astype(float)
    t_x = time[last] - t0
    return t0, x, t_x, horizon - t0


def test_bgnbd_parameters_are_recovered_from_the_transaction_log(monopoly, run_model):
    """Noncontractual lifecycle: a BG/NBD fit of the log recovers (r, alpha, a, b).

    20 000 customers over 52 steps (about 16 500 buy, 4.3 repeat purchases on average) give
    standard errors of 1-5 % on each parameter; the estimates must lie within 5 of them
    (asymptotic normality of the MLE). Runs in about 3 s.
    """
    r, alpha, a, b = 0.6, 3.0, 0.8, 2.5  # mean rate 0.2 per step, mean dropout 0.24
    horizon = 52
    lifecycle = LifecycleConfig(kind="noncontractual",
                                rate=DistSpec(dist="gamma", shape=r, scale=1 / alpha),
                                dropout=DistSpec(dist="beta", a=a, b=b))
    cfg = monopoly(N, horizon, initial_share=0.0, lifecycle=lifecycle, transactions=True)
    history = run_model(cfg)
    log = np.concatenate(history.transactions)
    assert np.all(log[:, 3] == 0)  # every purchase went to the firm (none to the outside)
    t0, x, t_x, T = customer_summary(log, horizon)
    never = N - t0.size

    def negative(log_params):
        return -log_likelihood_from_time_zero(log_params, t0, x, t_x, horizon, never)

    fit = optimize.minimize(negative, np.zeros(4), method="L-BFGS-B")
    assert fit.success, fit.message
    covariance = np.linalg.inv(numerical_hessian(negative, fit.x))
    se = np.sqrt(np.diag(covariance))  # of log-parameters
    truth = np.log([r, alpha, a, b])
    assert np.all(se < 0.1), se  # the sample is large enough for the test to mean something
    assert np.all(np.abs(fit.x - truth) <= Z * se), (np.exp(fit.x), np.exp(truth), se)


def test_purchase_times_within_a_step_are_uniform(market, need, offering, firm, fixed,
                                                  run_model):
    """A Poisson process thinned by independent choices: a firm's purchase times are uniform
    within each step (the log is a continuous-time sample), also when some of a customer's
    purchases in the step go to the outside option."""
    # utility 0 against the outside option's 0: each purchase is a fair coin between them
    cfg = market(4000, 5, {"x": need()},
                 {"coin": firm({"x": offering()}, initial_awareness=1.0)},
                 lifecycle=LifecycleConfig(kind="noncontractual", rate=fixed(3.0),
                                           dropout=fixed(0.0)),
                 transactions=True)
    history = run_model(cfg)
    log = np.concatenate(history.transactions)
    within_step = log[:, 1] - np.floor(log[:, 1])
    # ~30 000 purchases (4000 x 5 x 3 / 2): a shift of the times' mean by 0.01 is ~6 SE
    assert log.shape[0] > 25_000
    assert stats.kstest(within_step, "uniform").pvalue > 1e-6
    assert abs(within_step.mean() - 0.5) <= Z * math.sqrt(1 / 12 / log.shape[0])


def sample_bgnbd(r: float, alpha: float, a: float, b: float, n: int, horizon: float,
                 rng: np.random.Generator) -> pd.DataFrame:
    """An exact BG/NBD sample (Fader, Hardie & Lee 2005): every customer makes the trial purchase
    at t = 0, then purchases at rate lambda ~ Gamma(r, 1/alpha) until they drop out, with
    probability p ~ Beta(a, b) after each repeat purchase; observed on [0, horizon]."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    t = np.zeros(n)
    alive = np.ones(n, bool)
    while alive.any():
        t[alive] += rng.exponential(1.0 / lam[alive])
        alive &= t <= horizon
        x[alive] += 1
        t_x[alive] = t[alive]
        alive &= rng.random(n) >= p
    return pd.DataFrame({"x": x, "t_x": t_x, "T": np.full(n, float(horizon))})


def repeat_histogram(x: np.ndarray, top: int = 7) -> np.ndarray:
    """Share of customers with 0, 1, ..., top - 1 and >= top repeat purchases."""
    return np.bincount(np.minimum(x.astype(np.int64), top), minlength=top + 1) / x.size


def test_bgnbd_round_trip_through_ecosim(monopoly, run_model):
    """Sample BG/NBD data exactly, fit it with ecosim-calibrate's estimator, simulate the fitted
    block in ecosim (everyone holds the firm at step 0: trial at t = 0), refit the transaction log:
    the parameters agree within sampling error (5 SE of the difference of two independent fits)
    and the repeat-purchase histogram within 2 pp per bin (20 000 customers: SE of a bin's
    difference <= 0.5 pp). CDNOW's parameters (weeks, 39 of them): ~60 % never buy again."""
    from ecosim.calibrate.bgnbd import fit_bgnbd, summarise

    horizon, n = 39, N
    data = sample_bgnbd(0.243, 4.414, 0.793, 2.426, n, horizon, np.random.default_rng(7))
    fitted = fit_bgnbd(data)
    assert fitted.converged
    spec = fitted.lifecycle
    lifecycle = LifecycleConfig(kind="noncontractual",
                                rate=DistSpec(dist="gamma", **{k: spec["rate"][k]
                                                               for k in ("shape", "scale")}),
                                dropout=DistSpec(dist="beta", a=spec["dropout"]["a"],
                                                 b=spec["dropout"]["b"]))
    history = run_model(monopoly(n, horizon, quality=0.0, lifecycle=lifecycle,
                                 transactions=True))
    log = np.concatenate(history.transactions)
    frame = pd.DataFrame({"customer": log[:, 0], "time": log[:, 1]})
    simulated = summarise(frame, date="time", end=horizon)
    assert len(simulated) == n  # every customer made the trial at t = 0
    refitted = fit_bgnbd(simulated)
    for name in ("r", "alpha", "a", "b"):
        se = math.hypot(fitted.se[name], refitted.se[name])
        assert abs(refitted.params[name] - fitted.params[name]) <= Z * se, (
            name, fitted.params, refitted.params, se)
    np.testing.assert_allclose(repeat_histogram(simulated["x"].to_numpy()),
                               repeat_histogram(data["x"].to_numpy()), atol=0.02)
    assert 0.5 < (simulated["x"] == 0).mean() < 0.7


def test_hazard_scale_multiplies_the_contractual_hazard(monopoly, fixed, run_model):
    """A need's ``hazard_scale`` multiplies every customer's hazard for that need: with theta
    0.02 and scale 3, cohort-0 survival is (1 - 0.06)^t (5 binomial SE)."""
    horizon = 12
    cfg = monopoly(N, horizon, lifecycle=LifecycleConfig(kind="contractual",
                                                         hazard=fixed(0.02)))
    cfg.needs["x"].hazard_scale = 3.0
    history = run_model(cfg)
    assert_survival(history.cohort_alive[:, 0, 0], 0.94 ** np.arange(horizon + 1), N)


def test_joint_exit_ends_every_relationship_with_the_firm(market, need, offering, firm, fixed,
                                                          segment, run_model):
    """Two needs held with one firm, hazard theta on each, ``joint_exit`` q: a customer leaves the
    firm whole in a step when some end comes with a joint exit, ``q (1 - (1 - theta)^2)``, or both
    end on their own without one, ``(1 - q) theta^2`` (whichever need comes first, an end without
    a joint exit leaves the other to its own hazard). Without joint exits multi-product customers
    almost never leave whole (theta^2). 20 000 customers, one step: binomial, 5 SE."""
    theta, q = 0.05, 0.6
    offers = {k: offering(quality=HUGE_QUALITY) for k in ("x", "y")}
    firms = {"solo": firm(offers, {"x": 1.0, "y": 1.0}, initial_awareness=1.0)}
    for joint in (0.0, q):
        cfg = market(N, 1, {"x": need(), "y": need()}, firms,
                     segments={"all": segment(openness=0.0)},
                     lifecycle=LifecycleConfig(kind="contractual", hazard=fixed(theta),
                                               joint_exit=joint))
        h = run_model(cfg)
        any_end = 1 - (1 - theta) ** 2
        p = joint * any_end + (1 - joint) * theta ** 2
        left = h.churned_customers[1, 0]
        assert abs(left - N * p) <= Z * math.sqrt(N * p * (1 - p)) + 1, (joint, left, N * p)
        assert h.churned_multi[1, 0] == left and h.start_multi[1, 0] == N


def test_joint_exit_leaves_other_firms_alone(market, need, offering, firm, fixed, segment,
                                             run_model):
    """A joint exit ends the relationships the customer had with *that* firm at the start of the
    step: need b, held with another firm (no hazard), stays served, though the left firm is the
    better offer for b and the customer looks around (after the exit the left firm is not
    considered again; a switch to it made earlier in the step stands). The first version dropped
    b whenever it had moved to the left firm: 25 % of customers ended the step with no provider
    for b."""
    n = 5_000
    x = firm({"a": offering(quality=HUGE_QUALITY), "b": offering(quality=HUGE_QUALITY)},
             {"a": 1.0}, initial_awareness=1.0)
    y = firm({"b": offering(quality=HUGE_QUALITY - 1.0, hazard_scale=0.0)}, {"b": 1.0},
             initial_awareness=1.0)
    cfg = market(n, 1, {"a": need(), "b": need()}, {"x": x, "y": y},
                 segments={"all": segment(openness=1.0)},
                 lifecycle=LifecycleConfig(kind="contractual", hazard=fixed(0.5), joint_exit=1.0))
    model = EcosystemModel(cfg)
    model.step()
    provider = model.population.provider
    left_x = provider[:, 0] < 0  # need a ended this step (hazard 0.5)
    assert 0.4 < left_x.mean() < 0.6
    assert np.all(provider[:, 1] >= 0)  # b is still served, by someone, for everyone


def test_a_relationship_the_lifecycle_ends_is_not_cross_sold_back(market, need, offering, firm,
                                                                  fixed, segment, run_model):
    """The firm that loses a relationship to the lifecycle does not win it back through a contact
    in the same step: with every customer contacted, unit churn of the need equals the hazard's
    ends (binomial, 5 SE) and no contact converts at step 1."""
    from ecosim.config.schema import CrossSellConfig

    solo = firm({"a": offering(quality=HUGE_QUALITY), "b": offering(quality=HUGE_QUALITY,
                                                                     hazard_scale=0.0)},
                {"a": 1.0, "b": 1.0}, initial_awareness=1.0)
    solo.cross_sell = CrossSellConfig(contacts_per_step=1.0)
    h = run_model(market(N, 1, {"a": need(), "b": need()}, {"solo": solo},
                         segments={"all": segment(openness=0.0)},
                         lifecycle=LifecycleConfig(kind="contractual", hazard=fixed(0.2))))
    assert h.conversions[1].sum() == 0
    churned = h.unit_churned[1, 0, 0]
    assert abs(churned - 0.2 * N) <= Z * math.sqrt(N * 0.2 * 0.8)
