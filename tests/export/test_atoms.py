"""Matching model atoms onto a simulation topology (e.g. a heavy-atom model onto the full CLN025 system)."""

from __future__ import annotations

import dataclasses

import mdtraj as md
import numpy as np
import pytest

from mdkoop.errors import ConfigError, InputError, MissingFileError
from mdkoop.export import remap_to_topology
from mdkoop.export.atoms import load_topology, match_atoms


def _heavy(cln025_pdb):
    full = md.load_topology(str(cln025_pdb))
    heavy_idx = full.select("element != H")
    heavy = full.subset(heavy_idx)
    atoms = list(heavy.atoms)
    return full, heavy_idx, [a.name for a in atoms], [a.residue.resSeq for a in atoms], [a.residue.name for a in atoms]


def test_heavy_atom_model_maps_onto_full_cln025(cln025_pdb):
    full, heavy_idx, names, rids, rnames = _heavy(cln025_pdb)
    assert len(heavy_idx) < full.n_atoms
    got = match_atoms(names, rids, rnames, load_topology(cln025_pdb))
    np.testing.assert_array_equal(got, heavy_idx)  # known answer: the heavy atoms' indices in the full system


def test_missing_and_ambiguous_atoms_are_refused(cln025_pdb, tmp_path):
    full, _, names, rids, rnames = _heavy(cln025_pdb)
    with pytest.raises(InputError, match="not in"):
        match_atoms(names[:3] + ["XX9"], rids[:4], rnames[:4], full)
    two = md.load(str(cln025_pdb))
    two = two.stack(two)  # two chains with the same residue numbers
    with pytest.raises(InputError, match="several"):
        match_atoms(names, rids, rnames, two.topology)
    with pytest.raises(MissingFileError):
        load_topology(tmp_path / "nope.pdb")


def test_remap_spec_refuses_without_residues_and_checks_elements(standin, cln025_pdb):
    with pytest.raises(ConfigError, match="--topology"):
        remap_to_topology(dataclasses.replace(standin["spec"], residue_ids=None), cln025_pdb)
    full, heavy_idx, names, rids, rnames = _heavy(cln025_pdb)
    z = np.array([full.atom(i).element.atomic_number for i in heavy_idx])
    spec = dataclasses.replace(standin["spec"], atom_indices=np.arange(len(names)), atom_names=names, atomic_numbers=z,
                               residue_ids=rids, residue_names=rnames, topology={"name": "heavy.pdb", "n_atoms": len(names)})
    new = remap_to_topology(spec, cln025_pdb)
    np.testing.assert_array_equal(new.atom_indices, heavy_idx)
    assert new.topology["name"] == "cln025.pdb" and new.topology["trained_on"]["name"] == "heavy.pdb"
    z_bad = z.copy()
    z_bad[0] = 8
    with pytest.raises(InputError, match="element"):
        remap_to_topology(dataclasses.replace(spec, atomic_numbers=z_bad), cln025_pdb)
