"""The mechanisms practitioners' claims work through, each against an exact identity or a
closed form: awareness per brand, satisfaction and price tolerance, risk decisions on pooled
data, trending needs and addressable wallets (docs/model.md).

Counts are checked within ``Z`` binomial standard errors (conftest); identities exactly.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import (
    HUGE_QUALITY,
    Z,
    assert_binomial,
    firm,
    fixed,
    market,
    need,
    offering,
    run_to_end,
    segment,
)

from ecosim.config import EventConfig, config_to_dict, load_config
from ecosim.config.errors import ConfigError
from ecosim.metrics.tables import segment_metrics
from ecosim.model import EcosystemModel

N = 20_000




def with_(cfg, **paths):
    """A copy of a validated config with dotted ``customers.*``/``firms.*`` paths changed."""
    tree = config_to_dict(cfg)
    for path, value in paths.items():
        node = tree
        *parents, last = path.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return load_config(tree)


def assert_same_history(a, b):
    """Two runs' histories are bit-identical, array by array."""
    for field in dataclasses.fields(a.history):
        x, y = getattr(a.history, field.name), getattr(b.history, field.name)
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y), field.name


# -- awareness per brand ----------------------------------------------------------------------

def bank_with_unit(unit_brand: str | None, budget: float = 0.0, awareness: str = "brand"):
    """A bank everyone uses for ``pay``, launching ``eats`` (no rival) under ``unit_brand``."""
    bank = firm({"pay": offering(quality=HUGE_QUALITY),
                 "eats": offering(quality=HUGE_QUALITY, brand=unit_brand)}, {"pay": 1.0})
    if budget:
        bank.marketing.brand_budgets = {unit_brand: budget}
    return market(N, 1, {"pay": need(), "eats": need()}, {"bank": bank},
                  segments={"all": segment(openness=0.0)}, awareness=awareness)


def test_a_unit_under_a_known_brand_is_known_and_a_separate_brand_is_not():
    umbrella = run_to_end(bank_with_unit(None)).history
    separate = run_to_end(bank_with_unit("bank_eats")).history
    assert umbrella.unit_customers[1, 0, 1] == N  # every bank customer finds the unit
    assert separate.unit_customers[1, 0, 1] == 0  # nobody knows bank_eats
    firm_mode = run_to_end(bank_with_unit("bank_eats", awareness="firm")).history
    assert firm_mode.unit_customers[1, 0, 1] == N  # awareness by firm ignores the brand


def test_a_separate_brand_is_known_through_its_own_advertising():
    budget, n = 3_000.0, N
    model = run_to_end(bank_with_unit("bank_eats", budget=budget))
    reach = 1.0 - math.exp(-budget / (n * 1.0))
    assert_binomial(model.history.unit_customers[1, 0, 1], n, reach, "bank_eats reach")
    # its advertising is the firm's marketing spend (it pays for the unit's acquisition)
    assert model.history.marketing_spend[1, 0] == budget


def three_firm_market(awareness: str, network: str = "watts_strogatz"):
    firms = {name: firm({"x": offering(quality=q)}, {"x": 0.3} if name == "a" else None,
                        initial_awareness=0.2, budget=b, word_of_mouth=0.3)
             for name, q, b in (("a", 0.5, 2000.0), ("b", 0.0, 5000.0), ("c", 1.0, 0.0))}
    firms["b"].referral.rate = 0.05
    firms["b"].referral.incentive = 0.5
    from ecosim.config.schema import NetworkConfig
    return market(5_000, 6, {"x": need()}, firms, awareness=awareness,
                  segments={"all": segment(openness=0.3)},
                  network=NetworkConfig(kind=network, degree=6, rewire=0.1))


@pytest.mark.parametrize("network", ["watts_strogatz", "none"])
def test_with_one_brand_per_firm_awareness_by_brand_is_awareness_by_firm(network):
    assert_same_history(run_to_end(three_firm_market("brand", network)),
                        run_to_end(three_firm_market("firm", network)))


