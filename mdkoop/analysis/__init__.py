"""mdkoop.analysis: what a scientist reads from a fitted run.

* :func:`its_vs_lag` — implied timescales vs lag (re-estimation on the learned features,
  bootstrap confidence intervals); :func:`retrain_its` retrains the encoder per lag.
* :func:`ck_test_cvs` — Chapman–Kolmogorov test of a k-means + MSM + PCCA+ model on the CVs.
* :func:`vamp_scores` — VAMP-2 / VAMP-E of a model's singular functions on other data.
* :func:`rmsd_to_reference` — RMSD of every frame to a reference structure (mdtraj).
* :mod:`mdkoop.analysis.plots`, :func:`write_report` — figures and a self-contained report.html.
* :func:`analyze_run` — all of the above for a run directory (``mdkoop analyze``).

The submodules import numpy only at import time (deeptime, matplotlib, mdtraj and torch are
imported inside the functions that need them), so ``import mdkoop.analysis`` is cheap.
"""

from __future__ import annotations

from .cktest import CKResult, ck_test_cvs, discretize_cvs
from .pipeline import analyze_run, retrain_its
from .report import write_report
from .rmsd import reference_for_atoms, rmsd_to_reference
from .scores import vamp_scores
from .timescales import ITSResult, default_lags, its_vs_lag, linear_fit, timescales_from_eigenvalues

__all__ = [
    "CKResult",
    "ITSResult",
    "analyze_run",
    "ck_test_cvs",
    "default_lags",
    "discretize_cvs",
    "its_vs_lag",
    "linear_fit",
    "reference_for_atoms",
    "retrain_its",
    "rmsd_to_reference",
    "timescales_from_eigenvalues",
    "vamp_scores",
    "write_report",
]
