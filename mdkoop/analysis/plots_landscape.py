"""Free-energy landscapes and CV time series of an analysis (matplotlib, Agg backend).

Every plotting function takes plain arrays (times in ps), writes one PNG
atomically and returns its path; re-exported by :mod:`mdkoop.analysis.plots`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ._plotting import _plt, _save, time_unit

__all__ = [
    "free_energy_2d",
    "plot_free_energy",
    "plot_free_energy_1d",
    "auto_bins",
    "plot_cv_timeseries",
]


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
