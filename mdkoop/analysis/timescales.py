"""Implied timescales against lag time, with bootstrap confidence intervals.

The learned functions of a trained encoder (one ``(T_i, m)`` array per
trajectory) stay fixed; at each lag τ a linear Koopman model is re-estimated on
them, and its eigenvalues give the implied timescales
``t_i(τ) = -τ / ln|λ_i(τ)|``. If the features span a good approximation of the
slow eigenfunctions, ``t_i(τ)`` is flat in τ.

Confidence intervals come from a bootstrap over trajectories (resampled with
replacement), or, when there are fewer than ``n_blocks`` trajectories (e.g. a
single one), over contiguous blocks of them. The estimator is pluggable: any callable ``fit(features, lag) -> model``
whose model has ``eigenvalues`` works; the default uses
:mod:`mdkoop.estimation` with the same method as the trained model.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import InputError, LagError
from ._arrays import as_array_list

__all__ = [
    "ITSResult",
    "timescales_from_eigenvalues",
    "bootstrap_units",
    "its_vs_lag",
    "default_lags",
    "linear_fit",
    "unit_sums",
]

log = logging.getLogger("mdkoop.analysis")


def timescales_from_eigenvalues(eigenvalues, lag: int, timestep_ps: float = 1.0) -> np.ndarray:
    """Implied timescales ``-lag * dt / ln|λ|``, sorted descending.

    Parameters
    ----------
    eigenvalues : array (k,), real or complex
        Eigenvalues of the Koopman matrix at ``lag`` (constant function excluded).
    lag : int
        Lag in frames.
    timestep_ps : float
        Frame spacing in ps.

    Returns
    -------
    ndarray (k,) float64
        Timescales in ps, descending (``inf`` for ``|λ| >= 1``, see
        :func:`mdkoop.estimation.decompositions.implied_timescales`).
    """
    from ..estimation.decompositions import implied_timescales

    return -np.sort(-implied_timescales(eigenvalues, lag, timestep_ps))


def default_lags(training_lag: int, max_frames: int, n: int = 8) -> list[int]:
    """A geometric list of lags (frames) around the training lag, shorter than ``max_frames``.

    Parameters
    ----------
    training_lag : int
        The model's lag in frames (always included).
    max_frames : int
        Length of the longest trajectory; lags stay below half of it.
    n : int
        Approximate number of lags.

    Returns
    -------
    list of int, ascending, unique
    """
    hi = max(1, max_frames // 2)
    lo = max(1, training_lag // 8)
    top = max(min(hi, training_lag * 8), training_lag)
    lags = np.unique(np.round(np.geomspace(lo, max(top, lo + 1), n)).astype(int))
    lags = [int(x) for x in lags if 1 <= x <= hi]
    if training_lag <= max_frames - 1:
        lags.append(int(training_lag))
    return sorted(set(lags))


def bootstrap_units(trajectory_lengths: Sequence[int], n_blocks: int = 10,
                    min_block: int = 1) -> list[tuple[int, int, int]]:
    """Resampling units of a bootstrap: whole trajectories, or contiguous blocks when there are few.

    With at least ``n_blocks`` trajectories, each trajectory is one unit (resampling whole
    trajectories keeps their correlations). With fewer (a single long trajectory, or a handful),
    the bootstrap over so few units is too coarse, so every trajectory is cut into contiguous
    blocks, about ``n_blocks`` in total, in proportion to its length.

    Parameters
    ----------
    trajectory_lengths : sequence of int
        Frames per trajectory.
    n_blocks : int
        Minimum number of resampling units.
    min_block : int
        Shortest block in frames (e.g. twice the longest lag, so that every block holds lagged
        pairs); fewer blocks are cut when needed (at least one per trajectory).

    Returns
    -------
    list of (traj, start, stop)
        Frame ranges.
    """
    lengths = [int(x) for x in trajectory_lengths]
    if len(lengths) >= n_blocks:
        return [(i, 0, n) for i, n in enumerate(lengths)]
    total = sum(lengths)
    units = []
    for i, n in enumerate(lengths):
        nb = int(max(1, min(round(n_blocks * n / total), n // 2, n // max(1, int(min_block)))))
        edges = np.linspace(0, n, nb + 1).astype(int)
        units.extend((i, int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a)
    return units


def linear_fit(reversible: bool = True, epsilon: float = 1e-6) -> Callable:
    """The default estimator: :class:`mdkoop.estimation.model.LinearKoopmanModel` on fixed features.

    Parameters
    ----------
    reversible : bool
        Time-symmetrised estimate (as for equilibrium MD), else CCA/EDMD on raw covariances;
        use the trained model's setting (``model.linear.reversible``).
    epsilon : float
        Whitening cut-off.

    Returns
    -------
    callable ``fit(features, lag, features_right=None) -> LinearKoopmanModel``
        ``features`` (and ``features_right`` for separate lobes): lists of (T_i, m) arrays; pairs
        ``(features[i][t], features_right[i][t + lag])`` never cross trajectories. Lag and timestep of the
        returned model are in frames. Its attribute ``from_sums(sums, lag)`` builds the same model from
        pooled pair sums (:func:`unit_sums`), which makes the bootstrap cheap.
    """
    from ..estimation.model import LinearKoopmanModel
    from ..estimation.moments import MomentAccumulator

    def fit(features, lag, features_right=None):
        right = features if features_right is None else features_right
        acc = MomentAccumulator()
        for f, g in zip(features, right):
            if len(f) > lag:
                acc.partial_fit(f[:-lag], g[lag:])
        if acc.n_pairs == 0:
            raise LagError(f"No trajectory is longer than the lag of {lag} frames.")
        return LinearKoopmanModel.from_moments(acc, lagtime=int(lag), timestep=1.0, reversible=reversible,
                                               epsilon=epsilon)

    def from_sums(sums: UnitSums, lag):
        n, sx, sy, sxx, sxy, syy = sums
        if n <= 0:
            raise LagError(f"No pairs at lag {lag} in this resample.")
        mx, my = sx / n, sy / n
        cxx = sxx / n - np.outer(mx, mx)
        cxy = sxy / n - np.outer(mx, my)
        cyy = syy / n - np.outer(my, my)
        return LinearKoopmanModel(mx, my, 0.5 * (cxx + cxx.T), cxy, 0.5 * (cyy + cyy.T), lagtime=int(lag), timestep=1.0,
                                  reversible=reversible, epsilon=epsilon, n=n)

    fit.reversible = reversible  # type: ignore[attr-defined]
    fit.from_sums = from_sums  # type: ignore[attr-defined]
    return fit


#: ``(n, Σx, Σy, Σxxᵀ, Σxyᵀ, Σyyᵀ)`` of the lagged pairs of one resampling unit, float64.
UnitSums = tuple


def unit_sums(left: np.ndarray, right: np.ndarray, lag: int) -> UnitSums:
    """Raw sums of the lagged pairs ``(left[t], right[t + lag])`` of one block, float64.

    Parameters
    ----------
    left, right : ndarray (T, m)
        Features of one block (already shifted by a common offset for numerical stability).
    lag : int
        Lag in frames.

    Returns
    -------
    UnitSums
        ``(n, Σx (m,), Σy (m,), Σxxᵀ (m, m), Σxyᵀ (m, m), Σyyᵀ (m, m))``; all zero when ``T <= lag``.
    """
    m = left.shape[1]
    if len(left) <= lag:
        z = np.zeros((m, m))
        return (0.0, np.zeros(m), np.zeros(m), z, z, z)
    x, y = left[:-lag], right[lag:]
    return (float(len(x)), x.sum(0), y.sum(0), x.T @ x, x.T @ y, y.T @ y)


def _combine(parts: list[UnitSums], counts: np.ndarray, offset: np.ndarray) -> UnitSums:
    """Sums of a resample (unit ``u`` taken ``counts[u]`` times), with the common offset added back."""
    n = sum(c * p[0] for c, p in zip(counts, parts) if c)
    if n <= 0:
        return (0.0, None, None, None, None, None)
    acc = [sum(c * p[j] for c, p in zip(counts, parts) if c) for j in range(1, 6)]
    sx, sy, sxx, sxy, syy = acc
    # undo the shift x' = x - o:  Σx = Σx' + n o,  Σxxᵀ = Σx'x'ᵀ + Σx' oᵀ + o Σx'ᵀ + n o oᵀ
    o = offset
    sxx = sxx + np.outer(sx, o) + np.outer(o, sx) + n * np.outer(o, o)
    sxy = sxy + np.outer(sx, o) + np.outer(o, sy) + n * np.outer(o, o)
    syy = syy + np.outer(sy, o) + np.outer(o, sy) + n * np.outer(o, o)
    return (n, sx + n * o, sy + n * o, sxx, sxy, syy)


@dataclasses.dataclass
class ITSResult:
    """Implied timescales at a list of lags.

    Attributes
    ----------
    lags : ndarray (n_lags,) int64
        Lag times in frames, ascending.
    timestep_ps : float
        Frame spacing in ps.
    timescales_ps : ndarray (n_lags, k) float64
        Point estimates in ps, descending along axis 1 (NaN where undefined).
    ci_lower, ci_upper : ndarray (n_lags, k) or None
        Percentile bootstrap interval in ps (None without bootstrap).
    samples_ps : ndarray (n_bootstrap, n_lags, k) or None
        Bootstrap timescales in ps.
    confidence : float
        Confidence level of the interval.
    resampling : str
        ``"trajectories"`` or ``"blocks"`` (or ``"none"``).
    models : list
        The point-estimate models, one per lag.
    """

    lags: np.ndarray
    timestep_ps: float
    timescales_ps: np.ndarray
    ci_lower: np.ndarray | None
    ci_upper: np.ndarray | None
    samples_ps: np.ndarray | None
    confidence: float
    resampling: str
    models: list

    @property
    def lags_ps(self) -> np.ndarray:
        """Lag times in ps, shape (n_lags,)."""
        return self.lags * self.timestep_ps

    def at_lag(self, lag: int) -> dict:
        """Timescales (ps) and interval at one lag in frames, as a dict of lists."""
        idx = np.flatnonzero(self.lags == int(lag))
        if idx.size == 0:
            raise LagError(f"Lag {lag} frames is not among the analysed lags {self.lags.tolist()}.")
        i = int(idx[0])
        return {
            "timescales_ps": _jsonable(self.timescales_ps[i]),
            "ci_lower_ps": None if self.ci_lower is None else _jsonable(self.ci_lower[i]),
            "ci_upper_ps": None if self.ci_upper is None else _jsonable(self.ci_upper[i]),
        }

    def to_dict(self) -> dict:
        """JSON-able summary (NaN/inf become None)."""
        return {
            "lags_frames": self.lags.astype(int).tolist(),
            "lags_ps": self.lags_ps.tolist(),
            "timescales_ps": [_jsonable(r) for r in self.timescales_ps],
            "ci_lower_ps": None if self.ci_lower is None else [_jsonable(r) for r in self.ci_lower],
            "ci_upper_ps": None if self.ci_upper is None else [_jsonable(r) for r in self.ci_upper],
            "confidence": self.confidence,
            "resampling": self.resampling,
            "n_bootstrap": 0 if self.samples_ps is None else int(self.samples_ps.shape[0]),
        }

    def to_deeptime(self):
        """deeptime ``ImpliedTimescales`` (lags and timescales in frames, with bootstrap samples).

        Returns
        -------
        deeptime.util.validation.ImpliedTimescales
            Usable with ``deeptime.plots.plot_implied_timescales``.
        """
        from deeptime.util.validation import ImpliedTimescales

        its = [row / self.timestep_ps for row in self.timescales_ps]
        stats = None
        if self.samples_ps is not None:
            stats = [self.samples_ps[:, i, :] / self.timestep_ps for i in range(len(self.lags))]
        return ImpliedTimescales(self.lags.astype(int), its, stats)


def _jsonable(row) -> list:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(row, float)]


def _timescales_of(model, lag: int, timestep_ps: float, k: int) -> np.ndarray:
    t = timescales_from_eigenvalues(np.asarray(model.eigenvalues), lag, timestep_ps)[:k]
    return np.pad(t, (0, k - len(t)), constant_values=np.nan)


def its_vs_lag(features, lags: Sequence[int], timestep_ps: float = 1.0, fit: Callable | None = None,
               k: int | None = None, n_bootstrap: int = 100, confidence: float = 0.95, n_blocks: int = 10,
               seed: int = 0, progress: bool = False, features_right=None) -> ITSResult:
    """Re-estimate the linear Koopman model on fixed features at each lag; bootstrap the timescales.

    Parameters
    ----------
    features : list of ndarray, each (T_i, m) float
        Learned functions per trajectory (constant excluded), e.g. ``model.features(data)``.
    lags : sequence of int
        Lag times in frames (>= 1).
    timestep_ps : float
        Frame spacing in ps.
    fit : callable, optional
        ``fit(features, lag, features_right=None) -> model`` with ``model.eigenvalues``;
        default :func:`linear_fit` (reversible).
    k : int, optional
        Number of timescales kept (default: all, i.e. m).
    n_bootstrap : int
        Bootstrap samples (0: no intervals).
    confidence : float
        Level of the percentile interval.
    n_blocks : int
        Minimum number of resampling units: with fewer trajectories, contiguous blocks are resampled
        (see :func:`bootstrap_units`).
    seed : int
        Seed of the resampling.
    progress : bool
        Show a tqdm progress bar over bootstrap samples.
    features_right : list of ndarray, optional
        Right-lobe functions g per trajectory (models with separate lobes); pairs are
        ``(features[i][t], features_right[i][t + lag])``.

    Returns
    -------
    ITSResult
    """
    feats, right, lags_arr = _its_inputs(features, features_right, lags, confidence)
    fit = fit or linear_fit()
    k = int(k or feats[0].shape[1])
    models = []
    point = np.full((len(lags_arr), k), np.nan)
    for i, lag in enumerate(lags_arr):
        m = fit(feats, int(lag)) if right is None else fit(feats, int(lag), right)
        models.append(m)
        point[i] = _timescales_of(m, int(lag), timestep_ps, k)

    samples = lo = hi = None
    resampling = "none"
    if n_bootstrap and n_bootstrap > 0:
        units = bootstrap_units([len(f) for f in feats], n_blocks=n_blocks,
                                min_block=min(2 * int(lags_arr.max()) + 1, max(len(f) for f in feats) // 2))
        resampling = "trajectories" if len(units) == len(feats) else "blocks"
        if len(units) < 2:
            log.warning("Only one resampling unit; no bootstrap interval.")
        else:
            samples = _bootstrap_timescales(feats, right, units, lags_arr, fit, int(n_bootstrap), k, timestep_ps,
                                            np.random.default_rng(seed), progress)
            alpha = (1.0 - confidence) / 2.0
            with np.errstate(invalid="ignore"), _quiet_nan():
                lo = np.nanquantile(samples, alpha, axis=0)
                hi = np.nanquantile(samples, 1.0 - alpha, axis=0)
    return ITSResult(lags=lags_arr, timestep_ps=float(timestep_ps), timescales_ps=point, ci_lower=lo, ci_upper=hi,
                     samples_ps=samples, confidence=float(confidence), resampling=resampling, models=models)


def _its_inputs(features, features_right, lags, confidence) -> tuple[list, list | None, np.ndarray]:
    """``(features, right-lobe features or None, sorted unique lags)`` of :func:`its_vs_lag`, checked."""
    feats = as_array_list(features, "feature")
    right = None
    if features_right is not None:
        right = as_array_list(features_right, "right-lobe feature")
        if [r.shape for r in right] != [f.shape for f in feats]:
            raise InputError("features_right must have the same shapes as features (one array per trajectory).")
    lags_arr = np.unique(np.asarray([int(x) for x in lags], dtype=np.int64))
    if lags_arr.size == 0 or lags_arr.min() < 1:
        raise LagError(f"Lags must be positive frame counts, got {list(lags)}.")
    longest = max(len(f) for f in feats)
    too_long = lags_arr[lags_arr >= longest]
    if too_long.size:
        raise LagError(
            f"The lags {too_long.tolist()} (frames) are not shorter than the longest trajectory ({longest} frames); "
            "drop them or use longer trajectories."
        )
    if not 0 < confidence < 1:
        raise InputError(f"confidence={confidence}: must lie strictly between 0 and 1.")
    return feats, right, lags_arr


def _bootstrap_timescales(feats, right, units, lags_arr, fit, n_bootstrap: int, k: int, timestep_ps: float,
                          rng: np.random.Generator, progress: bool) -> np.ndarray:
    """Timescales (n_bootstrap, n_lags, k) in ps, refitted on resampled units (NaN where a resample is degenerate).

    A fit with ``from_sums`` is refitted from per-unit moment sums computed once per lag (a resample is a
    weighted sum of them); any other fit is refitted on the resampled pieces of the trajectories.
    """
    samples = np.full((n_bootstrap, len(lags_arr), k), np.nan)
    it = range(n_bootstrap)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="bootstrap ITS", unit="sample")
    fast = getattr(fit, "from_sums", None)
    if fast is not None:
        offset = np.mean([f.mean(0) for f in feats], axis=0)
        rgt = feats if right is None else right
        sums = [[unit_sums(feats[t][a:b] - offset, rgt[t][a:b] - offset, int(lag)) for t, a, b in units]
                for lag in lags_arr]
    for s in it:
        pick = rng.integers(0, len(units), size=len(units))
        counts = np.bincount(pick, minlength=len(units))
        sub = [(units[j][0], units[j][1], units[j][2]) for j in pick]
        for i, lag in enumerate(lags_arr):
            use = [(t, a, b) for t, a, b in sub if b - a > lag]
            if not use:
                continue
            try:
                if fast is not None:
                    m = fast(_combine(sums[i], counts, offset), int(lag))
                elif right is None:
                    m = fit([feats[t][a:b] for t, a, b in use], int(lag))
                else:
                    m = fit([feats[t][a:b] for t, a, b in use], int(lag), [right[t][a:b] for t, a, b in use])
            except (InputError, np.linalg.LinAlgError) as exc:  # degenerate resample
                log.debug("bootstrap sample %d, lag %d skipped: %s", s, lag, exc)
                continue
            samples[s, i] = _timescales_of(m, int(lag), timestep_ps, k)
    return samples


class _quiet_nan:
    """Silence numpy's all-NaN-slice RuntimeWarning inside a block."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
