"""The trajectory store: `prepare`, `append` and :class:`TrajectoryStore`.

A store is a directory::

    STORE/
      store.json                 metadata (see below)
      topology.pdb               the selected atoms (first frame)
      trajectories/traj_00000.npy  float32 (T_i, n_atoms, 3) positions in nm, one file per trajectory

Each ``.npy`` is memory-mapped on open, so a store larger than memory is fine.
Appending writes new ``.npy`` files only (under temporary names, renamed when
complete) and replaces ``store.json`` last, so existing data are never rewritten
and a failed append leaves the store as it was.

``store.json`` holds ``format``, ``format_version``, ``mdkoop_version``, ``engine``,
``selection``, ``stride``, ``timestep_ps``, ``n_frames``, ``n_atoms``,
``n_trajectories``, ``trajectory_lengths``, ``atom_indices`` (0-based, original
topology), ``atom_names``, ``elements``, ``atomic_numbers``, ``residue_names``,
``residue_ids``, the topology's and every source trajectory's name, path, size
and sha256, and ``units`` (nm, ps).

The reading side (:class:`TrajectoryStore`, format constants) lives in
:mod:`mdkoop.io.trajectory_store`, the writing side (:func:`prepare`,
:func:`append`) in :mod:`mdkoop.io.store_write`; this module re-exports both.
"""

from __future__ import annotations

from .store_write import append, prepare
from .trajectory_store import STORE_FORMAT, STORE_FORMAT_VERSION, TrajectoryStore

__all__ = ["TrajectoryStore", "prepare", "append", "STORE_FORMAT", "STORE_FORMAT_VERSION"]
