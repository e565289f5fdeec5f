"""`mdkoop simulate`: short real OpenMM runs produce valid files; bad requests are refused."""

from __future__ import annotations

import json

import mdtraj as md
import numpy as np
import pytest

from mdkoop.errors import ConfigError, DeviceError, OutputExistsError
from mdkoop.simulation import heavy_atom_indices, plan_steps, simulate

pytest.importorskip("openmm")

META_KEYS = {
    "system", "force_field", "implicit_solvent", "temperature_K", "seed", "n_steps", "timestep_ps",
    "hydrogen_mass_amu", "constraints", "integrator", "platform", "command", "openmm_version", "ns_per_day",
    "frame_spacing_ps", "n_frames", "atoms_saved", "equilibration_ps",
}


def test_plan_steps_known_answers():
    assert plan_steps(1.0, 10.0) == (250_000, 2_500)
    assert plan_steps(0.002, 0.2) == (500, 50)
    assert plan_steps(0.0021, 1.0) == (500, 250)  # rounded down to whole frames
    for ns, every, frag in ((-1, 10, "--ns"), (0, 10, "--ns"), (float("nan"), 10, "--ns"), (1, 0, "--save-every"),
                            (1, 0.005, "multiple"), (0.001, 10, "shorter")):
        with pytest.raises(ConfigError, match=frag):
            plan_steps(ns, every)


def test_heavy_atom_indices():
    np.testing.assert_array_equal(heavy_atom_indices(["C", "H", "N", "H", "O", "D"]), [0, 2, 4])


def test_ala2_short_run_files_and_reproducibility(tmp_path):
    kw = dict(seed=7, save_every_ps=0.2, platform="CPU", threads=1, equilibrate_ps=0.2, progress=False)
    r1 = simulate("ala2", 0.002, 300.0, tmp_path / "a", **kw)
    t = md.load(str(r1.trajectory), top=str(r1.topology))
    assert (t.n_frames, t.n_atoms) == (10, 22)
    np.testing.assert_allclose(np.diff(t.time), 0.2, atol=1e-4)  # frame spacing in ps
    meta = json.loads((tmp_path / "a" / "metadata.json").read_text())
    assert META_KEYS <= set(meta)
    assert meta["force_field"] == "amber14-all.xml" and meta["implicit_solvent"] == "implicit/gbn2.xml"
    assert meta["timestep_ps"] == 0.004 and meta["hydrogen_mass_amu"] == 4.0 and meta["n_frames"] == 10
    # Physically sane: bonded heavy atoms stay bonded (C-N ~0.13-0.15 nm), nothing exploded.
    bonds = np.array([[b.atom1.index, b.atom2.index] for b in t.topology.bonds])
    lengths = md.compute_distances(t, bonds)
    assert 0.08 < lengths.min() and lengths.max() < 0.17
    # Same seed, same platform and thread count: identical trajectory.
    r2 = simulate("ala2", 0.002, 300.0, tmp_path / "b", **kw)
    np.testing.assert_array_equal(md.load(str(r2.trajectory), top=str(r2.topology)).xyz, t.xyz)
    r3 = simulate("ala2", 0.002, 300.0, tmp_path / "c", **{**kw, "seed": 8})
    assert not np.array_equal(md.load(str(r3.trajectory), top=str(r3.topology)).xyz, t.xyz)


def test_cln025_short_run_heavy_atoms(tmp_path, cln025_pdb):
    res = simulate("cln025", 0.002, 340.0, tmp_path / "cln", seed=1, save_every_ps=0.4, platform="CPU", threads=1,
                   atoms="heavy", equilibrate_ps=0.4, progress=False)
    ref = md.load(str(cln025_pdb))
    heavy = ref.topology.select("not element H")
    t = md.load(str(res.trajectory), top=str(res.topology))
    assert (t.n_frames, t.n_atoms) == (5, len(heavy)) and all(a.element.symbol != "H" for a in t.topology.atoms)
    assert [a.name for a in t.topology.atoms] == [ref.topology.atom(i).name for i in heavy]
    np.testing.assert_allclose(np.diff(t.time), 0.4, atol=1e-4)
    # Still the folded hairpin after a few ps at 340 K (C-alpha RMSD to the start well below 0.2 nm).
    ca = t.topology.select("name CA")
    assert md.rmsd(t, ref.atom_slice(heavy), atom_indices=ca).max() < 0.2
    assert res.metadata["atom_indices_saved"] == heavy.tolist()


def test_refusals(tmp_path):
    with pytest.raises(ConfigError, match="Unknown system"):
        simulate("villin", 0.01, 300, tmp_path / "x")
    with pytest.raises(ConfigError, match="--ns"):
        simulate("ala2", -1, 300, tmp_path / "x")
    with pytest.raises(ConfigError, match="--temperature"):
        simulate("ala2", 0.01, 5000, tmp_path / "x")
    with pytest.raises(ConfigError, match="--atoms"):
        simulate("ala2", 0.01, 300, tmp_path / "x", atoms="backbone")
    (tmp_path / "exists").mkdir()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        simulate("ala2", 0.01, 300, tmp_path / "exists")
    import openmm

    have = {openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())}
    if "CUDA" not in have:
        with pytest.raises(DeviceError, match="--platform CPU"):
            simulate("ala2", 0.01, 300, tmp_path / "y", platform="CUDA")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_cli_simulate(tmp_path, capsys):
    from mdkoop.cli.main import main

    out = tmp_path / "run"
    args = ["simulate", "ala2", "--ns", "0.0008", "--save-every", "0.4", "--out", str(out), "--seed", "3",
            "--platform", "CPU", "--threads", "1", "--equilibrate", "0", "--no-progress"]
    assert main(args) == 0
    assert "2 frames" in capsys.readouterr().out
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["command"].startswith("mdkoop ") and meta["seed"] == 3
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


@pytest.mark.parametrize("first", ["function", "submodule"])
def test_mdkoop_simulate_is_the_function_whatever_the_import_order(first):
    """`mdkoop.simulate` is the function; the subpackage is `mdkoop.simulation` (tested in a fresh interpreter)."""
    import subprocess
    import sys

    steps = {"function": "f = mdkoop.simulate; import mdkoop.simulation.structures",
             "submodule": "import mdkoop.simulation.structures; f = mdkoop.simulate"}[first]
    code = f"import mdkoop; {steps}; import mdkoop.simulation.sample; print(callable(mdkoop.simulate), mdkoop.simulate.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "mdkoop.simulation.openmm"]
