"""Accounting layout: per-block ledgers that the step kernel fills and Python reduces.

Customers are processed in fixed blocks of ``BLOCK`` customers; each block writes its own slice
of the ledgers, summing its customers in index order, and the blocks are then summed in block
order. The block size does not depend on the thread count, so every total is bit-identical
for any number of threads.

The cohort ledger has a column per cohort step, so it grows with the horizon: per block it
would cost blocks x firms x steps to hold, zero and sum every step (1.4 GB at 10^7 customers,
10 firms and 3 650 daily steps). It is kept per *group* of consecutive blocks instead, at most
``COHORT_GROUPS`` groups whatever the population (37 MB there); a group's blocks run in order
on one thread, so its totals are as reproducible as the blocks'. With no more blocks than
groups (up to 262 144 customers) a group is a block and nothing changes. Only the columns of
cohorts up to the current step can be non-zero, so only those are zeroed and summed.
"""

from __future__ import annotations

import numpy as np

BLOCK = 4096

# Ledger rows per (firm, need): currency or customer counts, one step.
(FK_REVENUE, FK_GROSS_MARGIN, FK_LOSSES, FK_CUSTOMERS, FK_NEW, FK_CHURNED, FK_PURCHASES,
 FK_CONTACTS, FK_CONVERSIONS, FK_PARTNER_FEES) = range(10)
N_FK = 10
# Ledger rows per firm. Partner fees are paid by the partner (FK_PARTNER_FEES) and received by
# its ecosystem (F_PARTNER_INCOME).
# F_WALLET is the reference-price spend of all needs that arose to the firm's end-of-step
# customers, F_CAPTURED the part of it they bought from the firm (so captured <= wallet).
# F_START_SINGLE/MULTI count the customers at the start of the step holding one / several of the
# firm's products, F_CHURNED_SINGLE/MULTI those of them who left during the step.
(F_CUSTOMERS, F_NEW, F_CHURNED, F_WALLET, F_REFERRAL_JOINS, F_PARTNER_INCOME, F_CAPTURED,
 F_START_SINGLE, F_START_MULTI, F_CHURNED_SINGLE, F_CHURNED_MULTI) = range(11)
N_F = 11
# Ledger rows per (firm, targeting cell): cross-sell contacts, the adoptions they won, and the
# contacts the firm could make next step to its customers in the cell at the end of the step
# (silo: one per need it offers that they have and buy elsewhere; value stream: one per
# customer with any such need), as that firm's targeting sees cells.
CELL_CONTACTS, CELL_CONVERSIONS, CELL_TARGETS = range(3)
N_CELL = 3
# Ledger rows per (segment, firm); the last firm column holds the segment's totals. SF_CAPTURED
# is the reference-price spend bought from the firm (its share of the segment's wallet).
SF_CUSTOMERS, SF_REVENUE, SF_WALLET, SF_CAPTURED = range(4)
N_SF = 4
# Cohort ledger rows per (firm, cohort step).
C_ALIVE, C_CONTRIBUTION = range(2)
N_C = 2


#: Most groups of blocks the cohort ledger is kept for (see the module's docstring).
COHORT_GROUPS = 64


def n_blocks(n_customers: int) -> int:
    """Number of accounting blocks for a population of ``n_customers``."""
    return (n_customers + BLOCK - 1) // BLOCK


def n_cohort_groups(blocks: int) -> int:
    """Number of block groups the cohort ledger is kept for: one per block, at most 64."""
    return min(blocks, COHORT_GROUPS)


def group_blocks(group: int, blocks: int, groups: int) -> range:
    """The blocks of ``group``: consecutive, ``blocks // groups`` or one more of them."""
    return range(group * blocks // groups, (group + 1) * blocks // groups)


def group_of(block: int, blocks: int, groups: int) -> int:
    """The group that ``block`` belongs to (the inverse of ``group_blocks``)."""
    return ((block + 1) * groups - 1) // blocks


class Ledgers:
    """Preallocated per-block ledgers for one step (reused across steps)."""

    def __init__(self, n_customers: int, n_firms: int, n_needs: int, n_segments: int,
                 horizon: int, n_cells: int) -> None:
        nb = n_blocks(n_customers)
        self.cells = np.zeros((nb, N_CELL, n_firms, n_cells))
        self.fk = np.zeros((nb, N_FK, n_firms, n_needs))
        self.f = np.zeros((nb, N_F, n_firms))
        self.sf = np.zeros((nb, N_SF, n_segments, n_firms + 1))
        self.cohort = np.zeros((n_cohort_groups(nb), N_C, n_firms, horizon + 1))
        # reference-price spend of every need that arose, per (segment, need)
        self.sk = np.zeros((nb, n_segments, n_needs))

    def reset(self, step: int) -> None:
        """Zero every ledger before ``step`` (cohort columns up to ``step``: the rest are zero)."""
        for ledger in (self.fk, self.f, self.sf, self.cells, self.sk):
            ledger.fill(0.0)
        self.cohort[..., :step + 1] = 0.0

    def totals(self, step: int) -> tuple[np.ndarray, ...]:
        """The totals of ``step``, summed over blocks (cohorts: groups) in order.

        Returns (fk, f, sf, cohort, cells, sk); ``cohort`` holds the columns of cohorts
        0..``step`` only (the later ones are empty).
        """
        return (*(ledger.sum(axis=0) for ledger in (self.fk, self.f, self.sf)),
                self.cohort[..., :step + 1].sum(axis=0),
                *(ledger.sum(axis=0) for ledger in (self.cells, self.sk)))
