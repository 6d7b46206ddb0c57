"""Slide-ready figures and reports in one house style."""
