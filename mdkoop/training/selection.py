"""Atom sub-selection of a trajectory store for training (``KoopmanSVD(select=...)``, ``mdkoop fit --select``)."""

from __future__ import annotations

import numpy as np

from ..registry import TORSIONS

__all__ = ["select_atoms", "descriptor_atoms", "MAX_PAIRS"]

#: more pairs than this make an MLP input layer of millions of weights: refuse and ask for a narrower selection
MAX_PAIRS = 50_000


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

    sel = _select(md.load_topology(str(store.topology_path)), select, store)
    return _view(store, sel)


def _select(top, select: str, store) -> np.ndarray:
    from ..errors import SelectionError

    try:
        sel = np.asarray(top.select(select), dtype=np.int64)
    except Exception as exc:  # noqa: BLE001 - mdtraj raises many types for a bad expression
        raise SelectionError(f"Invalid atom selection {select!r}: {exc}. Use MDTraj's selection language, "
                             "e.g. 'name CA' or 'element != H'.") from None
    if sel.size == 0:
        raise SelectionError(f"The selection {select!r} selects no atoms of the store {str(store.path)!r}.")
    return sel


def _view(store, sel: np.ndarray):
    view = _StoreView(store, sel)
    atoms = {
        "indices": [int(i) for i in np.asarray(store.atom_indices)[sel]],
        "names": [store.atom_names[i] for i in sel],
        "atomic_numbers": [int(z) for z in np.asarray(store.atomic_numbers)[sel]],
    }
    return view, atoms


def descriptor_atoms(store, kind: str, *, select: str | None = None, distances_select: str = "name CA",
                     pairs=None, torsions=("phi", "psi")):
    """The atoms and index tuples of a descriptor encoder on a store.

    Parameters
    ----------
    store : TrajectoryStore
    kind : {"distances", "torsions"}
    select : str, optional
        MDTraj selection that restricts the candidate atoms first (``--select``).
    distances_select : str
        ``"distances"``: every pair of the atoms this selects (default ``"name CA"``).
    pairs : array_like of int, shape (P, 2), optional
        ``"distances"``: explicit pairs instead, as 0-based atom indices of the store's topology.
    torsions : sequence of str
        ``"torsions"``: which dihedrals (from :data:`TORSIONS`), found by MDTraj on the store's topology.

    Returns
    -------
    (view, atoms, index)
        ``view`` reads the used atoms only; ``atoms`` records them (indices of the original topology, names,
        atomic numbers); ``index`` (P, 2) or (Q, 4) int64 addresses the view's atoms.

    Raises
    ------
    SelectionError
        When the selection or pair list names no usable atoms, too many pairs, or no torsion is found.
    """
    import mdtraj as md

    from ..errors import SelectionError

    top = md.load_topology(str(store.topology_path))
    base = _select(top, select, store) if select else np.arange(top.n_atoms, dtype=np.int64)
    if kind == "distances":
        if pairs is not None:
            glob = np.asarray(pairs)
            if glob.ndim != 2 or glob.shape[1] != 2 or glob.shape[0] < 1 or not np.issubdtype(glob.dtype, np.integer):
                raise SelectionError(f"The pair list must be (n, 2) integer atom indices, got shape {glob.shape}.")
            bad = sorted(set(glob.ravel().tolist()) - set(base.tolist()))
            if bad:
                raise SelectionError(f"The pair list names atom(s) {bad[:5]} that are not in the store's (selected) "
                                     f"atoms 0..{top.n_atoms - 1}: give 0-based indices of the store's topology.")
        else:
            sel = _select(top.subset(base), distances_select, store)
            if sel.size < 2:
                raise SelectionError(f"--distances-select {distances_select!r} selects {sel.size} atom; a distance "
                                     "needs two.")
            i, j = np.triu_indices(sel.size, 1)
            glob = np.stack([base[sel[i]], base[sel[j]]], 1)
            if len(glob) > MAX_PAIRS:
                raise SelectionError(f"--distances-select {distances_select!r} gives {len(glob)} pairs (more than "
                                     f"{MAX_PAIRS}): select fewer atoms (e.g. 'name CA') or give a pair list.")
    elif kind == "torsions":
        unknown = [t for t in torsions if t not in TORSIONS]
        if unknown or not torsions:
            raise SelectionError(f"Unknown torsion(s) {unknown or '(none)'}: choose from {', '.join(TORSIONS)}.")
        sub = top.subset(base)
        frame = md.Trajectory(np.zeros((1, sub.n_atoms, 3), dtype=np.float32), sub)
        found = [getattr(md, f"compute_{t}")(frame)[0] for t in torsions]
        quads = np.concatenate([q.reshape(-1, 4) for q in found]).astype(np.int64)
        if quads.size == 0:
            raise SelectionError(f"No {', '.join(torsions)} torsion is found in the store's atoms: it needs the "
                                 "backbone (N, CA, C) of a protein (and CB, CG/OG/SG for chi1), with hydrogens or not.")
        glob = base[quads]
    else:
        raise SelectionError(f"No descriptor atoms for the encoder {kind!r}.")
    used = np.unique(glob)
    return (*_view(store, used), np.searchsorted(used, glob).astype(np.int64))


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