def test_a_separate_brand_spreads_by_word_of_mouth_among_its_users_neighbours():
    # the bank's unit as bank_eats, known at first only to its 30 % initial users (a customer
    # knows the brands they use): word of mouth alone (q = 1, social influence 1) teaches it at
    # step 1 with probability = the share of neighbours using it (Watts-Strogatz, degree 6), and
    # a customer who learns of it buys it (no rival, huge quality)
    from ecosim.config.schema import NetworkConfig
    bank = firm({"pay": offering(quality=HUGE_QUALITY),
                 "eats": offering(quality=HUGE_QUALITY, brand="bank_eats")},
                {"pay": 1.0, "eats": 0.3}, word_of_mouth=1.0)
    cfg = market(N, 1, {"pay": need(), "eats": need()}, {"bank": bank},
                 segments={"all": segment(openness=0.0)},
                 network=NetworkConfig(kind="watts_strogatz", degree=6, rewire=0.1))
    model = EcosystemModel(cfg)
    users = model.population.provider[:, 1] == 0
    indptr, indices = model.population.indptr, model.population.indices
    share = np.array([users[indices[indptr[i]:indptr[i + 1]]].mean() for i in range(N)])
    model.step()
    adopters = (model.population.provider[:, 1] == 0) & ~users
    expected = share[~users].sum()
    assert abs(adopters.sum() - expected) <= Z * math.sqrt((share * (1 - share))[~users].sum())


# -- satisfaction -----------------------------------------------------------------------------

def price_rise_market(experience: float, memory: float, rise_step: int, price: float,
                      quality: float = 1.0, **satisfaction):
    """Everyone with firm ``a`` (experience ``experience``), openness 0, price alert 1, until
    ``a`` raises its price index to ``price`` at ``rise_step``; the outside option is the only
    alternative."""
    from ecosim.config.schema import SatisfactionConfig
    a = firm({"x": offering(quality=quality, experience=experience)}, {"x": 1.0},
             initial_awareness=1.0)
    events = [EventConfig(step=rise_step, firm="a", set={"offerings.x.price_index": price})]
    return market(N, rise_step, {"x": need()}, {"a": a}, segments={"all": segment(openness=0.0)},
                  events=events, price_alert=1.0,
                  satisfaction=SatisfactionConfig(memory=memory, **satisfaction))


@pytest.mark.parametrize("experience", [1.0, 1.5, 2.5])
def test_the_churn_response_to_a_price_rise_falls_with_experience(experience):
    memory, effect, rise_step, price, quality = 0.3, 2.0, 6, 1.5, 1.0
    h = run_to_end(price_rise_market(experience, memory, rise_step, price, quality,
                              alert_effect=effect)).history
    # satisfaction after rise_step - 1 kept purchases without noise (closed form)
    s = math.log(experience) * (1.0 - (1.0 - memory) ** (rise_step - 1))
    look = min(1.0, math.exp(-effect * s) * math.log(price))
    leave = 1.0 / (1.0 + math.exp(quality - math.log(price)))  # outside beats a (unit Gumbel)
    assert h.unit_churned[1:rise_step].sum() == 0  # no trigger before the rise
    assert_binomial(h.unit_churned[rise_step, 0, 0], N, look * leave, f"churn e={experience}")


def test_a_service_failure_triggers_a_search():
    noise, threshold, quality = 1.0, -1.0, 0.5
    h = run_to_end(price_rise_market(1.0, 0.5, 3, 1.0, quality, noise=noise,
                              failure_threshold=threshold)).history
    p_fail = 0.5 * (1.0 + math.erf(threshold / noise / math.sqrt(2.0)))  # ln(1) = 0
    leave = 1.0 / (1.0 + math.exp(quality))
    assert h.unit_churned[1, 0, 0] == 0  # a failure at step 1 acts at the next occasion
    assert_binomial(h.unit_churned[2, 0, 0], N, p_fail * leave, "churn after failures")


def test_satisfaction_with_memory_zero_is_off():
    off = price_rise_market(2.0, 0.0, 4, 1.3, noise=1.0, alert_effect=3.0, openness_effect=2.0,
                            failure_threshold=0.5)
    plain = price_rise_market(2.0, 0.0, 4, 1.3)
    assert_same_history(run_to_end(off), run_to_end(plain))


