"""Export of a real fitted run (SchNet on adenylate-kinase CA atoms) through the CLI; checks in a fresh process."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from mdkoop.cli.main import main

from ._fresh import check_gradient, run_fresh


@pytest.fixture(scope="module")
def fitted_run(mdatests, tmp_path_factory):
    """A real `fit` run: store of the 214 CA atoms of ADK (98 frames, 1 ps), small SchNet, 3 epochs."""
    from mdkoop.io.store import prepare
    from mdkoop.training.estimator import KoopmanSVD
    from mdkoop.training.model import load_model

    root = tmp_path_factory.mktemp("fitted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = prepare(mdatests["psf"], [mdatests["dcd"]], root / "store", select="name CA", timestep_ps=1.0)
        KoopmanSVD(lagtime=2, n_modes=4, encoder="schnet", epochs=3, lr=3e-3, batch_size=16, device="cpu", seed=0,
                   n_atom_basis=16, n_interactions=2, n_rbf=10, cutoff=0.8, val_fraction=0.2).fit(store, run_dir=root / "run")
        model = load_model(root / "run")
        cvs = model.transform(store)[0]
    return {"run": root / "run", "store": store, "model": model, "cvs": cvs, "root": root}


def test_cli_export_all_formats_reload_without_mdkoop(fitted_run, adk_frames, tmp_path):
    run, model = fitted_run["run"], fitted_run["model"]
    n_cv = fitted_run["cvs"].shape[1]
    files = []
    for fmt in ("torchscript", "plumed", "openmm"):
        all_cvs = ",".join(str(c) for c in range(1, n_cv + 1))  # also the unresolved ones (see below)
        assert main(["-q", "export", str(run), "--format", fmt, "--out", str(tmp_path / fmt), "--cvs", all_cvs]) == 0
        meta = json.loads((tmp_path / fmt / "metadata.json").read_text())
        assert meta["atom_indices"] == model.atoms["indices"] and meta["atom_names"] == model.atoms["names"]
        assert meta["cvs"] == list(range(1, n_cv + 1)) and meta["kind"] == "singular"
        assert meta["lagtime_frames"] == 2 and meta["lagtime_ps"] == 2.0 and meta["cutoff_nm"] == 0.8
        assert meta["cv_stats"]["n_frames"] == 98  # ranges from the training store
        # numbering of the training topology (all-atom, so it can be a simulation's: no --topology needed)
        assert meta["topology"] == {"name": "adk.psf", "n_atoms": 3341, "n_hydrogens": 1685, "temperature_K": None}
        files += [tmp_path / fmt / f for f in {"torchscript": ["cv_model.pt"], "plumed": ["model.ptc"]}.get(fmt, meta.get("files", []))]
    assert len(files) == 2 + n_cv

    xyz = adk_frames["xyz"]  # the first frames of the same DCD, whole system
    res = run_fresh(files, xyz, tmp_path)
    expected = fitted_run["cvs"][: len(xyz)]
    for k, f in enumerate(files):
        cols = [res["meta"][k]["openmm_cv"] - 1] if f.name.startswith("cv_") and f.name != "cv_model.pt" else list(range(n_cv))
        np.testing.assert_allclose(res["out"][k], expected[:, cols], atol=1e-3, err_msg=str(f))  # float32 rounding, amplified by the output standardisation

    # autograd gradients of the PLUMED model (from the fresh process) against finite differences
    idx = np.asarray(model.atoms["indices"])
    m = torch.jit.load(str(files[1]))
    for j in range(n_cv):
        check_gradient(lambda x, j=j: m(torch.tensor(x.reshape(1, -1), dtype=torch.float32))[0, j],
                       xyz[0, idx], res["grad"][1][j].reshape(-1, 3), h=2e-3)  # float32 CVs: a wider step


def test_cli_plumed_dat_matches_run(fitted_run, tmp_path):
    out = tmp_path / "pl"
    assert main(["-q", "export", str(fitted_run["run"]), "--format", "plumed", "--out", str(out), "--cvs", "1"]) == 0
    text = (out / "plumed.dat").read_text()
    atoms = [int(ln.split("ATOM=")[1].split()[0]) for ln in text.splitlines() if ": POSITION ATOM=" in ln]
    assert atoms == [i + 1 for i in fitted_run["model"].atoms["indices"]]
    assert "PYTORCH_MODEL FILE=model.ptc ARG=p1.x,p1.y,p1.z,p2.x" in text


def test_cli_refusals(fitted_run, tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["export", str(fitted_run["run"]), "--format", "plumed", "--out", str(out), "--cvs", "0"]) == 2
    assert "CV number 0 is out of range" in capsys.readouterr().err and not out.exists()
    out.mkdir()
    assert main(["export", str(fitted_run["run"]), "--format", "torchscript", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and list(out.iterdir()) == []
    assert main(["export", str(tmp_path / "norun"), "--format", "plumed", "--out", str(tmp_path / "y")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "y").exists()


def test_eigen_kind_and_strided_ranges(fitted_run, tmp_path, monkeypatch):
    """--kind eigen exports the eigenfunctions of transform(kind='eigen'); large stores are strided for ranges."""
    from mdkoop.export import export_model, model_adapter

    monkeypatch.setattr(model_adapter, "MAX_RANGE_FRAMES", 30)
    model = fitted_run["model"]
    out = export_model(model, tmp_path / "eig", format="torchscript", kind="eigen", cvs="1")
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["kind"] == "eigen" and meta["cv_stats"]["n_frames"] == 25  # every 4th of 98 frames
    m = torch.jit.load(str(out / "cv_model.pt"))
    pos = np.asarray(fitted_run["store"].trajectory(0)[:5])
    expected = model.transform(pos, kind="eigen")[0][:, :1]
    np.testing.assert_allclose(m(torch.tensor(pos)).detach().numpy(), expected, atol=1e-3)


def test_cli_topology_option_uses_residue_matching(fitted_run, mdatests, tmp_path):
    """--topology with the full ADK PSF maps each CA onto itself; the metadata name the new topology."""
    out = tmp_path / "pl"
    argv = ["-q", "export", str(fitted_run["run"]), "--format", "plumed", "--out", str(out), "--topology", mdatests["psf"]]
    assert main(argv) == 0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["atom_indices"] == fitted_run["model"].atoms["indices"]
    assert meta["topology"]["name"] == "adk.psf" and meta["topology"]["trained_on"]["name"] == "adk.psf"


def test_default_export_leaves_out_unresolved_cvs(fitted_run, caplog):
    import dataclasses
    import logging

    from mdkoop.export.api import default_cvs, spec_from_model

    spec = spec_from_model(fitted_run["model"])
    lag = spec.lagtime_ps
    n = spec.n_available
    ts = np.array([10 * lag, 3 * lag, 0.5 * lag][:n])
    vals = np.array([0.9, 0.02, 0.2][:n])
    with caplog.at_level(logging.WARNING, logger="mdkoop"):
        chosen = default_cvs(dataclasses.replace(spec, timescales_ps=ts, values=vals))
    assert chosen == [1]  # CV 2: value ~0; CV 3: faster than the lag
    assert "left out" in caplog.text and "--cvs" in caplog.text
    assert default_cvs(dataclasses.replace(spec, timescales_ps=ts * 0.1, values=vals)) == [1]  # none: CV 1
    assert default_cvs(dataclasses.replace(spec, timescales_ps=None)) == list(range(1, n + 1))
