"""The store: round trip, metadata, append, atomicity, re-opening, CLI prepare/info."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mdkoop.errors import InputError, MissingFileError, OutputExistsError, TrajectoryReadError
from mdkoop.io.store import TrajectoryStore, append, prepare
from mdkoop.utils.files import sha256_file

from .conftest import leftovers, make_cln025_traj


def test_round_trip_and_metadata(cln_store, cln_files, cln025_pdb):
    st = cln_store
    assert st.n_trajectories == 2
    np.testing.assert_array_equal(st.trajectory_lengths, [7, 5])
    np.testing.assert_array_equal(st.offsets, [0, 7, 12])
    assert st.n_frames == 12 and len(st) == 12
    assert st.timestep_ps == pytest.approx(10.0)
    heavy = [a.index for a in cln_files["traj"][0].topology.atoms if a.element.symbol != "H"]
    np.testing.assert_array_equal(st.atom_indices, heavy)
    assert st.n_atoms == len(heavy) == 97
    for i, t in enumerate(cln_files["traj"]):
        x = st.trajectory(i)
        assert x.dtype == np.float32 and x.shape == (t.n_frames, 97, 3)
        assert isinstance(x, np.memmap)
        np.testing.assert_allclose(x, t.xyz[:, heavy], atol=1e-3)  # XTC precision
    # global gather agrees with per-trajectory views, in the requested order
    g = np.array([11, 0, 7, 6, 3])
    got = st.frames(g)
    exp = np.stack([st.trajectory(1)[4], st.trajectory(0)[0], st.trajectory(1)[0], st.trajectory(0)[6], st.trajectory(0)[3]])
    np.testing.assert_array_equal(got, exp)
    with pytest.raises(InputError, match="Frame indices"):
        st.frames([12])
    # metadata
    m = json.loads((st.path / "store.json").read_text())
    for key in ("n_frames", "trajectory_lengths", "n_atoms", "timestep_ps", "selection", "atom_indices",
                "atom_names", "elements", "atomic_numbers", "format_version", "engine", "stride", "mdkoop_version"):
        assert key in m, key
    assert m["selection"] == "protein and not element H" and m["engine"] == "mdtraj"
    for e, src in zip(m["trajectories"], cln_files["xtc"]):
        assert e["source"]["name"] == src.name
        assert e["source"]["size"] == src.stat().st_size
        assert e["source"]["sha256"] == sha256_file(src)
    assert m["topology"]["sha256"] == sha256_file(cln025_pdb)
    assert sorted(set(st.atomic_numbers.tolist())) == [6, 7, 8]


def test_topology_pdb_of_selected_atoms(cln_store):
    import mdtraj as md

    t = md.load(str(cln_store.topology_path))
    assert t.n_atoms == cln_store.n_atoms
    assert [a.name for a in t.topology.atoms] == cln_store.atom_names
    np.testing.assert_allclose(t.xyz[0], cln_store.trajectory(0)[0], atol=2e-3)  # PDB has 0.001 nm precision


def test_chunk_size_does_not_change_data(tmp_path, cln025_pdb, cln_files, cln_store):
    st = prepare(cln025_pdb, cln_files["xtc"], tmp_path / "s", chunk_size=2)
    for i in range(2):
        np.testing.assert_array_equal(st.trajectory(i), cln_store.trajectory(i))


def test_npy_files_load_with_plain_numpy(cln_store):
    f = cln_store.path / cln_store.metadata["trajectories"][1]["file"]
    x = np.load(f, allow_pickle=False)
    assert x.shape == (5, 97, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x, cln_store.trajectory(1))


def test_append_keeps_existing_data(tmp_path, cln025_pdb, cln_files):
    st = prepare(cln025_pdb, cln_files["xtc"][0], tmp_path / "s")
    f0 = st.path / st.metadata["trajectories"][0]["file"]
    ino, mtime = f0.stat().st_ino, f0.stat().st_mtime_ns
    st2 = append(st, cln_files["xtc"][1])
    assert st2.n_trajectories == 2 and st2.n_frames == 12
    np.testing.assert_array_equal(st2.trajectory_lengths, [7, 5])
    assert f0.stat().st_ino == ino and f0.stat().st_mtime_ns == mtime  # not rewritten
    full = prepare(cln025_pdb, cln_files["xtc"], tmp_path / "full")
    np.testing.assert_array_equal(st2.frames(np.arange(12)), full.frames(np.arange(12)))
    assert leftovers(st.path / "trajectories") == []


def test_failed_append_leaves_store_unchanged(tmp_path, cln025_pdb, cln_files):
    st = prepare(cln025_pdb, cln_files["xtc"][0], tmp_path / "s")
    before = (st.path / "store.json").read_bytes()
    files_before = sorted(p.name for p in (st.path / "trajectories").iterdir())
    bad = tmp_path / "bad.xtc"
    bad.write_bytes(b"\x00" * 3000)
    with pytest.raises(TrajectoryReadError, match="bad.xtc"):
        append(st.path, [cln_files["xtc"][1], bad])
    # different spacing is refused after reading, also without leaving files behind
    t = make_cln025_traj(cln025_pdb, n_frames=3)
    t.time = t.time * 3
    slow = tmp_path / "slow.xtc"
    t.save_xtc(str(slow))
    with pytest.raises(InputError, match="frame spacing of 30 ps"):
        append(st.path, slow)
    assert (st.path / "store.json").read_bytes() == before
    assert sorted(p.name for p in (st.path / "trajectories").iterdir()) == files_before
    assert TrajectoryStore.open(st.path).n_frames == 7


def test_append_refuses_other_system(tmp_path, cln025_pdb, cln_files, mdatests):
    st = prepare(cln025_pdb, cln_files["xtc"][0], tmp_path / "s")
    with pytest.raises(InputError, match="differ from the store"):
        append(st, mdatests["dcd"], topology=mdatests["psf"], timestep_ps=10)


def test_existing_output_needs_overwrite(tmp_path, cln025_pdb, cln_files):
    out = tmp_path / "s"
    prepare(cln025_pdb, cln_files["xtc"][0], out)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        prepare(cln025_pdb, cln_files["xtc"][1], out)
    assert TrajectoryStore.open(out).n_frames == 7
    # a failing overwrite keeps the old store
    with pytest.raises(MissingFileError):
        prepare(cln025_pdb, tmp_path / "missing.xtc", out, overwrite=True)
    assert TrajectoryStore.open(out).n_frames == 7
    assert prepare(cln025_pdb, cln_files["xtc"][1], out, overwrite=True).n_frames == 5
    assert leftovers(tmp_path) == []


def test_open_errors(tmp_path, cln025_pdb, cln_files):
    with pytest.raises(MissingFileError, match="does not exist"):
        TrajectoryStore.open(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingFileError, match="not an mdkoop store"):
        TrajectoryStore.open(tmp_path / "empty")
    st = prepare(cln025_pdb, cln_files["xtc"][0], tmp_path / "s")
    f = st.path / st.metadata["trajectories"][0]["file"]
    with open(f, "r+b") as fh:
        fh.truncate(f.stat().st_size - 12)
    with pytest.raises(InputError, match="damaged"):
        TrajectoryStore.open(st.path)


def test_cli_prepare_and_info(tmp_path, cln025_pdb, cln_files, capsys):
    from mdkoop.cli.main import main

    out = tmp_path / "store"
    rc = main(["prepare", str(cln025_pdb), str(cln_files["xtc"][0]), "--out", str(out), "--stride", "2"])
    assert rc == 0
    # append reads with the store's stride (2): 5 frames -> 3
    assert main(["prepare", str(cln025_pdb), str(cln_files["xtc"][1]), "--out", str(out), "--append"]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "trajectories 2" in text and "frames       7" in text and "97 of 175" in text
    assert "20 ps per frame" in text and "a.xtc" in text and "b.xtc" in text
    assert main(["prepare", str(cln025_pdb), "nothing.xtc", "--out", str(out), "--append"]) == 2
    err = capsys.readouterr().err
    assert "nothing.xtc" in err and "Traceback" not in err
    assert main(["prepare", str(cln025_pdb), str(cln_files["xtc"][0]), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "nothing")]) == 2
