"""Training-curve figure from a run's ``metrics.csv`` (matplotlib, Agg backend).

Re-exported by :mod:`mdkoop.analysis.plots`.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._plotting import _plt, _save

__all__ = [
    "read_metrics_csv",
    "plot_training_curves",
]

log = logging.getLogger("mdkoop.analysis")


def read_metrics_csv(path) -> dict[str, np.ndarray]:
    """Read a metrics CSV (header row, numeric cells; blanks become NaN).

    Parameters
    ----------
    path : path-like
        CSV file, e.g. ``RUN/metrics.csv``.

    Returns
    -------
    dict of str -> ndarray (n_rows,) float64
        One array per column; non-numeric columns are dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"The metrics file {str(path)!r} does not exist; it is written by `mdkoop fit`.")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        return {}
    header = rows[0]
    cols: dict[str, list[float]] = {h: [] for h in header}
    for row in rows[1:]:
        for h, cell in zip(header, row + [""] * (len(header) - len(row))):
            try:
                cols[h].append(float(cell) if cell.strip() else math.nan)
            except ValueError:
                cols[h].append(math.nan)
    out = {}
    for h, v in cols.items():
        a = np.asarray(v, float)
        if np.isfinite(a).any():
            out[h] = a
    return out


def plot_training_curves(metrics_csv, path) -> Path | None:
    """Loss and score curves from ``metrics.csv`` against epoch (or step).

    Columns whose name contains ``loss`` go to the left panel; columns whose name
    contains ``score`` or ``vamp`` to the right one. Rows are grouped by epoch
    when an ``epoch`` column exists (the last finite value per epoch is kept).

    Parameters
    ----------
    metrics_csv : path-like
        The run's ``metrics.csv``.
    path : path-like
        Output PNG.

    Returns
    -------
    Path or None
        None when the file holds no curves (nothing is written).
    """
    plt = _plt()
    cols = read_metrics_csv(metrics_csv)
    xkey = "epoch" if "epoch" in cols else ("step" if "step" in cols else None)
    loss = [h for h in cols if "loss" in h.lower()]
    score = [h for h in cols if ("score" in h.lower() or "vamp" in h.lower()) and h not in loss]
    if not loss and not score:
        log.warning("%s holds no loss or score columns; no training-curve plot.", os.fspath(metrics_csv))
        return None
    n = len(next(iter(cols.values())))
    x = cols[xkey] if xkey else np.arange(n, dtype=float)
    ncol = 2 if (loss and score) else 1
    fig, axes = plt.subplots(1, ncol, figsize=(5.6 * ncol, 3.9), squeeze=False)

    def draw(ax, keys, ylabel):
        for h in keys:
            y = cols[h]
            ok = np.isfinite(y) & np.isfinite(x)
            if not ok.any():
                continue
            xs, ys = x[ok], y[ok]
            if xkey == "epoch":  # one point per epoch: the last logged value
                ue, last = np.unique(xs[::-1], return_index=True)
                xs, ys = ue, ys[::-1][last]
            ax.plot(xs, ys, "o-" if len(xs) < 40 else "-", ms=3, label=h)
        ax.set_xlabel(xkey or "logged row")
        if xkey == "epoch":
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)

    i = 0
    if loss:
        draw(axes[0, i], loss, "loss (dimensionless)")
        axes[0, i].set_title("Training and validation loss")
        i += 1
    if score:
        draw(axes[0, i], score, "score (dimensionless)")
        axes[0, i].set_title("VAMP scores")
    fig.tight_layout()
    return _save(fig, path)
