"""Readers: both engines on MDAnalysisTests' real files, periodic make-whole, frame spacing, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mdkoop.errors import InputError, MissingFileError, SelectionError, TrajectoryReadError
from mdkoop.io.engines import make_reader
from mdkoop.io.pbc import bond_tree, make_whole, minimum_image
from mdkoop.io.store import TrajectoryStore, prepare

from .conftest import leftovers, make_cln025_traj

# (topology key, trajectory key, timestep_ps to pass, expected heavy atoms, expected frames)
FILES = {
    "psf_dcd": ("psf", "dcd", 1.0, 1656, 98),
    "gro_xtc": ("gro", "xtc", None, 1656, 10),
    "prmtop_ncdf": ("prmtop", "ncdf", 2.0, 24, 30),
}


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory, mdatests):
    """Each MDAnalysisTests system prepared with both engines."""
    out = {}
    d = tmp_path_factory.mktemp("engines")
    for name, (top, trj, dt, _, _) in FILES.items():
        for eng in ("mdtraj", "mdanalysis"):
            out[name, eng] = prepare(mdatests[top], mdatests[trj], d / f"{name}_{eng}", engine=eng, timestep_ps=dt)
    return out


@pytest.mark.parametrize("name", sorted(FILES))
def test_engines_agree_on_real_files(both_engines, name):
    _, _, dt, n_heavy, n_frames = FILES[name]
    a, b = both_engines[name, "mdtraj"], both_engines[name, "mdanalysis"]
    assert a.n_atoms == b.n_atoms == n_heavy
    assert a.n_frames == b.n_frames == n_frames
    np.testing.assert_array_equal(a.atom_indices, b.atom_indices)
    np.testing.assert_array_equal(a.atomic_numbers, b.atomic_numbers)
    assert set(a.atomic_numbers.tolist()) <= {6, 7, 8, 16}  # heavy atoms only
    # XTC precision is 1e-3 nm; DCD/NetCDF are float32 -> essentially exact
    tol = 1e-3 if name == "gro_xtc" else 1e-5
    assert np.abs(a.trajectory(0) - b.trajectory(0)).max() < tol
    assert a.timestep_ps == pytest.approx(b.timestep_ps)
    if dt is None:
        assert a.timestep_ps == pytest.approx(100.0)


def test_mdtraj_store_matches_plain_mdtraj_load(both_engines, mdatests):
    import mdtraj as md

    st = both_engines["psf_dcd", "mdtraj"]
    ref = md.load(mdatests["dcd"], top=mdatests["psf"], atom_indices=st.atom_indices)
    # adk in this DCD has no box, so nothing is moved: the store must equal the file exactly
    np.testing.assert_array_equal(st.trajectory(0), ref.xyz)


def test_mdanalysis_positions_converted_to_nm(both_engines, mdatests):
    import MDAnalysis as mda

    st = both_engines["prmtop_ncdf", "mdanalysis"]
    u = mda.Universe(mdatests["prmtop"], mdatests["ncdf"])
    u.trajectory[3]
    ag = u.atoms[st.atom_indices]
    # made whole can shift atoms by box vectors; bonded distances are invariant, compare those
    a = st.trajectory(0)[3]
    b = ag.positions / 10.0
    d_store = np.linalg.norm(a[:, None] - a[None], axis=-1)
    d_raw = np.linalg.norm(b[:, None] - b[None], axis=-1)
    close = d_raw < 0.2  # bonded neighbours (not split by the box in this file)
    np.testing.assert_allclose(d_store[close], d_raw[close], atol=1e-5)


def test_make_whole_repairs_wrapped_molecule(tmp_path, cln025_pdb):
    t = make_cln025_traj(cln025_pdb, n_frames=4, box_nm=3.0)
    # centre the peptide on a box corner, then put every atom back into the box: the molecule is broken
    orig = t.xyz - t.xyz.mean(axis=1, keepdims=True) + np.array([0.1, 2.95, 0.05], dtype=np.float32)
    box = t.unitcell_vectors
    wrapped = orig - np.floor(orig / 3.0) * 3.0
    t.xyz = wrapped.astype(np.float32)
    p = tmp_path / "wrapped.xtc"
    t.save_xtc(str(p))
    for eng in ("mdtraj", "mdanalysis"):
        st = prepare(cln025_pdb, p, tmp_path / f"s_{eng}", engine=eng)
        x = st.trajectory(0)
        sel = st.atom_indices
        # whole = original up to one lattice translation per frame
        shift = x - orig[:, sel]
        assert np.abs(shift - shift[:, :1]).max() < 2e-3, eng
        frac = shift[:, 0] / box[:, 0, 0][:, None]
        bond = np.linalg.norm(x[:, 1:] - x[:, :-1], axis=-1)
        assert np.median(bond) < 0.2
        assert np.abs(frac - np.round(frac)).max() < 2e-3
    # and the wrapped input really was broken
    assert np.abs(wrapped - orig).max() > 0.5


def test_minimum_image_triclinic():
    box = np.array([[[2.0, 0, 0], [0.5, 2.0, 0], [0.3, 0.4, 2.0]]])
    rng = np.random.default_rng(0)
    d = rng.uniform(-0.3, 0.3, size=(1, 50, 3))
    lattice = rng.integers(-2, 3, size=(1, 50, 3)) @ box[0]
    np.testing.assert_allclose(minimum_image(d + lattice, box), d, atol=1e-12)


def test_make_whole_keeps_roots_and_handles_fragments():
    # two fragments: 0-1-2 chain and 3-4; 5 isolated
    tree = bond_tree(6, np.array([[0, 1], [2, 1], [3, 4]]))
    assert tree.n_fragments == 3
    box = np.tile(np.eye(3) * 1.0, (1, 1, 1))
    xyz = np.array([[[0.1, 0, 0], [0.95, 0, 0], [0.85, 0, 0], [0.5, 0.5, 0.05], [0.5, 0.5, 0.9], [0.3, 0.3, 0.3]]])
    out = make_whole(xyz.copy(), box, tree)
    np.testing.assert_allclose(out[0, 0], xyz[0, 0])
    np.testing.assert_allclose(out[0, 1], [-0.05, 0, 0], atol=1e-12)
    np.testing.assert_allclose(out[0, 2], [-0.15, 0, 0], atol=1e-12)
    np.testing.assert_allclose(out[0, 4], [0.5, 0.5, -0.1], atol=1e-12)
    np.testing.assert_allclose(out[0, 5], xyz[0, 5])
    # no box: unchanged
    np.testing.assert_array_equal(make_whole(xyz.copy(), None, tree), xyz)


@pytest.mark.parametrize("engine", ["mdtraj", "mdanalysis"])
def test_timestep_from_file_with_stride_and_override(tmp_path, cln025_pdb, cln_files, engine):
    xtc = cln_files["xtc"][0]  # 7 frames, 10 ps apart
    st = prepare(cln025_pdb, xtc, tmp_path / "s2", stride=2, engine=engine)
    assert st.timestep_ps == pytest.approx(20.0) and st.n_frames == 4
    np.testing.assert_allclose(st.trajectory(0), cln_files["traj"][0].xyz[::2][:, st.atom_indices], atol=1e-3)
    st = prepare(cln025_pdb, xtc, tmp_path / "s3", stride=3, timestep_ps="5ps", engine=engine)
    assert st.timestep_ps == pytest.approx(15.0) and st.n_frames == 3
    assert st.metadata["timestep_source"] == "user"


def test_unequal_spacing_is_refused(tmp_path, cln025_pdb):
    t = make_cln025_traj(cln025_pdb, n_frames=5)
    t.time = np.array([0.0, 10.0, 20.0, 50.0, 60.0])
    p = tmp_path / "jump.xtc"
    t.save_xtc(str(p))
    with pytest.raises(TrajectoryReadError, match="not equally spaced"):
        prepare(cln025_pdb, p, tmp_path / "s")
    assert prepare(cln025_pdb, p, tmp_path / "s", timestep_ps=10).timestep_ps == 10.0


def test_trajectories_with_different_spacing(tmp_path, cln025_pdb, cln_files):
    t = make_cln025_traj(cln025_pdb, n_frames=4)
    t.time = t.time * 2
    p = tmp_path / "slow.xtc"
    t.save_xtc(str(p))
    with pytest.raises(InputError, match="different frame spacings"):
        prepare(cln025_pdb, [cln_files["xtc"][0], p], tmp_path / "s")
    assert not (tmp_path / "s").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("engine", ["mdtraj", "mdanalysis"])
def test_unknown_spacing_needs_timestep(tmp_path, mdatests, engine):
    # bala.ncdf stores time 0 for every frame: the spacing is unknown
    with pytest.raises(InputError, match="--timestep"):
        prepare(mdatests["prmtop"], mdatests["ncdf"], tmp_path / "s", engine=engine)
    assert not (tmp_path / "s").exists() and leftovers(tmp_path) == []


def test_dcd_has_no_times_in_mdtraj(tmp_path, mdatests):
    with pytest.raises(InputError, match="adk_dims.dcd.*unknown"):
        prepare(mdatests["psf"], mdatests["dcd"], tmp_path / "s", engine="mdtraj")


@pytest.mark.parametrize("engine", ["mdtraj", "mdanalysis"])
def test_garbage_trajectory(tmp_path, cln025_pdb, engine):
    bad = tmp_path / "garbage.xtc"
    bad.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(TrajectoryReadError, match="garbage.xtc"):
        prepare(cln025_pdb, bad, tmp_path / "s", engine=engine)
    assert not (tmp_path / "s").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("engine", ["mdtraj", "mdanalysis"])
@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_trajectory(tmp_path, cln025_pdb, engine, keep):
    """A trajectory cut inside a frame is refused by both engines (a cut exactly between frames is a valid file)."""
    t = make_cln025_traj(cln025_pdb, n_frames=20)
    full = tmp_path / "full.xtc"
    t.save_xtc(str(full))
    data = full.read_bytes()
    bad = tmp_path / "cut.xtc"
    bad.write_bytes(data[: int(len(data) * keep)])
    full.unlink()
    with pytest.raises(TrajectoryReadError, match=r"cut.xtc.*truncated or corrupt"):
        prepare(cln025_pdb, bad, tmp_path / "s", engine=engine)
    assert not (tmp_path / "s").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("engine", ["mdtraj", "mdanalysis"])
def test_atom_count_mismatch(tmp_path, mdatests, cln025_pdb, engine):
    with pytest.raises(TrajectoryReadError, match=r"175 atoms.*adk_dims.dcd.*3341"):
        prepare(cln025_pdb, mdatests["dcd"], tmp_path / "s", engine=engine, timestep_ps=1.0)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("engine", ["mdtraj", "mdanalysis"])
def test_invalid_and_empty_selection(cln025_pdb, engine):
    with pytest.raises(SelectionError, match="not valid"):
        make_reader(engine, cln025_pdb, "protein and and ((")
    with pytest.raises(SelectionError, match="selects no atoms"):
        make_reader(engine, cln025_pdb, "resname XYZ")
    with pytest.raises(SelectionError):
        make_reader(engine, cln025_pdb, "   ")


def test_nan_coordinates(tmp_path, cln025_pdb):
    t = make_cln025_traj(cln025_pdb, n_frames=5)
    t.xyz[3, 10, 1] = np.nan
    p = tmp_path / "nan.dcd"
    t.save_dcd(str(p))
    with pytest.raises(TrajectoryReadError, match=r"nan.dcd.*NaN.*frame 3"):
        prepare(cln025_pdb, p, tmp_path / "s", timestep_ps=10)
    assert not (tmp_path / "s").exists() and leftovers(tmp_path) == []


def test_missing_files(tmp_path, cln025_pdb, cln_files):
    with pytest.raises(MissingFileError, match="nope.xtc"):
        prepare(cln025_pdb, tmp_path / "nope.xtc", tmp_path / "s")
    with pytest.raises(MissingFileError, match="nope.pdb"):
        prepare(tmp_path / "nope.pdb", cln_files["xtc"][0], tmp_path / "s")
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_mdanalysis_reads_tpr(tmp_path):
    from MDAnalysisTests.datafiles import TPR, XTC

    st = prepare(TPR, XTC, tmp_path / "tpr", engine="mdanalysis")
    assert st.n_atoms == 1656 and st.n_frames == 10 and st.metadata["made_whole"]
    with pytest.raises(TrajectoryReadError, match="mdanalysis"):
        make_reader("mdtraj", TPR)
    assert isinstance(TrajectoryStore.open(tmp_path / "tpr"), TrajectoryStore)


@pytest.mark.parametrize("engine", ["mdtraj", "mdanalysis"])
@pytest.mark.parametrize("start_ps", [0.0, 20_000.0])
def test_float32_xtc_times_give_the_exact_spacing(tmp_path, cln025_pdb, engine, start_ps):
    """XTC stores float32 times: 0.2 ps frames read as 0.199997 (and, late in a run, jitter by 0.002 ps).

    The spacing is taken over the span of the times and rounded within their float32 precision, so the store
    says 0.2 ps and a lag of 1 ps is 5 frames; the raw median difference is recorded beside it."""
    from mdkoop.units import lag_to_frames

    t = make_cln025_traj(cln025_pdb, n_frames=300)
    t.time = start_ps + 0.2 * np.arange(300)
    t.save_xtc(str(tmp_path / "t.xtc"))
    store = prepare(cln025_pdb, tmp_path / "t.xtc", tmp_path / "s", select="name CA", engine=engine)
    assert store.timestep_ps == 0.2
    entry = store.metadata["trajectories"][0]
    assert entry["file_timestep_ps"] == 0.2 and entry["file_timestep_ps_raw"] != 0.2
    assert lag_to_frames("1ps", store.timestep_ps) == 5


def test_lag_message_suggests_the_rounded_spacing():
    from mdkoop.errors import LagError
    from mdkoop.units import lag_to_frames

    with pytest.raises(LagError, match=r"looks like 0\.2 ps.*--timestep 0\.2ps"):
        lag_to_frames("1ps", 0.199997)
    with pytest.raises(LagError, match=r"such as 20ps") as info:
        lag_to_frames("15ps", 10.0)
    assert "looks like" not in str(info.value)
