"""mdkoop.analysis: what a scientist reads from a fitted run.

* :func:`its_vs_lag` — implied timescales vs lag (re-estimation on the learned features,
  bootstrap confidence intervals); :func:`retrain_its` retrains the encoder per lag.
* :func:`ck_test_cvs` — Chapman–Kolmogorov test of a k-means + MSM + PCCA+ model on the CVs.
* :func:`vamp_scores` — VAMP-2 / VAMP-E of a model's singular functions on other data.
* :func:`rmsd_to_reference` — RMSD of every frame to a reference structure (mdtraj).
* :mod:`mdkoop.analysis.plots`, :func:`write_report` — figures and a self-contained report.html.
* :func:`analyze_run` — all of the above for a run directory (``mdkoop analyze``).

Imports are lazy, so ``import mdkoop.analysis`` is cheap.
"""

from __future__ import annotations

import importlib

_API = {
    "its_vs_lag": "mdkoop.analysis.timescales",
    "ITSResult": "mdkoop.analysis.timescales",
    "linear_fit": "mdkoop.analysis.timescales",
    "default_lags": "mdkoop.analysis.timescales",
    "timescales_from_eigenvalues": "mdkoop.analysis.timescales",
    "ck_test_cvs": "mdkoop.analysis.cktest",
    "CKResult": "mdkoop.analysis.cktest",
    "discretize_cvs": "mdkoop.analysis.cktest",
    "vamp_scores": "mdkoop.analysis.scores",
    "reference_for_atoms": "mdkoop.analysis.rmsd",
    "rmsd_to_reference": "mdkoop.analysis.rmsd",
    "write_report": "mdkoop.analysis.report",
    "analyze_run": "mdkoop.analysis.pipeline",
    "retrain_its": "mdkoop.analysis.pipeline",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mdkoop.analysis' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
