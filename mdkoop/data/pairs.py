"""Time-lagged index pairs and leakage-free train/validation/test splits.

Frames are addressed by *global* index: the position in the concatenation of all
trajectories (trajectory ``i`` starts at ``offsets[i] = sum(lengths[:i])``). A pair
``(t, t + lag)`` always lies inside one :class:`Segment`, so it never crosses a
trajectory boundary or a split boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, LagError
from ..units import lag_to_frames

__all__ = ["Segment", "split_segments", "TimeLaggedPairs", "offsets_from_lengths"]

_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Segment:
    """A contiguous block of frames ``[start, stop)`` of trajectory ``traj`` (local frame indices)."""

    traj: int
    start: int
    stop: int

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def offsets_from_lengths(trajectory_lengths) -> np.ndarray:
    """Global index of each trajectory's first frame, plus the total: shape (n_traj + 1,), int64."""
    lengths = _lengths(trajectory_lengths)
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _lengths(trajectory_lengths) -> np.ndarray:
    lengths = np.asarray(trajectory_lengths, dtype=np.int64).reshape(-1)
    if lengths.size == 0 or (lengths < 0).any():
        raise ConfigError(f"trajectory_lengths must be a non-empty list of non-negative ints, got {trajectory_lengths!r}.")
    return lengths


def _check_fractions(fractions) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64).reshape(-1)
    if f.size != 3 or (f < 0).any() or not np.isfinite(f).all() or f[0] <= 0:
        raise ConfigError(
            f"Split fractions must be three non-negative numbers (train, val, test) with train > 0, got {fractions!r}."
        )
    return f / f.sum()


def split_segments(trajectory_lengths, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                   block: int | None = None) -> dict[str, list[Segment]]:
    """Split frames into train / val / test without leakage.

    With enough trajectories, whole trajectories are assigned to splits: a seeded
    shuffle, then each trajectory goes to the split furthest below its target share
    of frames (every non-empty split gets at least one trajectory). "Enough" means at
    least one trajectory per non-empty split and ``n_trajectories * f >= 0.5`` for the
    smallest non-zero fraction ``f`` (so that shares can be met to about one trajectory;
    e.g. 2 trajectories with a 10 % validation share would otherwise give it 50 %).
    Otherwise (e.g. one long trajectory) each trajectory is cut into contiguous blocks
    ``[train | val | test]`` in time order. With ``block``, each trajectory is first cut into chunks of
    about ``block`` frames and every chunk is split ``[train | val | test]``: the held-out parts are then
    interleaved through the whole trajectory instead of one block at its end (a single block shorter than
    the slowest process holds none of its events, and after a one-way transition it samples only one
    state).
    Random frames are never used: neighbouring frames are correlated, so that would leak.

    Parameters
    ----------
    trajectory_lengths : sequence of int
        Frames per trajectory.
    fractions : (float, float, float)
        Target shares of train, val, test (normalised; val/test may be 0).
    seed : int
        Seed of the trajectory shuffle.
    block : int, optional
        Chunk length in frames for the block split (see above); default: one chunk per trajectory.

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}`` lists of :class:`Segment`,
        sorted by (traj, start). Segments of different splits never overlap.
    """
    lengths = _lengths(trajectory_lengths)
    f = _check_fractions(fractions)
    active = [k for k in range(3) if f[k] > 0]
    out: dict[str, list[Segment]] = {s: [] for s in _SPLITS}
    n_traj = len(lengths)
    if n_traj >= len(active) and n_traj * min(f[k] for k in active) >= 0.5:
        rng = np.random.default_rng(seed)
        order = rng.permutation(n_traj)
        total = float(lengths.sum())
        assigned = np.zeros(3)
        # every active split first gets one trajectory (smaller splits draw first), then the rest by deficit
        take = list(order)
        for k in sorted(active, key=lambda k: f[k]):
            t = int(take.pop(0))
            out[_SPLITS[k]].append(Segment(t, 0, int(lengths[t])))
            assigned[k] += lengths[t]
        for t in take:
            deficit = [(f[k] * total - assigned[k]) / f[k] if f[k] > 0 else -np.inf for k in range(3)]
            k = int(np.argmax(deficit))
            out[_SPLITS[k]].append(Segment(int(t), 0, int(lengths[t])))
            assigned[k] += lengths[t]
    else:
        cum = np.cumsum(f)
        if block is not None and (isinstance(block, bool) or int(block) < 1):
            raise ConfigError(f"block must be a positive number of frames, got {block!r}.")
        for t, n in enumerate(lengths):
            n_chunks = 1 if block is None else max(1, int(round(n / int(block))))
            edges = np.linspace(0, int(n), n_chunks + 1).round().astype(np.int64)
            for a, b in zip(edges[:-1], edges[1:]):
                m = int(b - a)
                cuts = [0, *[int(round(c * m)) for c in cum[:-1]], m]
                for k in range(3):
                    if f[k] > 0 and cuts[k + 1] > cuts[k]:
                        out[_SPLITS[k]].append(Segment(t, int(a) + cuts[k], int(a) + cuts[k + 1]))
    for s in _SPLITS:
        out[s].sort(key=lambda seg: (seg.traj, seg.start))
    return out


