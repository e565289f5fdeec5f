"""The alanine-dipeptide builder: ideal geometry, requested dihedrals, L-chirality, force-field templates."""

from __future__ import annotations

import mdtraj as md
import numpy as np
import pytest

from mdkoop.simulation.structures import alanine_dipeptide_heavy_atoms, place_atom


def test_place_atom_known_answers():
    a, b, c = np.array([1.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 0.0])
    # bond along -y rotated: angle 90 deg, dihedral 0 -> d lies in the plane of a, b, c on a's side.
    d = place_atom(a, b, c, 0.15, 90.0, 0.0)
    np.testing.assert_allclose(d, [0.15, 0.0, 0.0], atol=1e-12)
    for ang, dih in ((109.5, 60.0), (120.0, -150.0), (100.0, 180.0)):
        d = place_atom(a, b, c, 0.15, ang, dih)
        assert np.linalg.norm(d - c) == pytest.approx(0.15)
        cosang = np.dot(b - c, d - c) / (np.linalg.norm(b - c) * np.linalg.norm(d - c))
        assert np.degrees(np.arccos(cosang)) == pytest.approx(ang)
        t = md.Trajectory(np.array([[a, b, c, d]], dtype=np.float64), None)
        assert np.degrees(md.compute_dihedrals(t, [[0, 1, 2, 3]])[0, 0]) == pytest.approx(dih, abs=1e-4)


@pytest.mark.parametrize("phi, psi", [(-75.0, 145.0), (-63.0, -42.0), (60.0, 40.0)])
def test_backbone_dihedrals_and_chirality(phi, psi, cln025_pdb):
    atoms = alanine_dipeptide_heavy_atoms(phi, psi)
    pos = {(r, n): x for r, n, x in atoms}
    xyz = np.array([[pos["ACE", "C"], pos["ALA", "N"], pos["ALA", "CA"], pos["ALA", "C"], pos["NME", "N"], pos["ALA", "CB"]]])
    t = md.Trajectory(xyz, None)
    got = np.degrees(md.compute_dihedrals(t, [[0, 1, 2, 3], [1, 2, 3, 4], [0, 1, 2, 5]])[0])
    assert got[0] == pytest.approx(phi, abs=1e-3) and got[1] == pytest.approx(psi, abs=1e-3)
    # L-amino acid: the CB dihedral sits ~122 degrees below phi, as in every residue of the real CLN025.
    ref = md.load(str(cln025_pdb))
    offsets = []
    res = list(ref.topology.residues)
    for prev, r in zip(res[:-1], res[1:]):
        names = {a.name: a.index for a in r.atoms}
        if "CB" not in names or r.name == "NME":
            continue
        c_prev = next(a.index for a in prev.atoms if a.name == "C")
        d = md.compute_dihedrals(ref, [[c_prev, names["N"], names["CA"], names["C"]], [c_prev, names["N"], names["CA"], names["CB"]]])[0]
        offsets.append(np.degrees((d[1] - d[0] + np.pi) % (2 * np.pi) - np.pi))
    ours = (got[2] - got[0] + 180.0) % 360.0 - 180.0
    assert abs(ours - np.mean(offsets)) < 10.0 and np.std(offsets) < 10.0


def test_full_structure_matches_amber14_templates():
    app = pytest.importorskip("openmm.app")
    from mdkoop.simulation.structures import build_alanine_dipeptide

    ff = app.ForceField("amber14-all.xml", "implicit/gbn2.xml")
    top, pos = build_alanine_dipeptide()
    top2, pos2 = build_alanine_dipeptide()
    np.testing.assert_array_equal(np.asarray(pos._value), np.asarray(pos2._value))  # deterministic
    assert top.getNumAtoms() == 22
    assert [r.name for r in top.residues()] == ["ACE", "ALA", "NME"]
    ff.createSystem(top)  # raises if a template does not match
    xyz = np.asarray(pos.value_in_unit(pos.unit))
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)[np.triu_indices(22, 1)]
    assert d.min() > 0.09  # no clashes: the closest pair is an X-H bond (~0.1 nm)
    # Hydrogens sit on their bonded heavy atoms (0.101 / 0.109 nm).
    for b in top.bonds():
        if 'H' in (b.atom1.element.symbol, b.atom2.element.symbol):
            assert np.linalg.norm(xyz[b.atom1.index] - xyz[b.atom2.index]) == pytest.approx(0.105, abs=0.005)
