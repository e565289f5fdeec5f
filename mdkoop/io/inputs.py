"""Turn the data forms users pass to a model into position arrays.

:func:`as_position_list` accepts a store (object or directory), an mdtraj
``Trajectory``, an MDAnalysis ``Universe``/``AtomGroup``, trajectory file
path(s) with a topology, or arrays, and returns a list of (T_i, n_atoms, 3)
float32 arrays in nm (one per trajectory) holding the model's atoms.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError, MissingFileError
from ..units import ANGSTROM_TO_NM

__all__ = ["as_position_list"]


def _same_atom(a: str, b: str) -> bool:
    """Names match if equal, or if they differ only in a naming convention (same leading element
    letter), e.g. CHARMM ``CD``/``OT1`` vs the PDB names ``CD1``/``O`` that mdtraj substitutes."""
    return a == b or (a[:1].upper() == b[:1].upper() and a[:1].isalpha())


def _check_names(names: Sequence[str] | None, expected: Sequence[str] | None, what: str) -> None:
    if expected is None or names is None:
        return
    names, expected = list(map(str, names)), list(map(str, expected))
    if len(names) != len(expected):
        raise InputError(f"{what} has {len(names)} atoms but the model expects {len(expected)}.")
    bad = [i for i, (a, b) in enumerate(zip(names, expected)) if not _same_atom(a, b)]
    if bad:
        i = bad[0]
        raise InputError(
            f"{what}: atom {i} is named {names[i]!r} but the model expects {expected[i]!r} "
            f"({len(bad)} of {len(names)} atoms differ). Pass data of the system the model was trained on, "
            f"with the same topology and atom order."
        )


def _select(xyz: np.ndarray, names, atom_indices, atom_names, what: str) -> np.ndarray:
    """Pick the model's atoms from full-system (or already-selected) positions (T, N, 3)."""
    if xyz.ndim != 3 or xyz.shape[-1] != 3:
        raise InputError(f"{what}: positions must have shape (n_frames, n_atoms, 3), got {xyz.shape}.")
    if atom_indices is not None:
        idx = np.asarray(atom_indices, dtype=np.int64)
        n = xyz.shape[1]
        if n == len(idx):
            pass  # already the model's atoms
        elif len(idx) and idx.max() < n:
            xyz = xyz[:, idx]
            names = None if names is None else [names[i] for i in idx]
        else:
            raise InputError(
                f"{what} has {n} atoms; the model uses {len(idx)} atoms with indices up to {int(idx.max())} "
                f"in its original topology. Pass the full system (same topology as in training) or exactly the "
                f"model's {len(idx)} atoms."
            )
    elif atom_names is not None and xyz.shape[1] != len(atom_names):
        raise InputError(f"{what} has {xyz.shape[1]} atoms but the model expects {len(atom_names)}.")
    _check_names(names, atom_names, what)
    xyz = np.asarray(xyz, dtype=np.float32)
    if not np.isfinite(xyz).all():
        raise InputError(f"{what} contains NaN or infinite coordinates.")
    return xyz


def _from_store(store, atom_indices, atom_names) -> list[np.ndarray]:
    out = []
    sidx = store.atom_indices
    if atom_indices is not None:
        idx = np.asarray(atom_indices, dtype=np.int64)
        if not np.array_equal(idx, sidx):
            pos = {int(a): k for k, a in enumerate(sidx)}
            missing = [int(a) for a in idx if int(a) not in pos]
            if missing:
                raise InputError(
                    f"The store {str(store.path)!r} lacks {len(missing)} of the model's atoms (original indices "
                    f"e.g. {missing[:5]}); it holds the selection {store.selection!r}. Prepare a store with a "
                    f"selection that includes them."
                )
            local = np.array([pos[int(a)] for a in idx], dtype=np.int64)
            _check_names([store.atom_names[i] for i in local], atom_names, f"The store {str(store.path)!r}")
            return [np.asarray(t[:, local], dtype=np.float32) for t in store.iter_trajectories()]
    _check_names(store.atom_names, atom_names, f"The store {str(store.path)!r}")
    for t in store.iter_trajectories():
        out.append(t)
    return out


def _from_mdtraj(traj, atom_indices, atom_names, what="The mdtraj Trajectory") -> list[np.ndarray]:
    names = [a.name for a in traj.topology.atoms]
    return [_select(traj.xyz, names, atom_indices, atom_names, what)]


