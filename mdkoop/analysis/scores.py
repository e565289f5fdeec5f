"""VAMP scores of a fitted model's singular functions on (other) learned features.

deeptime's convention: the constant function is included, so VAMP-2 = 1 + Σσᵢ²
on the data the model was estimated on.
"""

from __future__ import annotations

import numpy as np

from ..errors import LagError
from ._arrays import as_array_list

__all__ = ["lagged_pairs", "vamp_scores"]


def lagged_pairs(features, lag: int, features_right=None) -> tuple[np.ndarray, np.ndarray]:
    """Stack the time-lagged pairs of per-trajectory features.

    Parameters
    ----------
    features : list of ndarray (T_i, m)
        Left-lobe functions f per trajectory.
    lag : int
        Lag in frames.
    features_right : list of ndarray (T_i, m), optional
        Right-lobe functions g (separate lobes); default ``features``.

    Returns
    -------
    F0, F1 : ndarray (n_pairs, m) float64
        ``f(x_t)`` and ``g(x_{t+lag})`` for every t of every trajectory longer than ``lag``.

    Raises
    ------
    LagError
        If no trajectory is longer than ``lag``.
    """
    left = as_array_list(features, "feature")
    right = left if features_right is None else as_array_list(features_right, "right-lobe feature")
    F0 = [f[:-lag] for f in left if len(f) > lag]
    F1 = [g[lag:] for g in right if len(g) > lag]
    if not F0:
        raise LagError(f"All trajectories are at most {lag} frames long (the lag): there is nothing to score.")
    return np.concatenate(F0), np.concatenate(F1)


def vamp_scores(linear, features, lag: int, features_right=None) -> dict[str, float]:
    """VAMP-2 and VAMP-E of ``linear``'s singular functions on the given features.

    Parameters
    ----------
    linear : mdkoop.estimation.model.LinearKoopmanModel
        The fitted linear model (its singular functions are kept fixed).
    features, features_right : list of ndarray (T_i, m)
        Learned functions of the evaluation data (see :func:`lagged_pairs`).
    lag : int
        Lag in frames (the model's).

    Returns
    -------
    dict
        ``{"vamp2": float, "vampe": float, "n_pairs": int}``.
    """
    F0, F1 = lagged_pairs(features, lag, features_right)
    return {
        "vamp2": float(linear.score_features(F0, F1, r=2)),
        "vampe": float(linear.score_features(F0, F1, r="E")),
        "n_pairs": int(len(F0)),
    }