class TimeLaggedPairs:
    """All (t, t + lag) pairs of global frame indices inside the given segments.

    Parameters
    ----------
    trajectory_lengths : sequence of int
        Frames per trajectory (e.g. ``store.trajectory_lengths``).
    lag : int or str
        The lag in frames, or as a time (``"500ps"``, ``"1ns"``) with ``timestep_ps``.
    segments : list of Segment, optional
        Restrict pairs to these blocks (e.g. ``split_segments(...)["train"]``);
        default: every whole trajectory.
    timestep_ps : float, optional
        Frame spacing in ps; needed when ``lag`` is a time.

    Attributes
    ----------
    lag : int
        The lag in frames.
    indices : ndarray, shape (n_pairs, 2), int64
        Global frame indices ``(t, t + lag)``, ordered by segment then time.
    segments : list of Segment

    Raises
    ------
    LagError
        If the lag is invalid, not a multiple of the frame spacing, or longer than every segment.
    """

    def __init__(self, trajectory_lengths, lag, segments: Sequence[Segment] | None = None,
                 timestep_ps: float | None = None):
        lengths = _lengths(trajectory_lengths)
        self.trajectory_lengths = lengths
        self.offsets = offsets_from_lengths(lengths)
        self.lag = lag_to_frames(lag, timestep_ps)
        self.timestep_ps = timestep_ps
        if segments is None:
            segments = [Segment(i, 0, int(n)) for i, n in enumerate(lengths)]
        self.segments = list(segments)
        blocks = []
        for s in self.segments:
            if not (0 <= s.traj < len(lengths)) or s.start < 0 or s.stop > lengths[s.traj] or s.start > s.stop:
                raise ConfigError(f"{s} does not fit the trajectories (lengths {lengths.tolist()}).")
            n = len(s) - self.lag
            if n > 0:
                t0 = self.offsets[s.traj] + s.start + np.arange(n, dtype=np.int64)
                blocks.append(t0)
        if not blocks:
            longest = max((len(s) for s in self.segments), default=0)
            what = f"{self.lag} frames" + (f" ({self.lag * timestep_ps:g} ps)" if timestep_ps else "")
            raise LagError(
                f"The lag of {what} leaves no time-lagged pair: it must be shorter than at least one trajectory "
                f"(or split segment); the longest has {longest} frames. Use a shorter lag or longer trajectories."
            )
        t = np.concatenate(blocks)
        self.indices = np.stack([t, t + self.lag], axis=1)

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"TimeLaggedPairs(n_pairs={len(self)}, lag={self.lag}, n_segments={len(self.segments)})"
