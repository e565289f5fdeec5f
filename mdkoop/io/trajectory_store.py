"""Reading side of the trajectory store: the format constants and :class:`TrajectoryStore`.

The on-disk layout is described in :mod:`mdkoop.io.store`; stores are written by
:mod:`mdkoop.io.store_write`. Import the public names from :mod:`mdkoop.io.store`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError, MissingFileError

__all__ = ["TrajectoryStore", "STORE_FORMAT", "STORE_FORMAT_VERSION", "STORE_META", "STORE_TOPOLOGY", "STORE_TRAJ_DIR",
           "STORE_NPY_HEADER_BYTES", "validate_store_metadata"]

STORE_FORMAT = "mdkoop-store"
STORE_FORMAT_VERSION = 1
STORE_META = "store.json"
STORE_TOPOLOGY = "topology.pdb"
STORE_TRAJ_DIR = "trajectories"
STORE_NPY_HEADER_BYTES = 128  # fixed, so the shape can be filled in once the frame count is known


# --------------------------------------------------------------------------- schema
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def validate_store_metadata(meta, where: str | os.PathLike = "store.json") -> None:
    """Check a parsed ``store.json`` against the store schema: keys, types, and their agreement.

    Parameters
    ----------
    meta : object
        The parsed JSON.
    where : path-like
        The file, for the messages.

    Raises
    ------
    InputError
        Naming the file, the first key that is wrong, and the fix (prepare the store again).
    """
    fix = "The store is damaged or was edited by hand; prepare it again with `mdkoop prepare`."

    def bad(what: str) -> InputError:
        return InputError(f"{str(where)!r}: {what}. {fix}")

    if not isinstance(meta, dict):
        raise bad(f"must hold a JSON object, not {type(meta).__name__}")
    if meta.get("format") != STORE_FORMAT:
        raise InputError(f"{str(where)!r} is not an mdkoop store file (format {meta.get('format')!r}).")
    if not _is_int(meta.get("format_version", 0)):
        raise bad(f"'format_version' must be an integer, got {meta.get('format_version')!r}")
    if int(meta.get("format_version", 0)) > STORE_FORMAT_VERSION:
        raise InputError(
            f"The store of {str(where)!r} has format version {meta.get('format_version')}, newer than this mdkoop "
            f"reads ({STORE_FORMAT_VERSION}). Upgrade mdkoop."
        )
    for key in ("n_atoms", "timestep_ps", "trajectory_lengths", "trajectories", "atomic_numbers", "atom_indices",
                "atom_names", "selection"):
        if key not in meta:
            raise bad(f"the key {key!r} is missing")
    n = meta["n_atoms"]
    if not _is_int(n) or n < 1:
        raise bad(f"'n_atoms' must be a positive integer, got {n!r}")
    if not _is_number(meta["timestep_ps"]) or meta["timestep_ps"] <= 0:
        raise bad(f"'timestep_ps' must be a positive number of ps, got {meta['timestep_ps']!r}")
    if not isinstance(meta["selection"], str):
        raise bad(f"'selection' must be a string, got {meta['selection']!r}")
    for key in ("atomic_numbers", "atom_indices", "atom_names"):
        v = meta[key]
        if not isinstance(v, list) or len(v) != n:
            raise bad(f"{key!r} must be a list of n_atoms = {n} entries")
        want = str if key == "atom_names" else int
        if not all(isinstance(x, want) and not isinstance(x, bool) for x in v):
            raise bad(f"{key!r} must hold only {want.__name__}s")
    lengths, trajs = meta["trajectory_lengths"], meta["trajectories"]
    if not isinstance(lengths, list) or not all(_is_int(x) and x >= 0 for x in lengths):
        raise bad("'trajectory_lengths' must be a list of frame counts (integers >= 0)")
    if not isinstance(trajs, list) or len(trajs) != len(lengths):
        raise bad(f"'trajectories' must be a list with one entry per trajectory length ({len(lengths)})")
    for i, t in enumerate(trajs):
        if not isinstance(t, dict) or not isinstance(t.get("file"), str) or not _is_int(t.get("n_frames")):
            raise bad(f"trajectory entry {i} must have a 'file' (string) and 'n_frames' (integer)")
        f = Path(t["file"])
        if f.is_absolute() or ".." in f.parts:
            raise bad(f"trajectory entry {i} names the file {t['file']!r} outside the store")
        if t["n_frames"] != lengths[i]:
            raise bad(f"trajectory {i} has n_frames {t['n_frames']} but 'trajectory_lengths' says {lengths[i]}")
    if "n_frames" in meta and meta["n_frames"] != sum(lengths):
        raise bad(f"'n_frames' is {meta['n_frames']!r} but the trajectory lengths add up to {sum(lengths)}")


# --------------------------------------------------------------------------- store
class TrajectoryStore:
    """A prepared trajectory store, opened read-only with memory-mapped coordinates.

    Use :meth:`open` (or :func:`prepare`) rather than the constructor.

    Attributes
    ----------
    path : Path
        The store directory.
    n_frames, n_atoms, n_trajectories : int
        Total frames, selected atoms, trajectories.
    trajectory_lengths : ndarray, shape (n_trajectories,), int64
        Frames per trajectory.
    offsets : ndarray, shape (n_trajectories + 1,), int64
        Global index of each trajectory's first frame; ``offsets[-1] == n_frames``.
    timestep_ps : float
        Spacing between stored frames in ps (stride included).
    atomic_numbers, atom_indices : ndarray, shape (n_atoms,), int64
        Atomic numbers; 0-based indices of the selected atoms in the original topology.
    atom_names : list of str
        Atom names of the selected atoms.
    topology_path : Path
        PDB of the selected atoms.
    selection : str
        The selection used (in the engine's language).
    metadata : dict
        The parsed ``store.json``.
    """

    def __init__(self, path: Path, metadata: dict):
        self.path = Path(path)
        self.metadata = metadata
        m = metadata
        self.n_atoms = int(m["n_atoms"])
        self.trajectory_lengths = np.asarray(m["trajectory_lengths"], dtype=np.int64)
        self.n_trajectories = len(self.trajectory_lengths)
        self.offsets = np.concatenate([[0], np.cumsum(self.trajectory_lengths)]).astype(np.int64)
        self.n_frames = int(self.offsets[-1])
        self.timestep_ps = float(m["timestep_ps"])
        self.atomic_numbers = np.asarray(m["atomic_numbers"], dtype=np.int64)
        self.atom_indices = np.asarray(m["atom_indices"], dtype=np.int64)
        self.atom_names = list(m["atom_names"])
        self.elements = list(m.get("elements", []))
        self.selection = m["selection"]
        self.engine = m.get("engine")
        self.topology_path = self.path / m.get("topology_file", STORE_TOPOLOGY)
        self._mm: list[np.ndarray | None] = [None] * self.n_trajectories

    # -- opening -------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike) -> TrajectoryStore:
        """Open a store directory written by :func:`prepare`.

        Raises
        ------
        MissingFileError
            The directory or its ``store.json`` does not exist.
        InputError
            ``store.json`` is unreadable, of another format, or disagrees with the data files.
        """
        path = Path(path)
        meta_path = path / STORE_META
        if path.exists() and not path.is_dir():
            raise InputError(f"{str(path)!r} is a file, not a store directory. Give the directory that "
                             "`mdkoop prepare` created.")
        if not path.is_dir():
            raise MissingFileError(f"The store {str(path)!r} does not exist. Create it with `mdkoop prepare`.")
        if not meta_path.is_file():
            raise MissingFileError(
                f"{str(path)!r} is not an mdkoop store (no {STORE_META}). Create one with `mdkoop prepare`."
            )
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"Cannot read {str(meta_path)!r}: {exc}. The store is damaged; prepare it again.") from exc
        validate_store_metadata(meta, meta_path)
        store = cls(path, meta)
        for i, t in enumerate(meta["trajectories"]):
            f = path / t["file"]
            if not f.is_file():
                raise InputError(f"The store {str(path)!r} is missing its data file {t['file']!r}; prepare it again.")
            expected = STORE_NPY_HEADER_BYTES + int(t["n_frames"]) * store.n_atoms * 12
            if f.stat().st_size != expected:
                raise InputError(
                    f"The data file {str(f)!r} of trajectory {i} has {f.stat().st_size} bytes, expected {expected}. "
                    f"The store is damaged; prepare it again."
                )
        return store

    def __repr__(self) -> str:
        return (f"TrajectoryStore({str(self.path)!r}, n_trajectories={self.n_trajectories}, "
                f"n_frames={self.n_frames}, n_atoms={self.n_atoms}, timestep_ps={self.timestep_ps:g})")

    def __len__(self) -> int:
        return self.n_frames

    # -- data --------------------------------------------------------------------
    def trajectory(self, i: int) -> np.ndarray:
        """Positions of trajectory ``i``: a read-only float32 memmap, shape (T_i, n_atoms, 3), nm."""
        if not -self.n_trajectories <= i < self.n_trajectories:
            raise InputError(f"Trajectory index {i} is out of range: the store has {self.n_trajectories}.")
        i = i % self.n_trajectories
        if self._mm[i] is None:
            f = self.path / self.metadata["trajectories"][i]["file"]
            self._mm[i] = np.load(f, mmap_mode="r", allow_pickle=False)
        return self._mm[i]

    def check_finite(self, chunk_frames: int | None = None) -> None:
        """Refuse a store with NaN or infinite coordinates (a store edited or damaged after ``prepare``).

        Reads every trajectory once, in chunks of about 64 MiB (``chunk_frames`` frames).

        Raises
        ------
        InputError
            Naming the trajectory, its data file and the first bad frame.
        """
        step = int(chunk_frames or max(1, (64 << 20) // max(1, 12 * self.n_atoms)))
        for i in range(self.n_trajectories):
            x = self.trajectory(i)
            for s in range(0, len(x), step):
                ok = np.isfinite(x[s : s + step]).all(axis=(1, 2))
                if not ok.all():
                    frame = s + int(np.flatnonzero(~ok)[0])
                    raise InputError(
                        f"The store {str(self.path)!r} has NaN or infinite coordinates in trajectory {i} "
                        f"({self.metadata['trajectories'][i]['file']}), first at frame {frame}. The store is damaged; "
                        "prepare it again from the trajectory files.")

    def iter_trajectories(self) -> Iterator[np.ndarray]:
        """Yield :meth:`trajectory` for every trajectory, in order."""
        for i in range(self.n_trajectories):
            yield self.trajectory(i)

    def locate(self, global_idx) -> tuple[np.ndarray, np.ndarray]:
        """Map global frame indices to (trajectory, local frame) index arrays (int64)."""
        g = np.asarray(global_idx, dtype=np.int64)
        if g.size and (g.min() < 0 or g.max() >= self.n_frames):
            raise InputError(f"Frame indices must lie in [0, {self.n_frames}); got {g.min()}..{g.max()}.")
        traj = np.searchsorted(self.offsets, g, side="right") - 1
        return traj, g - self.offsets[traj]

    def frames(self, global_idx) -> np.ndarray:
        """Gather frames by global index.

        Parameters
        ----------
        global_idx : array_like of int, shape (k,)
            Indices into the concatenation of all trajectories (``offsets`` gives the starts).

        Returns
        -------
        ndarray, shape (k, n_atoms, 3), float32
            A new array (not a view), in the order of ``global_idx``.
        """
        g = np.asarray(global_idx, dtype=np.int64).reshape(-1)
        out = np.empty((len(g), self.n_atoms, 3), dtype=np.float32)
        if not len(g):
            return out
        traj, local = self.locate(g)
        for t in np.unique(traj):
            sel = traj == t
            out[sel] = self.trajectory(int(t))[local[sel]]
        return out
