"""Chapman–Kolmogorov test on learned CVs: k-means + MSM + PCCA+ metastable sets.

The CVs (one ``(T_i, k)`` array per trajectory) are discretised with k-means
(deeptime), a reversible maximum-likelihood MSM is estimated at the training lag
and at multiples of it, PCCA+ gives ``n_sets`` metastable sets, and deeptime's
``MarkovStateModel.ck_test`` compares the probability of staying in / moving
between the sets predicted by the lag-τ model (``T(τ)^n``) with the one
estimated directly at ``nτ``.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from ..errors import InputError, LagError
from ._arrays import as_array_list

__all__ = ["CKResult", "discretize_cvs", "estimate_msm", "ck_test_cvs"]

log = logging.getLogger("mdkoop.analysis")


@dataclasses.dataclass
class CKResult:
    """Result of :func:`ck_test_cvs`.

    Attributes
    ----------
    lagtimes : ndarray, shape (n_lags,), int
        Lag times in frames, starting with 0 (identity) then ``lag, 2 lag, ...``.
    predictions : ndarray, shape (n_lags, n_sets, n_sets), float64
        ``predictions[l, i, j]``: probability of being in set ``j`` after ``lagtimes[l]``
        when starting in set ``i``, predicted by the model at the training lag.
    estimates : ndarray, shape (n_lags, n_sets, n_sets), float64
        The same probabilities from MSMs estimated directly at each lag.
    timestep_ps : float
        Frame spacing in ps (``lagtimes * timestep_ps`` is the lag in ps).
    n_clusters : int
        Number of k-means microstates.
    n_sets : int
        Number of PCCA+ metastable sets.
    stationary_set_probabilities : ndarray, shape (n_sets,)
        Stationary probability of each metastable set at the training lag.
    deeptime_test : deeptime.util.validation.ChapmanKolmogorovTest
        deeptime's object, usable with ``deeptime.plots.plot_ck_test``.
    msm : deeptime.markov.msm.MarkovStateModel
        The MSM at the training lag (largest connected set).
    """

    lagtimes: np.ndarray
    predictions: np.ndarray
    estimates: np.ndarray
    timestep_ps: float
    n_clusters: int
    n_sets: int
    stationary_set_probabilities: np.ndarray
    deeptime_test: object
    msm: object

    @property
    def lagtimes_ps(self) -> np.ndarray:
        """Lag times in ps, shape (n_lags,)."""
        return self.lagtimes * self.timestep_ps

    @property
    def max_abs_error(self) -> float:
        """Largest ``|prediction - estimate|`` over all lags and set pairs."""
        return float(np.max(np.abs(self.predictions - self.estimates)))

    def to_dict(self) -> dict:
        """JSON-able summary (lists of floats)."""
        return {
            "lagtimes_frames": self.lagtimes.astype(int).tolist(),
            "lagtimes_ps": self.lagtimes_ps.tolist(),
            "predictions": self.predictions.tolist(),
            "estimates": self.estimates.tolist(),
            "n_clusters": int(self.n_clusters),
            "n_sets": int(self.n_sets),
            "stationary_set_probabilities": self.stationary_set_probabilities.tolist(),
            "max_abs_error": self.max_abs_error,
        }


def discretize_cvs(cvs, n_clusters: int = 50, seed: int = 0, max_fit_frames: int = 20000) -> list[np.ndarray]:
    """Assign every frame to a k-means cluster centre in CV space.

    Parameters
    ----------
    cvs : list of ndarray, each (T_i, k)
        CVs per trajectory (any units; k-means uses Euclidean distance).
    n_clusters : int
        Number of clusters (clipped to the number of frames).
    seed : int
        Seed of k-means++ initialisation.
    max_fit_frames : int
        The centres are fitted on at most this many frames (evenly strided).

    Returns
    -------
    list of ndarray, each (T_i,) int32
        Discrete trajectories.
    """
    from deeptime.clustering import KMeans

    cvs = as_array_list(cvs, "CV")
    data = np.concatenate(cvs)
    n_clusters = int(min(n_clusters, len(data)))
    if n_clusters < 2:
        raise InputError(f"Need at least 2 frames for clustering, got {len(data)}.")
    stride = max(1, len(data) // max_fit_frames)
    km = KMeans(n_clusters=n_clusters, init_strategy="kmeans++", max_iter=100, fixed_seed=seed, n_jobs=1)
    model = km.fit(data[::stride]).fetch_model()
    return [model.transform(c).astype(np.int32) for c in cvs]


def estimate_msm(dtrajs: list[np.ndarray], lag: int):
    """Reversible maximum-likelihood MSM on the largest connected set.

    Parameters
    ----------
    dtrajs : list of ndarray (T_i,) int
        Discrete trajectories.
    lag : int
        Lag time in frames.

    Returns
    -------
    deeptime.markov.msm.MarkovStateModel
    """
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import MaximumLikelihoodMSM

    longest = max(len(d) for d in dtrajs)
    if lag >= longest:
        raise LagError(f"The lag of {lag} frames is not shorter than the longest trajectory ({longest} frames).")
    counts = TransitionCountEstimator(lagtime=lag, count_mode="sliding").fit(dtrajs).fetch_model()
    counts = counts.submodel_largest()
    try:
        return MaximumLikelihoodMSM(reversible=True).fit(counts).fetch_model()
    except ValueError as exc:  # deeptime: no connected set of more than one state at this lag
        raise InputError(f"No MSM can be estimated at a lag of {lag} frames: {exc} The trajectories hold too few "
                         "transitions at this lag; use a shorter lag, fewer clusters, or more data.") from None


def ck_test_cvs(cvs, lag: int, timestep_ps: float = 1.0, n_sets: int = 2, n_clusters: int = 50,
                multiples: int = 4, seed: int = 0) -> CKResult:
    """Chapman–Kolmogorov test of a k-means MSM on the CVs.

    Parameters
    ----------
    cvs : list of ndarray, each (T_i, k)
        CVs per trajectory (e.g. ``model.transform(...)``).
    lag : int
        Training lag in frames.
    timestep_ps : float
        Frame spacing in ps.
    n_sets : int
        Number of PCCA+ metastable sets (>= 2).
    n_clusters : int
        Number of k-means microstates.
    multiples : int
        The test covers lags ``lag, 2 lag, ..., multiples*lag`` (only those shorter than the
        longest trajectory).
    seed : int
        k-means seed.

    Returns
    -------
    CKResult
    """
    from deeptime.util.validation import ck_test  # noqa: F401  (documented entry point)

    cvs = as_array_list(cvs, "CV")
    lag = int(lag)
    if lag < 1:
        raise LagError(f"The CK-test lag must be at least 1 frame, got {lag}.")
    if n_sets < 2:
        raise InputError(f"n_sets={n_sets}: a CK test needs at least 2 metastable sets.")
    longest = max(len(c) for c in cvs)
    lags = [m * lag for m in range(1, int(multiples) + 1) if m * lag < longest]
    if not lags:
        raise LagError(
            f"The lag of {lag} frames is not shorter than the longest trajectory ({longest} frames); "
            "use a shorter lag or longer trajectories."
        )
    if len(lags) < 2:
        log.warning("CK test: only the training lag fits into the trajectories; the test compares a single point.")
    dtrajs = discretize_cvs(cvs, n_clusters=n_clusters, seed=seed)
    models = [estimate_msm(dtrajs, lags[0])]
    for tau in lags[1:]:
        try:
            models.append(estimate_msm(dtrajs, tau))
        except InputError as exc:
            log.warning("CK test: stops before the lag of %d frames: %s", tau, exc)
            break
    lags = lags[: len(models)]
    msm = models[0]
    if msm.n_states <= n_sets:
        raise InputError(
            f"The MSM's largest connected set has {msm.n_states} states, too few for {n_sets} metastable sets; "
            "use longer trajectories, more clusters, or fewer sets."
        )
    test = msm.ck_test(models, n_sets)
    pred = np.real(np.asarray(test.predictions)).astype(np.float64)
    est = np.real(np.asarray(test.estimates)).astype(np.float64)
    pcca = msm.pcca(n_sets)
    return CKResult(
        lagtimes=np.asarray(test.lagtimes, dtype=np.int64),
        predictions=pred,
        estimates=est,
        timestep_ps=float(timestep_ps),
        n_clusters=int(max(int(d.max()) for d in dtrajs) + 1),
        n_sets=int(n_sets),
        stationary_set_probabilities=np.real(np.asarray(pcca.coarse_grained_stationary_probability)).astype(np.float64),
        deeptime_test=test,
        msm=msm,
    )
