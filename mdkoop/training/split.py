"""The held-out validation split of a fit: whole trajectories, or blocks interleaved through the data.

A single contiguous block shorter than the slowest process cannot judge it; blocks of ``VAL_BLOCK_LAGS`` lag
times spread over every trajectory sample its events wherever they happen (whether the split can judge the
slowest process is decided after training, :func:`mdkoop.training.run.validation_record`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["VAL_BLOCK_LAGS", "validation_block", "validation_split"]

#: length of each held-out validation block, in lag times (the blocks are interleaved through the data)
VAL_BLOCK_LAGS = 10


def validation_block(lag: int, val_fraction: float) -> int:
    """Chunk length (frames) of the interleaved validation split: ``VAL_BLOCK_LAGS`` lags held out per chunk.

    Parameters
    ----------
    lag : int
        Lag in frames.
    val_fraction : float
        Held-out share, in (0, 1).

    Returns
    -------
    int
        ``ceil(VAL_BLOCK_LAGS * lag / val_fraction)`` frames.
    """
    return int(np.ceil(VAL_BLOCK_LAGS * int(lag) / float(val_fraction)))


def validation_split(lengths, lag: int, val_fraction: float, seed: int) -> dict | None:
    """The train/validation split of :meth:`KoopmanSVD.fit` (None without validation).

    Whole trajectories when there are enough of them, otherwise interleaved blocks
    (:func:`validation_block`); see :func:`mdkoop.data.pairs.split_segments`.

    Returns
    -------
    dict or None
        ``{"train": [Segment, ...], "val": [...], "test": []}``.
    """
    from ..data.pairs import split_segments

    v = float(val_fraction)
    if v <= 0:
        return None
    return split_segments(lengths, fractions=(1.0 - v, v, 0.0), seed=seed, block=validation_block(lag, v))