def _from_mda(obj, atom_indices, atom_names) -> list[np.ndarray]:
    u = obj.universe
    ag = obj.atoms
    what = "The MDAnalysis " + ("Universe" if obj is u else "AtomGroup")
    if atom_indices is not None:
        idx = np.asarray(atom_indices, dtype=np.int64)
        if len(ag) != len(idx):
            if len(idx) and idx.max() < len(u.atoms) and np.isin(idx, ag.indices).all():
                ag = u.atoms[idx]
            else:
                raise InputError(
                    f"{what} has {len(ag)} atoms and does not contain the model's {len(idx)} atoms "
                    f"(original indices up to {int(idx.max())}). Pass the full system or exactly the model's atoms."
                )
    xyz = np.empty((len(u.trajectory), len(ag), 3), dtype=np.float32)
    for k, _ts in enumerate(u.trajectory):
        xyz[k] = ag.positions
    xyz *= ANGSTROM_TO_NM  # MDAnalysis positions are in Angstrom
    return [_select(xyz, list(ag.names), None, atom_names, what)]


def _is_store_dir(p) -> bool:
    return isinstance(p, (str, os.PathLike)) and Path(p).is_dir() and (Path(p) / "store.json").is_file()


def as_position_list(data, *, top=None, atom_indices=None, atom_names=None) -> list[np.ndarray]:
    """Positions of the model's atoms, one array per trajectory.

    Parameters
    ----------
    data : TrajectoryStore, path, mdtraj.Trajectory, MDAnalysis Universe/AtomGroup, ndarray, or list
        * a :class:`~mdkoop.io.store.TrajectoryStore` or a store directory;
        * an mdtraj ``Trajectory`` (nm);
        * an MDAnalysis ``Universe`` or ``AtomGroup`` (its trajectory is read; Angstrom -> nm);
        * a trajectory file path, or a list of them, with ``top`` (read with mdtraj);
        * an array (T, n, 3) or (n, 3) in nm, or a list of such arrays / of any of the above.
    top : path, optional
        Topology for trajectory files.
    atom_indices : array_like of int, optional
        The model's atoms as 0-based indices in the original topology. Data with exactly
        this many atoms are taken as already selected; data of the full system are indexed.
    atom_names : sequence of str, optional
        The model's atom names; checked where the data carry names.

    Returns
    -------
    list of ndarray, each (T_i, n_atoms, 3), float32, nm
        Store data are returned as read-only memory maps when no re-selection is needed.

    Raises
    ------
    InputError
        Unknown data type, wrong shapes, atoms that do not match, NaN/inf coordinates.
    MissingFileError
        A path that does not exist.
    """
    from .store import TrajectoryStore

    if isinstance(data, TrajectoryStore):
        return _from_store(data, atom_indices, atom_names)
    if _is_store_dir(data):
        return _from_store(TrajectoryStore.open(data), atom_indices, atom_names)
    if isinstance(data, (str, os.PathLike)):
        return _from_files([data], top, atom_indices, atom_names)
    mod = type(data).__module__ or ""
    if mod.startswith("mdtraj"):
        return _from_mdtraj(data, atom_indices, atom_names)
    if mod.startswith("MDAnalysis"):
        if not hasattr(data, "universe"):
            raise InputError(f"Cannot use an MDAnalysis {type(data).__name__}: pass a Universe or an AtomGroup.")
        return _from_mda(data, atom_indices, atom_names)
    if isinstance(data, np.ndarray) or (hasattr(data, "__array__") and not isinstance(data, (list, tuple))):
        arr = np.asarray(data)
        if arr.ndim == 2:
            arr = arr[None]
        return [_select(arr, None, atom_indices, atom_names, f"The array of shape {np.shape(data)}")]
    if isinstance(data, (list, tuple)):
        if not data:
            raise InputError("The list of trajectories is empty.")
        if all(isinstance(d, (str, os.PathLike)) and not _is_store_dir(d) for d in data):
            return _from_files(list(data), top, atom_indices, atom_names)
        out = []
        for d in data:
            out.extend(as_position_list(d, top=top, atom_indices=atom_indices, atom_names=atom_names))
        return out
    raise InputError(
        f"Cannot read positions from a {type(data).__name__}. Pass a TrajectoryStore or store path, an mdtraj "
        f"Trajectory, an MDAnalysis Universe/AtomGroup, trajectory files with top=, or arrays (T, n_atoms, 3) in nm."
    )


def _from_files(paths, top, atom_indices, atom_names) -> list[np.ndarray]:
    import mdtraj as md

    from .readers import ascii_safe_path, check_file

    out = []
    for p in paths:
        p = check_file(p, "trajectory file")
        if top is not None:
            check_file(top, "topology file")
        try:
            with warnings.catch_warnings(), ascii_safe_path(p) as rp, ascii_safe_path(top or "") as rt:
                warnings.simplefilter("ignore")
                traj = md.load(rp, top=None if top is None else rt)
        except MissingFileError:
            raise
        except Exception as exc:  # noqa: BLE001
            hint = ("" if top is not None else " Give the topology file it was written with: --top FILE on the "
                    "command line, top= in Python.")
            raise InputError(f"Cannot read the trajectory {str(p)!r} with mdtraj: {type(exc).__name__}: {exc}.{hint}") from exc
        out.extend(_from_mdtraj(traj, atom_indices, atom_names, f"The trajectory {str(p)!r}"))
    return out
