"""Cross-validated VAMP scores of an estimator: the encoder is refitted on every training fold.

``KoopmanModel.score(test)`` scores the functions of *one* fitted model on other data. Comparing
encoders, losses or hyperparameters needs more: each candidate must be trained without the data it is
judged on. :func:`vamp_score_cv` does that. Every trajectory is cut into ``n_splits`` contiguous blocks;
fold ``k`` holds out block ``k`` of every trajectory, trains a clone of the estimator on the rest (the
pieces before and after the held-out block count as separate trajectories, so no time-lagged pair spans
the gap), and scores the held-out blocks at the model's lag. Contiguous blocks, not random frames, keep
the test data's slow dynamics intact.

deeptime's ``vamp_score_cv`` re-estimates a linear model on fixed features per fold; here the features
themselves (the encoder) are refitted, which is what a fair comparison of learned CVs needs.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, InputError
from ..io.trajectory_store import TrajectoryStore

__all__ = ["vamp_score_cv", "block_folds", "StoreSegments"]


def block_folds(lengths, n_splits: int, lag: int) -> list[tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]]:
    """Train/test segments of each fold: ``[(train, test), ...]``, segments as ``(trajectory, start, stop)``.

    Parameters
    ----------
    lengths : sequence of int
        Frames per trajectory.
    n_splits : int
        Number of folds (>= 2); each trajectory is cut into this many contiguous blocks.
    lag : int
        Lag in frames: every held-out block must hold at least one pair.

    Raises
    ------
    ConfigError
        ``n_splits < 2``, or a block too short for one pair at the lag.
    """
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 2:
        raise ConfigError(f"n_splits must be an integer >= 2, got {n_splits!r}.")
    edges = [np.linspace(0, int(n), n_splits + 1).astype(np.int64) for n in lengths]
    shortest = min(int(np.diff(e).min()) for e in edges)
    if shortest <= lag:
        raise ConfigError(f"With {n_splits} folds the shortest block has {shortest} frames, not more than the lag "
                          f"({lag} frames): use fewer folds or a shorter lag.")
    folds = []
    for k in range(n_splits):
        train, test = [], []
        for i, e in enumerate(edges):
            test.append((i, int(e[k]), int(e[k + 1])))
            if k > 0:
                train.append((i, 0, int(e[k])))
            if k < n_splits - 1:
                train.append((i, int(e[k + 1]), int(e[-1])))
        folds.append((train, test))
    return folds


class StoreSegments(TrajectoryStore):
    """A read-only view of some frame ranges of a store, each range a trajectory of its own.

    Parameters
    ----------
    store : TrajectoryStore
    segments : sequence of (trajectory, start, stop)
        Frame ranges ``[start, stop)`` of the store's trajectories.
    """

    def __init__(self, store: TrajectoryStore, segments):
        self._parent = store
        self._segments = [(int(i), int(a), int(b)) for i, a, b in segments]
        meta = dict(store.metadata)
        meta["trajectories"] = [
            {**store.metadata["trajectories"][i], "n_frames": b - a, "segment": [a, b]} for i, a, b in self._segments]
        meta["trajectory_lengths"] = [b - a for _, a, b in self._segments]
        meta["n_frames"] = int(sum(meta["trajectory_lengths"]))
        super().__init__(store.path, meta)
        self.topology_path = store.topology_path

    def trajectory(self, i: int) -> np.ndarray:
        if not -self.n_trajectories <= i < self.n_trajectories:
            raise InputError(f"Trajectory index {i} is out of range: the view has {self.n_trajectories}.")
        t, a, b = self._segments[i % self.n_trajectories]
        return self._parent.trajectory(t)[a:b]


def _lengths_and_lag(estimator, data) -> tuple[list[int], int]:
    from ..units import array_timestep, lag_to_frames

    if isinstance(data, TrajectoryStore):
        return [int(n) for n in data.trajectory_lengths], lag_to_frames(estimator.lagtime, float(data.timestep_ps))
    ts, unit = array_timestep(estimator.timestep, estimator.lagtime)
    return [len(x) for x in data], lag_to_frames(estimator.lagtime, ts if unit == "ps" else None)


def _subset(data, segments):
    if isinstance(data, TrajectoryStore):
        return StoreSegments(data, segments)
    return [data[i][a:b] for i, a, b in segments]


def vamp_score_cv(estimator, data, n_splits: int = 5, r=2, progress: bool = False) -> np.ndarray:
    """VAMP-r of ``estimator`` on held-out data, the encoder refitted on each training fold.

    Parameters
    ----------
    estimator : mdkoop.KoopmanSVD
        Its settings are used as they are (a clone is fitted per fold, without a run directory).
    data : list of ndarray (T_i, d), or TrajectoryStore, or a store path
        What the estimator's ``fit`` takes.
    n_splits : int
        Folds; every trajectory is cut into this many contiguous blocks.
    r : {1, 2, "E"}
        The VAMP score (deeptime's convention, constant included).
    progress : bool
        Log each fold's score.

    Returns
    -------
    ndarray, shape (n_splits,), float64
        The held-out score of each fold.
    """
    from ..utils.logging import get_logger

    if isinstance(data, str) or hasattr(data, "__fspath__"):
        data = TrajectoryStore.open(data)
    if isinstance(data, np.ndarray):
        data = [data]
    if not isinstance(data, TrajectoryStore):
        data = [np.asarray(x) for x in data]
    lengths, lag = _lengths_and_lag(estimator, data)
    scores = []
    log = get_logger("analysis")
    for k, (train, test) in enumerate(block_folds(lengths, n_splits, lag)):
        est = type(estimator)(**estimator.get_params())  # a clone: the same settings, no fitted state
        model = est.fit(_subset(data, train)).fetch_model()
        scores.append(model.score(_subset(data, test), r=r))
        if progress:
            log.info("fold %d/%d: held-out VAMP-%s %.4f", k + 1, n_splits, r, scores[-1])
    return np.asarray(scores, dtype=np.float64)