# -- risk decisions ---------------------------------------------------------------------------

def lending_market(accuracy: float, max_risk: float | None, risk_pricing: float = 0.0,
                   n: int = N, **ecosystem):
    """One lender everyone considers at step 1 (no provider yet), nobody else."""
    from ecosim.config.schema import RiskConfig
    bank = firm({"credit": offering(quality=HUGE_QUALITY)}, initial_awareness=1.0)
    bank.lending.accuracy = accuracy
    bank.lending.max_risk = max_risk
    bank.lending.risk_pricing = risk_pricing
    if ecosystem:
        bank.model = "ecosystem"
        for key, value in ecosystem.items():
            setattr(bank.ecosystem, key, value)
    return market(n, 1, {"credit": need(risk_priced=True, base_loss=0.1)}, {"bank": bank},
                  risk=RiskConfig(enabled=True))


def test_with_perfect_information_losses_are_the_approved_customers_true_risk():
    model = run_to_end(lending_market(accuracy=1.0, max_risk=1.2))
    rho = model.population.true_risk()
    approved = model.population.provider[:, 0] == 0
    assert np.array_equal(approved, rho <= 1.2)  # declined exactly the risks above the line
    assert 0.2 < approved.mean() < 0.9
    assert model.history.losses[1, 0, 0] == pytest.approx(0.1 * rho[approved].sum(), rel=1e-12)


def test_with_no_information_approval_is_independent_of_risk():
    # accuracy 0: every estimate is the mean, 1
    everyone = run_to_end(lending_market(accuracy=0.0, max_risk=1.2)).population
    assert (everyone.provider[:, 0] == 0).all()
    nobody = run_to_end(lending_market(accuracy=0.0, max_risk=0.9)).population
    assert (nobody.provider[:, 0] == -1).all()


def test_a_partial_estimate_is_the_posterior_mean_of_its_accuracy():
    # estimate = mean + w (rho - mean) + sqrt(w (1 - w)) sd z; with risk_pricing 1 and a basket
    # of 1 each customer's spend is the estimate (floored at 0.05: reached with probability
    # ~1e-4 here), and the lender loses 0.1 rho of it. Given the true risks, spend and losses
    # are sums of independent normal noises around known means.
    w, n = 0.5, N
    model = run_to_end(lending_market(accuracy=w, max_risk=None, risk_pricing=1.0, n=n))
    rho = model.population.true_risk()
    mean, var = 1.0, 4 * 0.25**2  # gamma(shape 4, scale 0.25)
    expected = mean + w * (rho - mean)
    noise_var = w * (1 - w) * var
    revenue, losses = model.history.revenue[1, 0, 0], model.history.losses[1, 0, 0]
    # the floor adds at most 0.05 per floored customer (< 1e-4 of them: < 0.1 in all)
    assert abs(revenue - expected.sum()) <= Z * math.sqrt(n * noise_var) + 0.1
    assert abs(losses - 0.1 * (expected * rho).sum()) <= Z * math.sqrt(
        (0.01 * rho**2 * noise_var).sum()) + 0.1


def test_pooled_data_add_to_the_lenders_accuracy_by_the_formula():
    # inside its ecosystem for one of two needs (share 1/2) with data_gain 1, a lender of
    # accuracy 0 sees as well as a standalone lender of accuracy 0.5: identical runs
    from ecosim.config.schema import RiskConfig

    def pooled(accuracy, data_gain, risk_pricing=0.0):
        bank = firm({"pay": offering(quality=HUGE_QUALITY),
                     "credit": offering(quality=HUGE_QUALITY)}, {"pay": 1.0},
                    initial_awareness=1.0)
        bank.model = "ecosystem"
        bank.ecosystem.data_gain = data_gain
        bank.lending.accuracy = accuracy
        bank.lending.max_risk = 1.0
        bank.lending.risk_pricing = risk_pricing
        return market(N, 2, {"pay": need(), "credit": need(risk_priced=True, base_loss=0.1)},
                      {"bank": bank}, risk=RiskConfig(enabled=True))

    assert_same_history(run_to_end(pooled(0.0, 1.0)), run_to_end(pooled(0.5, 0.0)))
    # with risk prices too: the share counts the customer's other needs, so the estimate a
    # customer is priced with when paying is the one they chose with
    assert_same_history(run_to_end(pooled(0.0, 1.0, 1.0)), run_to_end(pooled(0.5, 0.0, 1.0)))
    unpooled = run_to_end(pooled(0.0, 0.0)).population.provider[:, 1]
    assert (unpooled == 0).all()  # accuracy 0: everyone looks average (1 <= max_risk 1)


