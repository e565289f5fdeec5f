"""Figures of an analysis (matplotlib, Agg backend, no display needed).

Every function takes plain arrays (times in ps), writes one PNG atomically and
returns its path. Axis labels carry units; long times are shown in ns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ._plotting import _plt, _save, time_unit
from .plots_landscape import (
    auto_bins,
    free_energy_2d,
    plot_cv_timeseries,
    plot_free_energy,
    plot_free_energy_1d,
)
from .plots_training import plot_training_curves, read_metrics_csv

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
