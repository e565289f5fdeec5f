"""Descriptor encoders (distances, torsions) through fit -> transform -> export, checked in a fresh process.

The runs are real `mdkoop fit --encoder ...` runs on the bundled CLN025 sample (heavy atoms); the exports are
renumbered onto the full CLN025 topology, as a user who simulates with hydrogens does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mdkoop.cli.main import main
from mdkoop.resources import resource_path

from ._fresh import check_gradient, run_fresh

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FIT = ["--lag", "20ps", "--modes", "4", "--epochs", "3", "--batch-size", "64", "--hidden", "16,16",
       "--val-fraction", "0", "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A store of the sample and one fitted run per descriptor encoder."""
    d = tmp_path_factory.mktemp("descriptors")
    sample = resource_path("sample")
    assert main(["-q", "prepare", str(sample / "topology.pdb"), str(sample / "trajectory.xtc"), "--out",
                 str(d / "store")]) == 0
    assert main(["-q", "fit", str(d / "store"), *FIT, "--encoder", "distances", "--contact-r0", "0.8",
                 "--out", str(d / "distances")]) == 0
    assert main(["-q", "fit", str(d / "store"), *FIT, "--encoder", "torsions", "--torsions", "phi,psi,chi1",
                 "--out", str(d / "torsions")]) == 0
    return d


def _full_frames(model, meta, n_frames=4):
    """Sample frames placed into the full 175-atom CLN025 system (other atoms at the origin), float32 nm."""
    import mdtraj as md

    sample = resource_path("sample")
    t = md.load(str(sample / "trajectory.xtc"), top=str(sample / "topology.pdb"))[:n_frames]
    full = np.zeros((n_frames, 175, 3), dtype=np.float32)
    full[:, meta["atom_indices"]] = t.xyz[:, model.atoms["indices"]]
    return full


@pytest.mark.parametrize("kind", ["distances", "torsions"])
def test_exported_cvs_equal_transform_in_a_fresh_process(runs, kind, tmp_path):
    from mdkoop.training.model import load_model

    run = runs / kind
    model = load_model(run)
    assert model.encoder_config.kind == kind
    meta_json = json.loads((run / "model.json").read_text())
    assert meta_json["encoder"]["kind"] == kind and meta_json["encoder"]["index"]
    if kind == "distances":  # all pairs of the 10 CA atoms, as contacts
        assert model.atoms["names"] == ["CA"] * 10 and len(meta_json["encoder"]["index"]) == 45
        assert meta_json["encoder"]["contact_r0"] == 0.8
    else:  # 9 phi + 9 psi + chi1 of the 8 residues that have one (not Gly, and Pro's ring counts)
        assert meta_json["encoder"]["n_in"] == 2 * len(meta_json["encoder"]["index"])

    files = []
    for fmt in ("torchscript", "plumed", "openmm"):
        out = tmp_path / fmt
        assert main(["-q", "export", str(run), "--format", fmt, "--out", str(out), "--cvs", "1,2,3",
                     "--topology", str(resource_path("cln025.pdb"))]) == 0
        meta = json.loads((out / "metadata.json").read_text())
        assert meta["cutoff_nm"] is None  # descriptors have no neighbour cutoff
        files += [out / f for f in {"torchscript": ["cv_model.pt"], "plumed": ["model.ptc"]}.get(fmt, meta.get("files", []))]
    frames = _full_frames(model, meta)
    res = run_fresh(files, frames, tmp_path)
    expected = model.transform(frames[:, meta["atom_indices"]])[0]
    for k, f in enumerate(files):
        cols = [res["meta"][k]["openmm_cv"] - 1] if f.name.startswith("cv_") and f.name != "cv_model.pt" else [0, 1, 2]
        np.testing.assert_allclose(res["out"][k], expected[:, cols], atol=2e-4, err_msg=str(f))
    m = torch.jit.load(str(files[1]))  # PLUMED's model: autograd forces against finite differences
    for j in range(3):
        check_gradient(lambda x, j=j: m(torch.tensor(x.reshape(1, -1), dtype=torch.float32))[0, j],
                       frames[0, meta["atom_indices"]], res["grad"][1][j].reshape(-1, 3), h=2e-3)


def test_export_refuses_a_topology_without_the_selected_atoms(runs, tmp_path, capsys):
    import mdtraj as md

    top = md.load(str(resource_path("cln025.pdb")))
    ca = [a for a in top.topology.atoms if a.name == "CA"][4]
    ca.name = "CX"  # the topology of another system: residue 5 has no CA
    top.save_pdb(str(tmp_path / "other.pdb"))
    out = tmp_path / "x"
    rc = main(["export", str(runs / "distances"), "--format", "plumed", "--out", str(out),
               "--topology", str(tmp_path / "other.pdb")])
    err = capsys.readouterr().err
    assert rc == 2 and "CA" in err and not out.exists()


def test_retrain_rebuilds_the_descriptor_encoder_from_config(runs):
    from mdkoop.training.config import FitConfig
    from mdkoop.training.estimator import KoopmanSVD

    cfg = FitConfig.load(runs / "torsions" / "config.json")
    est = KoopmanSVD.from_config(cfg, lagtime=5)
    assert est.encoder == "torsions" and est.torsions == ("phi", "psi", "chi1") and est.hidden == (16, 16)
    plan = est.plan(runs / "store")
    assert plan.config.encoder.index == cfg.encoder.index and plan.config.train.lagtime == 5
    assert plan.config.train == cfg.train.__class__(**{**cfg.train.to_dict(), "lagtime": 5})


def test_fit_refusals(runs, tmp_path, capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("# i j\n0 5\n3 x\n")
    rc = main(["fit", str(runs / "store"), *FIT, "--encoder", "distances", "--pairs", str(pairs),
               "--out", str(tmp_path / "r")])
    assert rc == 2 and "pairs.txt:3" in capsys.readouterr().err
    rc = main(["fit", str(runs / "store"), *FIT, "--encoder", "distances", "--distances-select", "name ZZ",
               "--out", str(tmp_path / "r")])
    assert rc == 2 and "selects no atoms" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