def test_a_lender_never_declines_its_current_customers():
    from ecosim.config.schema import RiskConfig
    bank = firm({"credit": offering(quality=HUGE_QUALITY)}, {"credit": 1.0},
                initial_awareness=1.0)
    bank.lending.accuracy, bank.lending.max_risk = 1.0, 0.5  # would decline most applicants
    cfg = market(2_000, 3, {"credit": need(risk_priced=True, base_loss=0.1)}, {"bank": bank},
                 risk=RiskConfig(enabled=True))  # openness 1: every occasion a full search
    h = run_to_end(cfg).history
    assert (h.unit_customers[:, 0, 0] == 2_000).all()


def test_kept_estimation_noise_gives_the_same_history_as_drawing_it_each_step(monkeypatch):
    """A lender's noise of a customer is fixed: kept after its first draw or drawn again every
    step (a lender the population does not keep it for), the run is the same, bit for bit."""
    from ecosim import model as model_module
    from ecosim.config.schema import RiskConfig

    bank = firm({"pay": offering(quality=1.0), "credit": offering(quality=1.0)}, {"pay": 0.5},
                initial_awareness=1.0)
    bank.model = "ecosystem"
    bank.ecosystem.data_gain = 0.5
    bank.lending.accuracy, bank.lending.max_risk, bank.lending.risk_pricing = 0.4, 1.3, 1.0
    rival = firm({"credit": offering(quality=0.8)}, {"credit": 0.3}, initial_awareness=1.0)
    rival.lending.accuracy, rival.lending.max_risk, rival.lending.risk_pricing = 0.2, 1.5, 0.5
    cfg = market(3_000, 6, {"pay": need(), "credit": need(risk_priced=True, base_loss=0.1)},
                 {"bank": bank, "rival": rival}, risk=RiskConfig(enabled=True))
    kept = run_to_end(cfg)
    assert list(kept.population.noise_firms) == [0, 1]
    drawn = kept.population.noise[~np.isnan(kept.population.noise)]
    assert drawn.size > 3_000 and abs(drawn.mean()) < 4 / math.sqrt(drawn.size)  # N(0, 1)
    monkeypatch.setattr(model_module, "potential_lenders", lambda cfg: [])
    fresh = run_to_end(cfg)
    assert fresh.population.noise.size == 0
    assert_same_history(kept, fresh)


def test_lending_settings_do_nothing_while_risk_decisions_are_off():
    on = lending_market(accuracy=0.7, max_risk=0.8, risk_pricing=2.0, n=2_000)
    off = with_(on, customers__risk__enabled=False)
    plain = with_(off, firms__bank__lending__accuracy=0.0, firms__bank__lending__max_risk=None,
                  firms__bank__lending__risk_pricing=0.0)
    assert_same_history(run_to_end(off), run_to_end(plain))
    assert (run_to_end(on).population.provider[:, 0] == -1).any()  # on, the same settings decline


# -- trends and addressable wallets ----------------------------------------------------------

def test_a_growing_basket_grows_revenue_by_its_rate():
    growth = 0.05
    cfg = market(1_000, 5, {"x": need(basket_growth=growth)},
                 {"a": firm({"x": offering(quality=HUGE_QUALITY)}, {"x": 1.0})})
    h = run_to_end(cfg).history
    for t in range(1, 6):
        assert h.revenue[t, 0, 0] == pytest.approx(1_000 * (1 + growth) ** t, rel=1e-12)


