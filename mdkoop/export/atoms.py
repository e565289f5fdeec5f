"""Map the model's atoms onto the topology of the system that will be simulated.

A model's ``atom_indices`` follow the numbering of the topology it was trained on.
When that topology is not the simulated one (a heavy-atom-only trajectory, a
different solvation, atoms renumbered by the set-up tool), the exported files
must use the simulation's numbering instead. :func:`match_atoms` finds each model
atom in the simulation topology by residue number, residue name and atom name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError, MissingFileError, TrajectoryReadError

__all__ = ["load_topology", "match_atoms", "check_numbering", "ADDRESSED_BY_NUMBER"]


def load_topology(path: str | os.PathLike):
    """Read a topology file (PDB, GRO, PSF, PRMTOP, ...) with mdtraj.

    Raises
    ------
    MissingFileError, TrajectoryReadError
    """
    import mdtraj

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"The topology {str(path)!r} does not exist.")
    try:
        return mdtraj.load_topology(str(path))
    except Exception as exc:  # noqa: BLE001 - mdtraj raises many types for unreadable files
        raise TrajectoryReadError(f"Cannot read the topology {str(path)!r} with mdtraj: {exc}") from exc


def match_atoms(atom_names: Sequence[str], residue_ids: Sequence[int], residue_names: Sequence[str] | None,
                topology, what: str = "the simulation topology") -> np.ndarray:
    """0-based indices in ``topology`` of atoms given by residue number and atom name.

    Parameters
    ----------
    atom_names : sequence of str, length n
    residue_ids : sequence of int, length n
        Residue numbers (``resSeq`` as written in the PDB/GRO file).
    residue_names : sequence of str, optional
        Residue names, checked when given (HIS/HID/HIE/HIP, CYS/CYX and terminal variants are accepted
        as the same residue when the exact name is absent).
    topology : mdtraj.Topology
    what : str
        Name of the topology in error messages.

    Returns
    -------
    numpy.ndarray, shape (n,), int64

    Raises
    ------
    InputError
        When an atom is missing or matches several atoms (e.g. the same residue number in two chains).
    """
    table: dict[tuple[int, str], list] = {}
    for atom in topology.atoms:
        table.setdefault((int(atom.residue.resSeq), atom.name), []).append(atom)
    out = np.empty(len(atom_names), dtype=np.int64)
    missing, ambiguous = [], []
    for i, (name, rid) in enumerate(zip(atom_names, residue_ids)):
        cands = table.get((int(rid), str(name)), [])
        if residue_names is not None and len(cands) > 0:
            exact = [a for a in cands if a.residue.name == residue_names[i]]
            cands = exact or [a for a in cands if a.residue.name[:2] == str(residue_names[i])[:2]]
        label = f"{residue_names[i] if residue_names is not None else ''}{rid}:{name}"
        if not cands:
            missing.append(label)
        elif len(cands) > 1:
            ambiguous.append(label)
        else:
            out[i] = cands[0].index
    if missing:
        raise InputError(
            f"{len(missing)} model atom(s) are not in {what} (matched by residue number and atom name), e.g. "
            f"{', '.join(missing[:5])}. Give the topology of the simulated system, with the residue numbering used in training."
        )
    if ambiguous:
        raise InputError(
            f"{len(ambiguous)} model atom(s) match several atoms of {what} (same residue number in several chains?), "
            f"e.g. {', '.join(ambiguous[:5])}. Renumber the residues uniquely or omit --topology."
        )
    if len(set(out.tolist())) != len(out):
        raise InputError(f"Several model atoms map to the same atom of {what}; check the atom names.")
    return out


#: export formats that address the model's atoms by their number in the simulated system
ADDRESSED_BY_NUMBER = ("plumed", "openmm")


def check_numbering(topology: dict | None) -> None:
    """Refuse atom numbers that would silently point at the wrong atoms of a simulation.

    The exported atom indices number the model's atoms as in the training topology (the one given to
    ``mdkoop prepare``; a ``--select`` is already accounted for). That numbering fits a simulation only
    if its topology is that one. It cannot be when the training topology has no hydrogens (trajectories
    saved with heavy atoms only), and it cannot be checked when the training store is gone.

    Parameters
    ----------
    topology : dict or None
        ``{"name", "n_atoms", "n_hydrogens"}`` of the training topology (``ExportSpec.topology``); None when unknown.

    Raises
    ------
    ConfigError
        Saying to give the simulation's topology (``--topology``) or to confirm the numbering
        (``--same-numbering``).
    """
    fix = ("Give the topology of the system you will simulate with --topology FILE (atoms are matched by residue "
           "number and atom name), or pass --same-numbering if your simulation really numbers its atoms as {what}.")
    top = topology
    if not top:
        raise ConfigError("The atom numbering of the training topology is unknown (the training store is not "
                          "available), so the exported atom numbers cannot be checked. "
                          + fix.format(what="the training topology did"))
    n_h = top.get("n_hydrogens")
    if n_h == 0:
        raise ConfigError(
            f"The model was trained on {top.get('name')!r}, a topology of {top.get('n_atoms')} atoms without hydrogens: "
            "its atom numbers do not fit a simulation with hydrogens, and would point at the wrong atoms. "
            + fix.format(what=repr(top.get("name"))))
    if n_h is None:
        raise ConfigError(
            f"The training store of this model predates the record of its topology's hydrogens, so mdkoop cannot tell "
            f"whether the numbering of {top.get('name')!r} fits your simulation. " + fix.format(what=repr(top.get("name"))))
