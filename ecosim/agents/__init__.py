"""Firms (Mesa agents) and the customer population (arrays)."""
