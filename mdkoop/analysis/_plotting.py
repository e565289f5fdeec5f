"""Shared matplotlib helpers of :mod:`mdkoop.analysis.plots` (Agg backend, atomic PNG writing, time units)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..utils.files import atomic_file

_DPI = 110


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def time_unit(max_ps: float) -> tuple[str, float]:
    """Pick a readable time unit for values up to ``max_ps``.

    Parameters
    ----------
    max_ps : float
        Largest time to show, in ps.

    Returns
    -------
    (str, float)
        Unit label (``"ps"``, ``"ns"`` or ``"µs"``) and the factor dividing ps values.
    """
    if not np.isfinite(max_ps) or max_ps < 1e3:
        return "ps", 1.0
    if max_ps < 1e6:
        return "ns", 1e3
    return "µs", 1e6


def _save(fig, path) -> Path:
    path = Path(path)
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=_DPI, bbox_inches="tight")
    _plt().close(fig)
    return path
