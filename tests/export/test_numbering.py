"""Exports that address atoms by number (PLUMED, OpenMM) never silently point at the wrong atoms, and the
bias examples use the data's temperature."""

from __future__ import annotations

import json

import pytest

from mdkoop.cli.main import main
from mdkoop.resources import resource_path
from tests._sample_runs import sample_workspace

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def heavy_run(tmp_path_factory):
    """A run on the bundled sample: a heavy-atom trajectory (no hydrogens), 425 K in its metadata.json."""
    return sample_workspace(tmp_path_factory.mktemp("numbering"), files=("topology.pdb", "trajectory.xtc", "metadata.json"))


def test_store_records_hydrogens_and_temperature(heavy_run):
    meta = json.loads((heavy_run / "store" / "store.json").read_text())
    assert meta["n_hydrogens_topology"] == 0 and meta["n_atoms_topology"] == 97
    assert meta["temperature_K"] == 425.0 and meta["temperature_source"].endswith("metadata.json")


@pytest.mark.parametrize("fmt", ["plumed", "openmm"])
def test_heavy_atom_numbering_is_refused_without_topology(heavy_run, tmp_path, capsys, fmt):
    rc = main(["export", str(heavy_run / "run"), "--format", fmt, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "without hydrogens" in err and "--topology" in err and "--same-numbering" in err
    assert not (tmp_path / "x").exists()
    # the TorchScript format takes the model's atoms as input, not numbers: no check
    assert main(["export", str(heavy_run / "run"), "--format", "torchscript", "--out", str(tmp_path / "ts")]) == 0


def test_topology_renumbers_and_same_numbering_confirms(heavy_run, tmp_path):
    full = resource_path("cln025.pdb")
    assert main(["export", str(heavy_run / "run"), "--format", "plumed", "--out", str(tmp_path / "p"),
                 "--topology", str(full)]) == 0
    meta = json.loads((tmp_path / "p" / "metadata.json").read_text())
    import mdtraj as md

    top = md.load_topology(str(full))
    heavy = [a.index for a in top.atoms if a.element.symbol != "H"]
    assert meta["atom_indices"][:3] == heavy[:3] and max(meta["atom_indices"]) > 96  # numbers of the full system
    assert main(["export", str(heavy_run / "run"), "--format", "plumed", "--out", str(tmp_path / "q"),
                 "--same-numbering"]) == 0
    assert json.loads((tmp_path / "q" / "metadata.json").read_text())["atom_indices"][:3] == [0, 1, 2]


def test_plumed_temperature_from_the_data_or_the_option(heavy_run, tmp_path):
    run = str(heavy_run / "run")
    assert main(["export", run, "--format", "plumed", "--out", str(tmp_path / "a"), "--same-numbering"]) == 0
    text = (tmp_path / "a" / "plumed.dat").read_text()
    assert "TEMP=425 " in text and "TEMP=340" not in text
    assert main(["export", run, "--format", "plumed", "--out", str(tmp_path / "b"), "--same-numbering",
                 "--temperature", "300"]) == 0
    assert "TEMP=300 " in (tmp_path / "b" / "plumed.dat").read_text()


def test_unknown_temperature_is_a_placeholder_plumed_refuses(tmp_path):
    from mdkoop.export.plumed import plumed_input

    text = plumed_input([0, 1, 2], 2, sigma=[0.1, 0.2])
    assert "TEMP=SET_YOUR_TEMPERATURE_K" in text and "SIGMA=0.1,0.2" in text
    assert "TEMP=310 " in plumed_input([0, 1, 2], 2, temperature_K=310.0)


def test_temperature_records(tmp_path):
    """A user's --temperature wins; records that disagree, or a file without one, leave it unknown."""
    from mdkoop.io.store_write import _temperature_entry

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "run_info.json").write_text(json.dumps({"temperature_K": 390.0}))
    (b / "metadata.json").write_text(json.dumps({"temperature_K": 300.0}))
    assert _temperature_entry([a / "t.xtc"], None)["temperature_K"] == 390.0
    assert _temperature_entry([a / "t.xtc", b / "t.xtc"], None)["temperature_K"] is None
    assert _temperature_entry([a / "t.xtc", tmp_path / "t.xtc"], None)["temperature_K"] is None
    assert _temperature_entry([a / "t.xtc"], 350)["temperature_source"] == "user"


def test_plumed_sigma_is_the_within_lag_fluctuation_that_openmm_uses(heavy_run, tmp_path):
    """SIGMA of the OPES/METAD lines = cv_stats['sigma'] (what make_bias_variables uses): below the CV's spread."""
    assert main(["export", str(heavy_run / "run"), "--format", "plumed", "--out", str(tmp_path / "p"),
                 "--same-numbering", "--cvs", "1,2"]) == 0
    meta = json.loads((tmp_path / "p" / "metadata.json").read_text())
    line = next(x for x in (tmp_path / "p" / "plumed.dat").read_text().splitlines() if x.startswith("# metad: METAD"))
    sigma = [float(v) for v in line.split("SIGMA=")[1].split()[0].split(",")]
    stats = meta["cv_stats"]
    assert sigma == pytest.approx(stats["sigma"], rel=1e-3)
    for s, lo, hi, sd in zip(sigma, stats["min"], stats["max"], stats["std"]):
        assert 0 < s < sd and s < 0.25 * (hi - lo)
