"""The named groups of arrays the step kernel takes (one namedtuple per kind of state).

Numba compiles a namedtuple of arrays as a struct, so a kernel takes six groups instead of
forty-odd positional arrays, and a phase reads ``market.price[f, k]`` or ``state.habit[i, k]``.

* ``Rules``: the step's scalars and the behaviour parameters shared by every customer.
* ``Market``: what firms offer this step, per (firm, need), and their business models/policies.
* ``Customers``: what is fixed about each customer (traits, lifecycle draws, bands, and the
  basket of each need once drawn, with the basket cache on).
* ``Needs``: what is fixed about each need (stable id, occurrence, basket distribution).
* ``State``: what changes, per customer and per customer-need (updated in place).
* ``Books``: the per-block ledgers and the transaction log the kernel fills.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

Rules = namedtuple("Rules", ["key", "step", "lifecycle_kind", "n_income", "behaviour"])
Market = namedtuple("Market", [
    "available", "price", "log_price", "quality", "convenience", "experience", "margin_rate",
    "loss_rate", "brand", "price_rise", "hazard_scale", "firm_real", "firm_int", "bundle_mask",
    "contact_p", "unit", "log_experience"])
Customers = namedtuple("Customers", ["traits", "life", "segment", "age_band", "income_band",
                                     "risk", "noise", "noise_firms", "basket"])
Needs = namedtuple("Needs", ["need_id", "occurrence", "hazard_scale", "basket_dist", "basket_p",
                             "basket_scale"])
State = namedtuple("State", ["provider", "habit", "since", "flags", "aware", "customer_of",
                             "fatigue", "trial", "satisfaction", "unit_of"])
Books = namedtuple("Books", ["fk", "f", "sf", "cohort", "cells", "tx", "tx_count", "capped",
                             "sk"])

# Behaviour parameters shared by all customers (``Rules.behaviour``): habit and fatigue, the
# price alert, taste and shock scales, joint exit; satisfaction (memory 0 = off; failure
# threshold -inf = never); risk (on = 1.0; the relative-risk distribution's code, parameters,
# mean and sd).
(HABIT_GAIN, FATIGUE_PER_CONTACT, FATIGUE_DECAY, FATIGUE_OPENNESS, FATIGUE_ANNOYANCE,
 PRICE_ALERT, TASTE_SCALE, SHOCK_SCALE, JOINT_EXIT, SAT_MEMORY, SAT_NOISE, SAT_OPENNESS,
 SAT_ALERT, SAT_FAILURE, RISK_ON, RISK_DIST, RISK_P1, RISK_P2, RISK_MEAN, RISK_SD) = range(20)
N_BEHAVIOUR = 20


def need_ids(names: list[str]) -> np.ndarray:
    """A stable id per need from its name (CRC-32), so draws do not depend on declaration order.

    Raises:
        ValueError: two names share an id (then they would share their random draws).
    """
    import zlib

    ids = np.array([zlib.crc32(name.encode()) for name in names], np.int64)
    if len(set(ids.tolist())) < len(ids):
        raise ValueError(f"needs: {names!r} is not allowed; two need names hash to the same id, "
                         "rename one")
    return ids
