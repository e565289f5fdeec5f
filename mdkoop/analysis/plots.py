"""Figures of an analysis (matplotlib, Agg backend, no display needed).

Every function takes plain arrays (times in ps), writes one PNG atomically and
returns its path. Axis labels carry units; long times are shown in ns.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..utils.files import atomic_file

__all__ = [
    "time_unit",
    "free_energy_2d",
    "plot_implied_timescales",
    "plot_ck_test",
    "plot_spectrum",
    "plot_free_energy",
    "plot_free_energy_1d",
    "auto_bins",
    "plot_cv_timeseries",
    "plot_training_curves",
    "read_metrics_csv",
]

log = logging.getLogger("mdkoop.analysis")

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


def plot_implied_timescales(lags_ps, its_ps, path, ci_lower=None, ci_upper=None, training_lag_ps=None,
                            title="Implied timescales", confidence: float = 0.95) -> Path:
    """Implied timescales against lag time, log y axis, with the ITS < lag region shaded.

    Parameters
    ----------
    lags_ps : array (n_lags,)
        Lag times in ps.
    its_ps : array (n_lags, n_its)
        Implied timescales in ps (NaN where undefined).
    path : path-like
        Output PNG.
    ci_lower, ci_upper : array (n_lags, n_its), optional
        Confidence band in ps.
    training_lag_ps : float, optional
        Marked with a vertical dashed line.
    title : str
        Figure title.
    confidence : float
        Level of the band (for the title).

    Returns
    -------
    Path
    """
    plt = _plt()
    lags_ps = np.asarray(lags_ps, dtype=float)
    its = np.atleast_2d(np.asarray(its_ps, dtype=float))
    if its.shape[0] != len(lags_ps):
        raise InputError(f"its_ps has {its.shape[0]} rows but there are {len(lags_ps)} lag times.")
    finite = its[np.isfinite(its) & (its > 0)]
    top_ps = max(float(finite.max()) if finite.size else 1.0, float(lags_ps.max()))
    yunit, fy = time_unit(top_ps)
    xunit, fx = time_unit(float(lags_ps.max()))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i in range(its.shape[1]):
        c = colors[i % len(colors)]
        if not np.isfinite(its[:, i]).any():
            continue  # a process that no lag resolves (rank-deficient features)
        ax.plot(lags_ps / fx, its[:, i] / fy, "o-", color=c, ms=4, label=f"process {i + 1}")
        if ci_lower is not None and ci_upper is not None:
            lo = np.atleast_2d(np.asarray(ci_lower, float))[:, i] / fy
            hi = np.atleast_2d(np.asarray(ci_upper, float))[:, i] / fy
            ax.fill_between(lags_ps / fx, lo, hi, color=c, alpha=0.2, lw=0)
    xs_ps = np.linspace(0.0, lags_ps.max() * 1.05, 80)
    ymin = max(min(float(finite.min()) if finite.size else 1.0, float(lags_ps.min())) / fy / 3.0, 1e-12)
    ax.fill_between(xs_ps / fx, ymin, xs_ps / fy, color="0.6", alpha=0.35, lw=0, label="ITS < lag (not resolved)")
    ax.plot(xs_ps / fx, xs_ps / fy, color="0.3", lw=1)
    if training_lag_ps is not None:
        ax.axvline(training_lag_ps / fx, color="k", ls="--", lw=1,
                   label=f"training lag ({training_lag_ps / fx:g} {xunit})")
    ax.set_yscale("log")
    ax.set_ylim(bottom=ymin, top=top_ps / fy * 3.0)
    ax.set_xlim(0, lags_ps.max() * 1.05 / fx)
    ax.set_xlabel(f"lag time τ ({xunit})")
    ax.set_ylabel(f"implied timescale ({yunit})")
    band = f" (shaded: {100 * confidence:g}% bootstrap CI)" if ci_lower is not None else ""
    ax.set_title(title + band, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def plot_ck_test(lagtimes_ps, predictions, estimates, path, set_names=None) -> Path:
    """Chapman–Kolmogorov test grid: P(set i → set j) against lag, predicted vs estimated.

    Parameters
    ----------
    lagtimes_ps : array (n_lags,)
        Lag times in ps (first one usually 0).
    predictions, estimates : array (n_lags, n_sets, n_sets)
        Probabilities from the model at the training lag (propagated) and from models at each lag.
    path : path-like
        Output PNG.
    set_names : list of str, optional
        Names of the metastable sets.

    Returns
    -------
    Path
    """
    plt = _plt()
    pred = np.asarray(predictions, float)
    est = np.asarray(estimates, float)
    lag = np.asarray(lagtimes_ps, float)
    n = pred.shape[1]
    names = set_names or [f"set {i + 1}" for i in range(n)]
    unit, f = time_unit(float(lag.max()))
    fig, axes = plt.subplots(n, n, figsize=(2.6 * n + 0.6, 2.3 * n + 0.4), sharex=True, sharey=True, squeeze=False)
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            ax.plot(lag / f, est[:, i, j], "o-", color="C0", ms=4, label="estimated at lag")
            ax.plot(lag / f, pred[:, i, j], "s--", color="C1", ms=3, label="predicted from τ")
            ax.set_ylim(-0.05, 1.05)
            ax.set_title(f"{names[i]} → {names[j]}", fontsize=9)
            ax.grid(True, alpha=0.3)
            if i == n - 1:
                ax.set_xlabel(f"lag time ({unit})")
            if j == 0:
                ax.set_ylabel("probability")
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle("Chapman–Kolmogorov test (PCCA+ metastable sets)")
    fig.tight_layout()
    return _save(fig, path)


def plot_spectrum(singular_values, path, eigenvalues=None) -> Path:
    """Bar plot of the singular values (and moduli of eigenvalues) of the learned Koopman model.

    Parameters
    ----------
    singular_values : array (k,)
        Singular values, descending, constant function excluded.
    path : path-like
        Output PNG.
    eigenvalues : array (k,), optional
        Eigenvalues (possibly complex); their moduli are drawn next to the singular values.

    Returns
    -------
    Path
    """
    plt = _plt()
    s = np.asarray(singular_values, float)
    idx = np.arange(1, len(s) + 1)
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    w = 0.35 if eigenvalues is not None else 0.6
    ax.bar(idx - (w / 2 if eigenvalues is not None else 0), s, width=w, color="C0", label="singular value σᵢ")
    if eigenvalues is not None:
        ev = np.abs(np.asarray(eigenvalues))[: len(s)]
        ax.bar(np.arange(1, len(ev) + 1) + w / 2, ev, width=w, color="C2", label="|eigenvalue λᵢ|")
    ax.set_xticks(idx)
    ax.set_xlim(0.3, len(s) + 0.7 + max(0, 3 - len(s)))
    ax.set_xlabel("mode index i (constant function excluded)")
    ax.set_ylabel("value (dimensionless)")
    ax.set_ylim(0, max(1.0, float(np.nanmax(s)) * 1.05 if s.size else 1.0))
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax.set_title("Koopman spectrum at the training lag")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)


def free_energy_2d(x, y, bins: int = 60, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Free energy in kT of a 2-D histogram, ``F = -ln p``, shifted so that its minimum is 0.

    Parameters
    ----------
    x, y : array (n,)
        Samples.
    bins : int
        Bins per axis.
    weights : array (n,), optional
        Sample weights.

    Returns
    -------
    F : ndarray (bins, bins)
        Free energy in kT (``F[i, j]`` for x-bin ``i``, y-bin ``j``; NaN for empty bins).
    xedges, yedges : ndarray (bins + 1,)
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise InputError(f"free_energy_2d needs two 1-D arrays of the same length >= 2, got {x.shape} and {y.shape}.")
    h, xe, ye = np.histogram2d(x, y, bins=bins, weights=weights)
    with np.errstate(divide="ignore"):
        F = -np.log(h / h.sum())
    F[~np.isfinite(F)] = np.nan
    F -= np.nanmin(F)
    return F, xe, ye


def _binned_mean(x, y, v, xe, ye) -> np.ndarray:
    s, _, _ = np.histogram2d(x, y, bins=[xe, ye], weights=v)
    n, _, _ = np.histogram2d(x, y, bins=[xe, ye])
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s / n
    m[n == 0] = np.nan
    return m


def plot_free_energy_1d(cv1, path, rmsd=None, rmsd_unit="nm", label="CV 1", bins: int | None = None) -> Path:
    """Free-energy profile along one CV (kT), and, with ``rmsd``, the mean RMSD per bin.

    Parameters
    ----------
    cv1 : array (n_frames,)
        CV values (dimensionless).
    path : path-like
        Output PNG.
    rmsd : array (n_frames,), optional
        RMSD of every frame to a reference, in ``rmsd_unit``.
    rmsd_unit : str
        Unit label of ``rmsd``.
    label : str
        Axis label.
    bins : int, optional
        Histogram bins (default :func:`auto_bins`).

    Returns
    -------
    Path
    """
    plt = _plt()
    x = np.asarray(cv1, float)
    h, e = np.histogram(x, bins=bins or auto_bins(x.size))
    with np.errstate(divide="ignore"):
        F = -np.log(h / h.sum())
    F[~np.isfinite(F)] = np.nan
    F -= np.nanmin(F)
    c = 0.5 * (e[1:] + e[:-1])
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.plot(c, F, "-", color="C0", lw=2)
    ax.set_xlabel(label)
    ax.set_ylabel("free energy (kT)", color="C0")
    ax.set_title("Free-energy profile  F = −kT ln p")
    ax.grid(True, alpha=0.3)
    if rmsd is not None:
        r = np.asarray(rmsd, float)
        if r.shape != x.shape:
            raise InputError(f"rmsd has shape {r.shape} but the CV has {x.shape}; give one value per frame.")
        s, _ = np.histogram(x, bins=e, weights=r)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = np.where(h > 0, s / np.maximum(h, 1), np.nan)
        ax2 = ax.twinx()
        ax2.plot(c, m, "--", color="C3", lw=1.5)
        ax2.set_ylabel(f"mean RMSD to reference ({rmsd_unit})", color="C3")
    fig.tight_layout()
    return _save(fig, path)


def auto_bins(n: int) -> int:
    """Histogram bins per axis for ``n`` samples: ``2 n^(1/3)`` clipped to [10, 60]."""
    return int(np.clip(round(2.0 * max(n, 1) ** (1.0 / 3.0)), 10, 60))


def plot_free_energy(cv1, cv2, path, rmsd=None, rmsd_unit="nm", labels=("CV 1", "CV 2"),
                     bins: int | None = None) -> Path:
    """Free-energy surface over two CVs (kT), and, with ``rmsd``, the mean RMSD per bin.

    Parameters
    ----------
    cv1, cv2 : array (n_frames,)
        CV values of all frames (dimensionless).
    path : path-like
        Output PNG.
    rmsd : array (n_frames,), optional
        RMSD of every frame to a reference structure, in ``rmsd_unit``.
    rmsd_unit : str
        Unit label of ``rmsd`` (``"nm"`` or ``"Å"``).
    labels : (str, str)
        Axis labels.
    bins : int, optional
        Histogram bins per axis (default :func:`auto_bins`).

    Returns
    -------
    Path
    """
    plt = _plt()
    x = np.asarray(cv1, float)
    y = np.asarray(cv2, float)
    bins = bins or auto_bins(x.size)
    F, xe, ye = free_energy_2d(x, y, bins=bins)
    ncol = 2 if rmsd is not None else 1
    fig, axes = plt.subplots(1, ncol, figsize=(5.4 * ncol, 4.4), squeeze=False)
    ax = axes[0, 0]
    fmax = float(np.nanmax(F)) if np.isfinite(F).any() else 1.0
    im = ax.pcolormesh(xe, ye, F.T, cmap="viridis", vmin=0, vmax=min(fmax, 10.0), shading="flat")
    ax.contour(0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1]), np.nan_to_num(F.T, nan=fmax),
               levels=np.arange(1, min(fmax, 10.0), 1.0), colors="w", linewidths=0.4, alpha=0.6)
    fig.colorbar(im, ax=ax, label="free energy (kT)")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title("Free energy  F = −kT ln p")
    if rmsd is not None:
        r = np.asarray(rmsd, float)
        if r.shape != x.shape:
            raise InputError(f"rmsd has shape {r.shape} but the CVs have {x.shape}; give one value per frame.")
        m = _binned_mean(x, y, r, xe, ye)
        ax2 = axes[0, 1]
        im2 = ax2.pcolormesh(xe, ye, m.T, cmap="coolwarm", shading="flat")
        fig.colorbar(im2, ax=ax2, label=f"mean RMSD to reference ({rmsd_unit})")
        ax2.set_xlabel(labels[0])
        ax2.set_ylabel(labels[1])
        ax2.set_title("RMSD to reference structure")
    fig.tight_layout()
    return _save(fig, path)


def plot_cv_timeseries(cvs, timestep_ps: float, path, k: int = 3, max_trajectories: int = 4,
                       max_points: int = 20000) -> Path:
    """Time series of the slowest CVs for the first trajectories.

    Parameters
    ----------
    cvs : list of ndarray (T_i, k)
        CVs per trajectory.
    timestep_ps : float
        Frame spacing in ps.
    path : path-like
        Output PNG.
    k : int
        Number of CVs drawn (one panel each).
    max_trajectories : int
        Trajectories drawn (the others are skipped and noted in the title).
    max_points : int
        Points per line (strided beyond).

    Returns
    -------
    Path
    """
    plt = _plt()
    if not cvs:
        raise InputError("plot_cv_timeseries got no CV arrays.")
    k = int(min(k, cvs[0].shape[1]))
    total_ps = max(len(c) for c in cvs) * timestep_ps
    unit, f = time_unit(total_ps)
    fig, axes = plt.subplots(k, 1, figsize=(7.5, 1.9 * k + 0.6), sharex=True, squeeze=False)
    shown = cvs[:max_trajectories]
    for i in range(k):
        ax = axes[i, 0]
        for t, c in enumerate(shown):
            s = max(1, len(c) // max_points)
            tt = np.arange(0, len(c), s) * timestep_ps / f
            ax.plot(tt, c[::s, i], lw=0.6, label=f"trajectory {t}")
        ax.set_ylabel(f"CV {i + 1}")
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel(f"time ({unit})")
    if len(shown) > 1:
        axes[0, 0].legend(fontsize=7, loc="upper right", ncol=min(4, len(shown)))
    extra = f" (first {len(shown)} of {len(cvs)} trajectories)" if len(cvs) > len(shown) else ""
    axes[0, 0].set_title("Slow CVs along the trajectories" + extra)
    fig.tight_layout()
    return _save(fig, path)


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
