"""Sweeps at scale: launchers, resume, one table of all runs, and sensitivity analysis.

ecosim does not schedule jobs itself: Hydra's launchers (joblib, submitit, Ray) run them, and this
package makes their output one dataset (``collect``), lets a killed sweep finish without redoing
finished work (``resume``), sizes numba's threads per job and warms its cache (``launchers``),
composes the jobs' configs from one composition per set of config groups (``compose``), and
runs global sensitivity analyses through the same launchers (``sensitivity``).

From Python: ``from ecosim.sweep.collect import collect``.
"""
