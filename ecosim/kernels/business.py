"""Business models and policies as the kernels see them: flat per-firm parameter arrays.

``firm_real[f, :]`` and ``firm_int[f, :]`` hold, per firm, the parameters of its business model
and policies (columns below); ``bundle_mask[f]`` has bit k set when need k is in f's bundle.
A firm's *group* is the ecosystem it belongs to: itself for an ecosystem, its host for a partner,
-1 otherwise. The helpers are the customer-level rules of docs/model.md "Business-model terms":

* **bundle**: with ``h`` bundled products already held with the firm (other than need k), taking
  k from it pays ``price × (1 - discount)`` when ``h + 1 >= min_products``; when ``h + 1`` is
  exactly ``min_products``, taking k also unlocks (and leaving k loses) the discount on the other
  ``h`` products, worth ``-price_sensitivity × ln(1 - discount)`` each in utility. The same rule
  gives the current provider its coupling: leaving one product costs the discount on the others.
* **ecosystem**: a customer is *inside* group g for need k when they use the group for another
  need; then the group's offers for k get ``entry_bonus`` convenience, and fire as contextual
  offers with probability ``context_reach``. Losses on risk-priced needs fall by ``data_gain`` ×
  the share of the customer's needs the group serves.

Notes:
    Scalar helpers, jitted and inlined into the customer step kernel (by Numba's IR inlining,
    or by LLVM for those compiled as ordinary jitted functions).
"""

from __future__ import annotations

import numpy as np
from numba import njit

(CONTEXT_REACH, ENTRY_BONUS, DATA_GAIN, BUNDLE_DISCOUNT, CONTACTS_PER_STEP, INCENTIVE,
 PARTNER_FEE, REFERRAL_RATE, LAUNCH_AWARENESS, CONTACT_ATTENTION, ACCURACY, MAX_RISK,
 RISK_PRICING) = range(13)
N_FIRM_REAL = 13
GROUP, BUNDLE_MIN, ORGANISATION, TARGETING = range(4)
N_FIRM_INT = 4
SILO, VALUE_STREAM = 0, 1
TARGET_NONE, TARGET_SOCIODEMOGRAPHIC, TARGET_BEHAVIOURAL = 0, 1, 2


@njit(cache=True, _nrt=False)
def _in_bundle(bundle_mask, f, k):
    return (bundle_mask[f] >> np.uint64(k)) & np.uint64(1)


@njit(inline="always", cache=True)
def _bundle_saving(firm_real, f):
    """Utility per unit of price sensitivity of f's bundle discount, ``-ln(1 - discount)``."""
    return -np.log(1.0 - firm_real[f, BUNDLE_DISCOUNT])


@njit(inline="always", cache=True)
def _bundle_utility(bundle_saving, firm_int, bundle_mask, held, f, k, price_sensitivity):
    """Utility of the bundle rule for taking need k from firm f (0 if k is not bundled by f).

    ``held`` is the number of f's bundled needs the customer holds with f, other than k;
    ``bundle_saving[f]`` is ``_bundle_saving(firm_real, f)``, computed once per step.
    """
    if not _in_bundle(bundle_mask, f, k):
        return 0.0
    minimum = firm_int[f, BUNDLE_MIN]
    if held + 1 < minimum:
        return 0.0
    saving = bundle_saving[f] * price_sensitivity
    if held + 1 == minimum:
        return saving * (1 + held)
    return saving


@njit(inline="always", cache=True)
def _bundle_price_factor(firm_real, firm_int, bundle_mask, held_with_k, f, k):
    """Share of the price paid for need k bought from f, given bundled holdings including k.

    A select, not a branch: whether a purchase is bundled varies from need to need.
    """
    bundled = (_in_bundle(bundle_mask, f, k) != 0) & (held_with_k >= firm_int[f, BUNDLE_MIN])
    discount = firm_real[f, BUNDLE_DISCOUNT]
    return 1.0 - discount if bundled else 1.0


@njit(inline="always", cache=True)
def _pooled_loss_factor(firm_real, firm_int, group_count, f, n_needs_held):
    """Share of base losses left after the group's pooled data (1 outside ecosystems).

    Selects, not branches: whether the seller is in an ecosystem varies from need to need.
    """
    g = firm_int[f, GROUP]
    inside = (g >= 0) & (n_needs_held > 0)
    g = max(g, 0)
    cut = firm_real[g, DATA_GAIN] * min(1.0, group_count[g] / max(n_needs_held, 1))
    return 1.0 - cut if inside else 1.0