@pytest.mark.parametrize("growth", [0.08, -0.08])
def test_a_trending_prevalence_adds_or_removes_the_same_customers(growth):
    p0, horizon = 0.5, 6
    cfg = market(N, horizon, {"x": need(prevalence=p0, prevalence_growth=growth)},
                 {"a": firm({"x": offering(quality=HUGE_QUALITY)}, {"x": 1.0},
                            initial_awareness=1.0)})
    model = EcosystemModel(cfg)
    users = [model.population.provider[:, 0] == 0]
    for _ in range(horizon):
        model.step()
        users.append(model.population.provider[:, 0] == 0)
    for t in range(1, horizon + 1):
        p = min(1.0, p0 * (1 + growth) ** t)
        assert_binomial(users[t].sum(), N, p, f"users at step {t}")
        before, after = (users[t - 1], users[t]) if growth > 0 else (users[t], users[t - 1])
        assert not (before & ~after).any()  # nested sets: the same customers throughout
        lost = (users[t - 1] & ~users[t]).sum()
        assert model.history.unit_churned[t, 0, 0] == lost


def test_the_addressable_wallet_is_the_wallet_of_the_needs_a_firm_offers():
    cfg = market(1_000, 2, {"x": need(basket=1.0), "y": need(basket=2.0)},
                 {"a": firm({"x": offering(quality=HUGE_QUALITY)}, {"x": 1.0},
                            initial_awareness=1.0),
                  "b": firm({"y": offering(quality=HUGE_QUALITY)}, {"y": 1.0},
                            initial_awareness=1.0)})
    h = run_to_end(cfg).history
    table = segment_metrics(h, ["all"], ["a", "b"])
    row = table[(table.step == 2)].set_index("firm")
    assert row.loc["a", "addressable_wallet"] == 1_000.0
    assert row.loc["b", "addressable_wallet"] == 2_000.0
    assert row.loc["all", "addressable_wallet"] == row.loc["all", "wallet"] == 3_000.0
    assert row.loc["a", "captured_wallet"] == 1_000.0
    from ecosim.metrics.tables import segment_needs
    by_need = segment_needs(h, ["all"], ["x", "y"]).query("step == 2").set_index("need")["wallet"]
    assert by_need.to_dict() == {"x": 1_000.0, "y": 2_000.0}
    assert by_need.sum() == row.loc["all", "wallet"]


# -- configuration ----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "value", "message"), [
    ("customers__awareness", "unit", "customers.awareness"),
    ("customers__satisfaction__memory", 1.5, "customers.satisfaction.memory"),
    ("firms__bank__lending__accuracy", -0.1, "firms.bank.lending.accuracy"),
    ("firms__bank__marketing__brand_budgets", {"nobody": 1.0},
     "firms.bank.marketing.brand_budgets.nobody"),
    ("needs__credit__prevalence_growth", -1.0, "needs.credit.prevalence_growth"),
])
def test_bad_mechanism_settings_are_refused_by_key(path, value, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        with_(lending_market(1.0, None, n=100), **{path: value})


def test_fixed_helper_is_a_spec():
    assert fixed(1.0).value == 1.0


def test_optional_state_costs_memory_only_when_on():
    from ecosim.config.limits import memory_estimate
    from ecosim.config.schema import SatisfactionConfig

    cases = [  # (config, bytes per customer, bytes per customer-need): the basket cache off
        (bank_with_unit(None), 64, 8),
        (bank_with_unit("bank_eats"), 72, 8),
        (bank_with_unit("bank_eats", awareness="firm"), 64, 8),
        (price_rise_market(1.5, 0.3, 2, 1.1), 64, 12),
        (lending_market(0.5, None, n=100), 80, 8),  # rho and the one lender's noise
    ]
    cases = [(dataclasses.replace(cfg, basket_cache=False), *sizes) for cfg, *sizes in cases]
    cases.append((bank_with_unit(None), 64, 16))  # the cache, on by default in a small market
    for cfg, per_customer, per_need in cases:
        got = EcosystemModel(cfg).population.nbytes()
        assert (got["per_customer"], got["per_customer_need"]) == (per_customer, per_need)
        estimate = memory_estimate(cfg)["population"]
        assert estimate == cfg.customers.n * (per_customer + len(cfg.needs) * per_need)
    assert SatisfactionConfig().memory == 0.0  # off by default
