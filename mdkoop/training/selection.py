"""Atom sub-selection of a trajectory store for training (``KoopmanSVD(select=...)``, ``mdkoop fit --select``)."""

from __future__ import annotations

import numpy as np

__all__ = ["select_atoms"]


def select_atoms(store, select: str):
    """Sub-select atoms of a store for training.

    The selection language is MDTraj's (e.g. ``"name CA"``, ``"element != H"``, ``"resid 0 to 5"``),
    evaluated on the store's topology (``store.topology_path``, the store's atoms only; resid is 0-based
    in MDTraj). Returns ``(view, atoms)`` where ``view`` behaves like the store for the selected atoms.

    Raises
    ------
    SelectionError
        If the expression is invalid or selects no atoms.
    """
    import mdtraj as md

    from ..errors import SelectionError

    try:
        top = md.load_topology(str(store.topology_path))
        sel = np.asarray(top.select(select), dtype=np.int64)
    except Exception as exc:  # noqa: BLE001 - mdtraj raises many types for a bad expression
        raise SelectionError(f"Invalid atom selection {select!r}: {exc}. Use MDTraj's selection language, "
                             "e.g. 'name CA' or 'element != H'.") from None
    if sel.size == 0:
        raise SelectionError(f"The selection {select!r} selects no atoms of the store {str(store.path)!r}.")
    view = _StoreView(store, sel)
    atoms = {
        "indices": [int(i) for i in np.asarray(store.atom_indices)[sel]],
        "names": [store.atom_names[i] for i in sel],
        "atomic_numbers": [int(z) for z in np.asarray(store.atomic_numbers)[sel]],
    }
    return view, atoms


class _StoreView:
    """A store restricted to some of its atoms (read-only; same frames, fewer atoms)."""

    def __init__(self, store, sel: np.ndarray):
        self._store = store
        self._sel = sel
        self.path = store.path
        self.n_frames = store.n_frames
        self.n_atoms = int(sel.size)
        self.n_trajectories = store.n_trajectories
        self.trajectory_lengths = store.trajectory_lengths
        self.offsets = store.offsets
        self.timestep_ps = store.timestep_ps
        self.atomic_numbers = np.asarray(store.atomic_numbers)[sel]
        self.atom_indices = np.asarray(store.atom_indices)[sel]
        self.atom_names = [store.atom_names[i] for i in sel]
        self.metadata = store.metadata

    def trajectory(self, i):
        return self._store.trajectory(i)[:, self._sel]

    def frames(self, idx):
        return self._store.frames(idx)[:, self._sel]

    def iter_trajectories(self):
        for i in range(self.n_trajectories):
            yield self.trajectory(i)
