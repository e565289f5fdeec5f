"""Starting structures for the demo simulations.

* CLN025: the bundled folded structure ``mdkoop/resources/cln025.pdb`` (see its
  ATTRIBUTION.md), used as is.
* Alanine dipeptide (ACE-ALA-NME): built here from internal coordinates
  (ideal bond lengths and angles, chosen backbone dihedrals), hydrogens included,
  deterministically (OpenMM's ``Modeller.addHydrogens`` places hydrogens at random).

The geometry is pure numpy (:func:`place_atom`, :func:`alanine_dipeptide_heavy_atoms`);
OpenMM is imported only by :func:`build_alanine_dipeptide`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["place_atom", "alanine_dipeptide_heavy_atoms", "alanine_dipeptide_hydrogens", "build_alanine_dipeptide"]

# Ideal geometry (Engh & Huber style values), lengths in nm, angles in degrees.
_BOND = {"C-N": 0.1335, "N-CA": 0.1458, "CA-C": 0.1525, "C-O": 0.1231, "CA-CB": 0.1530, "CH3-C": 0.1520, "N-CH3": 0.1449}
_ANGLE = {"CA-C-N": 116.2, "C-N-CA": 121.7, "N-CA-C": 111.2, "CA-C-O": 120.8, "N-CA-CB": 110.4}


def place_atom(a: np.ndarray, b: np.ndarray, c: np.ndarray, bond: float, angle_deg: float, dihedral_deg: float) -> np.ndarray:
    """Position of an atom ``d`` bonded to ``c`` from internal coordinates (natural extension reference frame).

    Parameters
    ----------
    a, b, c : ndarray, shape (3,)
        Positions (nm) of the three preceding atoms; ``d`` is bonded to ``c``.
    bond : float
        Bond length ``|c - d|`` in nm.
    angle_deg : float
        Bond angle ``b-c-d`` in degrees.
    dihedral_deg : float
        Dihedral ``a-b-c-d`` in degrees (IUPAC sign convention).

    Returns
    -------
    ndarray, shape (3,), float64
        Position of ``d`` in nm.
    """
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    theta, phi = np.radians(angle_deg), np.radians(dihedral_deg)
    bc = c - b
    bc /= np.linalg.norm(bc)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    d_local = np.array([-bond * np.cos(theta), bond * np.sin(theta) * np.cos(phi), bond * np.sin(theta) * np.sin(phi)])
    return c + d_local[0] * bc + d_local[1] * m + d_local[2] * n


def alanine_dipeptide_heavy_atoms(phi: float = -75.0, psi: float = 145.0, omega: float = 180.0) -> list[tuple[str, str, np.ndarray]]:
    """Heavy atoms of ACE-ALA-NME with the given backbone dihedrals.

    Parameters
    ----------
    phi, psi : float
        Backbone dihedrals of the alanine in degrees (default: the extended
        polyproline-II/beta basin, -75, 145).
    omega : float
        Both peptide-bond dihedrals in degrees (180: trans).

    Returns
    -------
    list of (residue_name, atom_name, position)
        10 heavy atoms in PDB order (ACE: CH3 C O; ALA: N CA C O CB; NME: N C),
        positions in nm (float64, shape (3,)). Amber/OpenMM name NME's methyl carbon ``C``.
    """
    # Seed frame for the first three atoms (CH3, C of ACE; N of ALA).
    ch3 = np.array([0.0, 0.0, 0.0])
    c0 = np.array([_BOND["CH3-C"], 0.0, 0.0])
    ang = np.radians(180.0 - _ANGLE["CA-C-N"])
    n1 = c0 + _BOND["C-N"] * np.array([np.cos(ang), np.sin(ang), 0.0])
    ca = place_atom(ch3, c0, n1, _BOND["N-CA"], _ANGLE["C-N-CA"], omega)
    c1 = place_atom(c0, n1, ca, _BOND["CA-C"], _ANGLE["N-CA-C"], phi)
    n2 = place_atom(n1, ca, c1, _BOND["C-N"], _ANGLE["CA-C-N"], psi)
    ch3b = place_atom(ca, c1, n2, _BOND["N-CH3"], _ANGLE["C-N-CA"], omega)
    # Carbonyl oxygens: trans peptide puts O cis to the next alpha carbon.
    o0 = place_atom(ca, n1, c0, _BOND["C-O"], 123.0, 0.0)
    o1 = place_atom(ch3b, n2, c1, _BOND["C-O"], 123.0, 0.0)
    # L-chirality: C(prev)-N-CA-CB = phi - 122 degrees (measured on the bundled CLN025).
    cb = place_atom(c0, n1, ca, _BOND["CA-CB"], _ANGLE["N-CA-CB"], phi - 122.0)
    return [
        ("ACE", "CH3", ch3),
        ("ACE", "C", c0),
        ("ACE", "O", o0),
        ("ALA", "N", n1),
        ("ALA", "CA", ca),
        ("ALA", "C", c1),
        ("ALA", "O", o1),
        ("ALA", "CB", cb),
        ("NME", "N", n2),
        ("NME", "C", ch3b),
    ]


def alanine_dipeptide_hydrogens(heavy: list[tuple[str, str, np.ndarray]]) -> list[tuple[str, str, np.ndarray]]:
    """Hydrogens of ACE-ALA-NME placed from ideal internal coordinates (deterministic).

    Parameters
    ----------
    heavy : list of (residue_name, atom_name, position)
        Output of :func:`alanine_dipeptide_heavy_atoms` (positions in nm).

    Returns
    -------
    list of (residue_name, atom_name, position)
        12 hydrogens with Amber/OpenMM names (ACE H1-H3; ALA H, HA, HB1-HB3; NME H, H1-H3), nm.
    """
    p = {(r, n): x for r, n, x in heavy}
    ch, nh, tet, sp2 = 0.109, 0.101, 109.5, 119.0
    out = []
    for k, dih in enumerate((0.0, 120.0, -120.0), start=1):  # ACE methyl, staggered on the carbonyl O
        out.append(("ACE", f"H{k}", place_atom(p["ACE", "O"], p["ACE", "C"], p["ACE", "CH3"], ch, tet, dih)))
    # Amide H in the peptide plane, anti to the preceding carbonyl O.
    out.append(("ALA", "H", place_atom(p["ACE", "O"], p["ACE", "C"], p["ALA", "N"], nh, sp2, 180.0)))
    phi = np.degrees(_dihedral(p["ACE", "C"], p["ALA", "N"], p["ALA", "CA"], p["ALA", "C"]))
    out.append(("ALA", "HA", place_atom(p["ACE", "C"], p["ALA", "N"], p["ALA", "CA"], ch, tet, phi + 118.0)))
    for k, dih in enumerate((60.0, 180.0, -60.0), start=1):
        out.append(("ALA", f"HB{k}", place_atom(p["ALA", "N"], p["ALA", "CA"], p["ALA", "CB"], ch, tet, dih)))
    out.append(("NME", "H", place_atom(p["ALA", "O"], p["ALA", "C"], p["NME", "N"], nh, sp2, 180.0)))
    for k, dih in enumerate((60.0, 180.0, -60.0), start=1):
        out.append(("NME", f"H{k}", place_atom(p["ALA", "C"], p["NME", "N"], p["NME", "C"], ch, tet, dih)))
    return out


def _dihedral(a, b, c, d) -> float:
    b0, b1, b2 = a - b, c - b, d - c
    b1n = b1 / np.linalg.norm(b1)
    v = b0 - np.dot(b0, b1n) * b1n
    w = b2 - np.dot(b2, b1n) * b1n
    return float(np.arctan2(np.dot(np.cross(b1n, v), w), np.dot(v, w)))


def build_alanine_dipeptide(phi: float = -75.0, psi: float = 145.0):
    """All-atom ACE-ALA-NME (22 atoms) as OpenMM topology and positions.

    Heavy atoms from :func:`alanine_dipeptide_heavy_atoms`, hydrogens from
    :func:`alanine_dipeptide_hydrogens`; names follow OpenMM's Amber templates.
    Fully deterministic (no random hydrogen placement).

    Parameters
    ----------
    phi, psi : float
        Backbone dihedrals (degrees) of the built structure.

    Returns
    -------
    (openmm.app.Topology, openmm.unit.Quantity)
        Topology (residues ACE, ALA, NME; bonds set) and positions in nm, shape (22, 3).
    """
    import openmm.app as app
    import openmm.unit as u

    heavy = alanine_dipeptide_heavy_atoms(phi, psi)
    hyd = alanine_dipeptide_hydrogens(heavy)
    order = {"ACE": 0, "ALA": 1, "NME": 2}
    atoms = sorted(heavy + hyd, key=lambda t: order[t[0]])  # stable: heavy atoms first within a residue
    top = app.Topology()
    chain = top.addChain("A")
    residues: dict[str, object] = {}
    handle: dict[tuple[str, str], object] = {}
    elements = {"C": app.element.carbon, "N": app.element.nitrogen, "O": app.element.oxygen, "H": app.element.hydrogen}
    positions = []
    for resname, name, xyz in atoms:
        if resname not in residues:
            residues[resname] = top.addResidue(resname, chain)
        handle[resname, name] = top.addAtom(name, elements[name[0]], residues[resname])
        positions.append(xyz)
    bonds = [
        ("ACE", "CH3", "ACE", "C"), ("ACE", "C", "ACE", "O"), ("ACE", "C", "ALA", "N"), ("ALA", "N", "ALA", "CA"),
        ("ALA", "CA", "ALA", "C"), ("ALA", "C", "ALA", "O"), ("ALA", "CA", "ALA", "CB"), ("ALA", "C", "NME", "N"),
        ("NME", "N", "NME", "C"), ("ACE", "CH3", "ACE", "H1"), ("ACE", "CH3", "ACE", "H2"), ("ACE", "CH3", "ACE", "H3"),
        ("ALA", "N", "ALA", "H"), ("ALA", "CA", "ALA", "HA"), ("ALA", "CB", "ALA", "HB1"), ("ALA", "CB", "ALA", "HB2"),
        ("ALA", "CB", "ALA", "HB3"), ("NME", "N", "NME", "H"), ("NME", "C", "NME", "H1"), ("NME", "C", "NME", "H2"),
        ("NME", "C", "NME", "H3"),
    ]
    for r1, a1, r2, a2 in bonds:
        top.addBond(handle[r1, a1], handle[r2, a2])
    return top, u.Quantity(np.array(positions), u.nanometer)
