"""Batches of time-lagged pairs ``(x_t, x_t+lag)`` for training.

:class:`PairLoader` gathers frames from a memory-mapped
:class:`~mdkoop.io.store.TrajectoryStore` (positions, (B, n_atoms, 3)) or from
in-memory feature arrays ((B, d), the MLP path), in an order that depends only on
``(seed, epoch)``. It can start an epoch at any batch (exact mid-epoch resume)
and shard pairs over distributed ranks so that ranks see disjoint pairs.

Worker processes and pinned memory are off by default: gathering a batch from
a memmap is a plain memory copy, which a worker process would have to pickle
across a pipe, so workers are slower than the in-process loader (``benchmarks/bench_loader.py``;
figures in ``benchmarks/RESULTS.md``). ``pin_memory`` can be switched on for CUDA devices.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..errors import ConfigError, InputError

__all__ = ["PairLoader"]


def _as_pairs(pairs) -> np.ndarray:
    idx = getattr(pairs, "indices", pairs)
    idx = np.asarray(idx)
    if idx.ndim != 2 or idx.shape[1] != 2 or not np.issubdtype(idx.dtype, np.integer):
        raise InputError(f"pairs must be TimeLaggedPairs or an (n_pairs, 2) integer array, got shape {idx.shape}.")
    if len(idx) == 0:
        raise InputError("There are no pairs to load (empty pair list).")
    return idx.astype(np.int64, copy=False)


class PairLoader:
    """Iterate ``(x_t, x_tau)`` float32 tensor batches of time-lagged pairs.

    Parameters
    ----------
    source : TrajectoryStore, ndarray, or sequence of ndarray
        A store (batches of positions, shape (B, n_atoms, 3), nm), or feature arrays
        in trajectory order: one (N, ...) array indexed by global frame, or a list of
        (T_i, ...) arrays that are concatenated (batches of shape (B, ...)).
    pairs : TimeLaggedPairs or ndarray, shape (n_pairs, 2), int
        Global frame indices ``(t, t + lag)``.
    batch_size : int
        Pairs per batch (per rank).
    shuffle : bool
        Shuffle pairs each epoch (seeded by ``seed`` and the epoch).
    seed : int
        Seed of the shuffle.
    drop_last : bool
        Drop a last incomplete batch.
    device : str or torch.device
        Device of the returned tensors.
    rank, world_size : int
        Distributed sharding: each epoch's shuffled pairs are cut to a multiple of
        ``world_size`` and rank ``r`` takes every ``world_size``-th pair from ``r``,
        so ranks get disjoint pairs and the same number of batches.
    pin_memory : bool
        Pin host batches before copying them to a CUDA device.

    Notes
    -----
    The order of an epoch depends only on ``(seed, epoch, rank, world_size)``:
    call :meth:`set_epoch` before iterating, and :meth:`skip` (or
    :meth:`iter_epoch` with ``start_batch``) to resume in the middle of an epoch.
    """

    def __init__(self, source, pairs, batch_size: int = 256, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, device: str | torch.device = "cpu", *, rank: int = 0,
                 world_size: int = 1, pin_memory: bool = False):
        self.pairs = _as_pairs(pairs)
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if int(world_size) < 1 or not 0 <= int(rank) < int(world_size):
            raise ConfigError(f"Need 0 <= rank < world_size, got rank={rank}, world_size={world_size}.")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.device = torch.device(device)
        self.rank, self.world_size = int(rank), int(world_size)
        self.pin_memory = bool(pin_memory) and self.device.type == "cuda"
        self.epoch = 0
        self._skip = 0
        self._store = None
        self._array = None
        if hasattr(source, "frames") and hasattr(source, "n_frames"):
            self._store = source
            n_frames = int(source.n_frames)
        else:
            arr = source
            if isinstance(source, Sequence) and not isinstance(source, np.ndarray):
                if not len(source):
                    raise InputError("The list of feature arrays is empty.")
                arr = np.concatenate([np.asarray(a, dtype=np.float32) for a in source], axis=0)
            arr = np.asarray(arr)
            if arr.ndim < 2:
                raise InputError(f"Feature arrays must have shape (n_frames, ...), got {arr.shape}.")
            self._array = np.ascontiguousarray(arr, dtype=np.float32)
            n_frames = len(self._array)
        if self.pairs.min() < 0 or self.pairs.max() >= n_frames:
            raise InputError(
                f"The pairs index frames up to {int(self.pairs.max())}, but the data have {n_frames} frames. "
                f"Build the pairs from the same store/arrays (its trajectory_lengths)."
            )
        self.n_frames = n_frames

    # -- order ---------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose order the next iteration uses."""
        self.epoch = int(epoch)

    def skip(self, n_batches: int) -> None:
        """Start the next iteration at batch ``n_batches`` of the current epoch (one-shot)."""
        if int(n_batches) < 0:
            raise ConfigError(f"Cannot skip a negative number of batches ({n_batches}).")
        self._skip = int(n_batches)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """Row indices into the pairs for this rank and ``epoch``, in iteration order (int64)."""
        e = self.epoch if epoch is None else int(epoch)
        n = len(self.pairs)
        if self.shuffle:
            perm = np.random.default_rng([self.seed, e]).permutation(n)
        else:
            perm = np.arange(n, dtype=np.int64)
        if self.world_size > 1:
            perm = perm[: (n // self.world_size) * self.world_size][self.rank :: self.world_size]
        return perm

    def __len__(self) -> int:
        n = len(self.order(0)) if self.world_size > 1 else len(self.pairs)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def n_pairs(self) -> int:
        """Pairs this rank sees per epoch (before drop_last)."""
        return len(self.pairs) // self.world_size if self.world_size > 1 else len(self.pairs)

    # -- data ------------------------------------------------------------------
    def _gather(self, frames: np.ndarray) -> torch.Tensor:
        x = self._store.frames(frames) if self._store is not None else self._array[frames]
        t = torch.from_numpy(x)
        if self.pin_memory:
            t = t.pin_memory()
        return t.to(self.device, non_blocking=self.pin_memory)

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``(x_t, x_tau)`` tensors of the given pair rows."""
        p = self.pairs[rows]
        return self._gather(p[:, 0]), self._gather(p[:, 1])

    def iter_epoch(self, epoch: int | None = None, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Iterate the batches of ``epoch`` (default: the current one) from ``start_batch`` on."""
        order = self.order(epoch)
        nb = len(order) // self.batch_size if self.drop_last else -(-len(order) // self.batch_size)
        for b in range(int(start_batch), nb):
            yield self.batch(order[b * self.batch_size : (b + 1) * self.batch_size])

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        start, self._skip = self._skip, 0
        return self.iter_epoch(self.epoch, start)
