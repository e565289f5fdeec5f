"""as_position_list: every accepted data form gives the same positions of the model's atoms."""

from __future__ import annotations

import numpy as np
import pytest

from mdkoop.errors import InputError, MissingFileError
from mdkoop.io.inputs import as_position_list


@pytest.fixture(scope="module")
def model_atoms(cln_store):
    return {"atom_indices": cln_store.atom_indices, "atom_names": cln_store.atom_names}


def _check(out, cln_store, traj_ids=(0, 1)):
    assert len(out) == len(traj_ids)
    for x, i in zip(out, traj_ids):
        assert x.dtype == np.float32 and x.shape == cln_store.trajectory(i).shape
        np.testing.assert_allclose(x, cln_store.trajectory(i), atol=1e-6)


def test_store_and_store_path(cln_store, model_atoms):
    _check(as_position_list(cln_store, **model_atoms), cln_store)
    _check(as_position_list(str(cln_store.path), **model_atoms), cln_store)
    _check(as_position_list(cln_store), cln_store)


def test_store_subset_of_atoms(cln_store):
    idx = cln_store.atom_indices[[0, 5, 9]]
    out = as_position_list(cln_store, atom_indices=idx, atom_names=[cln_store.atom_names[k] for k in (0, 5, 9)])
    np.testing.assert_array_equal(out[1], cln_store.trajectory(1)[:, [0, 5, 9]])
    with pytest.raises(InputError, match="lacks 1 of the model's atoms"):
        as_position_list(cln_store, atom_indices=[0, 1])  # atom 1 is a hydrogen: not in the store


def test_mdtraj_full_system_and_selected(cln_store, cln_files, model_atoms):
    full = cln_files["traj"]
    out = as_position_list(list(full), **model_atoms)
    # the stored data went through XTC (1e-3 nm precision); the mdtraj objects are exact
    for x, t in zip(out, full):
        np.testing.assert_array_equal(x, t.xyz[:, cln_store.atom_indices])
    sel = full[0].atom_slice(cln_store.atom_indices)
    np.testing.assert_array_equal(as_position_list(sel, **model_atoms)[0], out[0])


def test_files_with_topology(cln_store, cln_files, cln025_pdb, model_atoms):
    _check(as_position_list([str(p) for p in cln_files["xtc"]], top=cln025_pdb, **model_atoms), cln_store)
    _check(as_position_list(cln_files["xtc"][1], top=cln025_pdb, **model_atoms), cln_store, (1,))
    with pytest.raises(MissingFileError, match="missing.xtc"):
        as_position_list("missing.xtc", top=cln025_pdb)


def test_mdanalysis_universe_and_atomgroup(cln_store, cln_files, cln025_pdb, model_atoms):
    import MDAnalysis as mda

    u = mda.Universe(str(cln025_pdb), str(cln_files["xtc"][0]))
    _check(as_position_list(u, **model_atoms), cln_store, (0,))
    ag = u.select_atoms("not name H*")
    _check(as_position_list(ag, **model_atoms), cln_store, (0,))


def test_arrays(cln_store, model_atoms):
    x = np.asarray(cln_store.trajectory(0))
    np.testing.assert_array_equal(as_position_list(x, **model_atoms)[0], x)
    np.testing.assert_array_equal(as_position_list(x[0], **model_atoms)[0], x[:1])
    full = np.zeros((3, 175, 3), dtype=np.float64)
    full[:, cln_store.atom_indices] = x[:3]
    out = as_position_list([full, full[:2]], atom_indices=cln_store.atom_indices)
    assert [o.shape for o in out] == [(3, 97, 3), (2, 97, 3)] and out[0].dtype == np.float32
    np.testing.assert_array_equal(out[0], x[:3])


def test_mismatches_are_clear(cln_store, cln_files, mdatests, model_atoms):
    import mdtraj as md

    with pytest.raises(InputError, match="has 50 atoms; the model uses 97"):
        as_position_list(np.zeros((2, 50, 3)), **model_atoms)
    with pytest.raises(InputError, match="shape"):
        as_position_list(np.zeros((2, 97)), **model_atoms)
    adk = md.load_frame(mdatests["dcd"], 0, top=mdatests["psf"])
    with pytest.raises(InputError, match="atom 0 is named"):
        as_position_list(adk, **model_atoms)  # 3341 atoms: the indices fit but the atoms are others
    bad = np.asarray(cln_store.trajectory(0)).copy()
    bad[1, 2, 0] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        as_position_list(bad, **model_atoms)
    with pytest.raises(InputError, match="Cannot read positions from a dict"):
        as_position_list({"x": 1})
