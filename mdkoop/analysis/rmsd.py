"""RMSD of every frame to a reference structure, on the model's atoms (mdtraj)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, MissingFileError, TrajectoryReadError

__all__ = ["reference_for_atoms", "rmsd_to_reference"]


def reference_for_atoms(reference, atom_indices=None, atom_names=None):
    """Load a reference structure and keep the model's atoms.

    Parameters
    ----------
    reference : path
        PDB (or any single-frame file mdtraj reads with its own topology).
    atom_indices : array (n,), int, optional
        The model's atoms as 0-based indices in the original topology. A reference holding exactly
        ``n`` atoms is used as is; a larger one (the full system) is indexed.
    atom_names : list of str, optional
        The model's atom names, checked against the reference.

    Returns
    -------
    mdtraj.Trajectory
        One frame of the model's atoms (nm).
    """
    import mdtraj as md

    path = Path(reference)
    if not path.is_file():
        raise MissingFileError(f"The reference structure {str(path)!r} does not exist.")
    try:
        ref = md.load(str(path))[0]
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user input problem
        raise TrajectoryReadError(f"Cannot read the reference structure {str(path)!r}: {exc}") from exc
    if atom_indices is not None:
        idx = np.asarray(atom_indices, dtype=np.int64)
        if ref.n_atoms != len(idx):
            if idx.max() >= ref.n_atoms:
                raise InputError(
                    f"The reference {str(path)!r} has {ref.n_atoms} atoms, but the model uses {len(idx)} atoms with "
                    f"indices up to {int(idx.max())}: give the reference of the same system (full topology) "
                    "or one holding exactly the model's atoms."
                )
            ref = ref.atom_slice(idx)
    if atom_names is not None:
        names = [a.name for a in ref.topology.atoms]
        if len(names) != len(atom_names) or any(a != b for a, b in zip(names, atom_names)):
            raise InputError(
                f"The atoms of the reference {str(path)!r} ({names[:5]}...) do not match the model's atoms "
                f"({list(atom_names)[:5]}...): give a reference of the same system."
            )
    return ref


def rmsd_to_reference(positions, reference) -> list[np.ndarray]:
    """Minimal (optimally superposed) RMSD of every frame to the reference.

    Parameters
    ----------
    positions : list of ndarray (T_i, n, 3) float, nm
        Frames of the model's atoms.
    reference : mdtraj.Trajectory
        One frame of the same n atoms (see :func:`reference_for_atoms`).

    Returns
    -------
    list of ndarray (T_i,) float64
        RMSD in nm.
    """
    import mdtraj as md

    out = []
    for i, x in enumerate(positions):
        x = np.array(x, dtype=np.float32, copy=True)  # mdtraj needs a writable buffer (stores are read-only)
        if x.ndim != 3 or x.shape[1] != reference.n_atoms:
            raise InputError(f"Trajectory {i} has frames of shape {x.shape[1:]}, the reference has {reference.n_atoms} atoms.")
        t = md.Trajectory(x, reference.topology)
        out.append(md.rmsd(t, reference, 0).astype(np.float64))
    return out
