"""Ledgers to tidy tables, LTV, CAC, cohorts and confidence intervals."""
