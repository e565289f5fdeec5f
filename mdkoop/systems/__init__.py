"""Dynamical systems with known Koopman spectra, for validating mdkoop (and your own setup).

Shared by the test suite and ``benchmarks/bench_ground_truth.py``; nothing here trains a model.

Modules
-------
:mod:`mdkoop.systems.logistic_map`
    The noisy logistic map with the cos^N noise kernel (N = 20): a non-reversible, finite-rank
    transition kernel whose Koopman eigenvalues and singular values are computed exactly.
:mod:`mdkoop.systems.prinz`
    Overdamped Langevin dynamics in the 1D four-well Prinz potential (kT = 1): generator eigenvalues
    from a fine-grid square-root approximation, simulation via deeptime, and a fine-grid reference MSM.
:mod:`mdkoop.systems.rare_basin`
    A rare slow process: a periodic angle with a shallow basin holding about 2% of the population, its
    exact slowest timescale, as plain features (for an MLP) or as the torsion of a four-atom "molecule"
    (positions in nm, for SchNet).

Time in these systems is dimensionless (the systems' own units), not ps. Import the modules
directly, e.g. ``from mdkoop.systems import prinz``.
"""

from __future__ import annotations

__all__ = ["logistic_map", "prinz", "rare_basin"]
