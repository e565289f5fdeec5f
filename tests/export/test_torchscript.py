"""Exported TorchScript CVs: fresh-process reload, agreement with transform, gradients, metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mdkoop import __version__
from mdkoop.export import export_model, read_metadata

from ._fresh import check_gradient, run_fresh


def test_all_formats_fresh_process(standin, adk_frames, tmp_path):
    """Each exported file, loaded without mdkoop, reproduces transform (atol 1e-4) and its gradients."""
    spec, ref = standin["spec"], standin["transform"]
    xyz = adk_frames["xyz"]
    files, cols = [], []
    for fmt, cvs in (("torchscript", "2,1,4"), ("plumed", [1, 2]), ("openmm", "3,5")):
        out = export_model(spec, tmp_path / fmt, format=fmt, cvs=cvs)
        meta = json.loads((out / "metadata.json").read_text())
        names = {"torchscript": ["cv_model.pt"], "plumed": ["model.ptc"], "openmm": meta.get("files", [])}[fmt]
        for name in names:
            files.append(out / name)
            m = read_metadata(out / name)
            cols.append([m["openmm_cv"] - 1] if fmt == "openmm" else [c - 1 for c in m["cvs"]])
    assert [f.name for f in files] == ["cv_model.pt", "model.ptc", "cv_3.pt", "cv_5.pt"]

    res = run_fresh(files, xyz, tmp_path)
    expected = ref(xyz[:, adk_frames["indices"]])
    for k, f in enumerate(files):
        np.testing.assert_allclose(res["out"][k], expected[:, cols[k]], atol=1e-4, rtol=0, err_msg=str(f))
        meta = res["meta"][k]
        assert meta["atom_indices"] == adk_frames["indices"].tolist()
        assert meta["atom_names"] == adk_frames["names"] and meta["mdkoop_version"] == __version__
        assert meta["cutoff_nm"] == 0.8 and meta["lagtime_ps"] == 2.0 and meta["units"]["length"] == "nm"
        assert meta["kind"] == "singular"

    # gradients from the fresh process against central finite differences (frame 0, every output)
    idx = adk_frames["indices"]
    x0 = xyz[0]
    for k, f in enumerate(files):
        m = torch.jit.load(str(f))
        fmt = res["meta"][k]["format"]
        for j in range(res["grad"][k].shape[0]):
            if fmt == "openmm":
                g = res["grad"][k][j][idx]  # only the model atoms move the CV ...
                mask = np.ones(len(x0), bool)
                mask[idx] = False
                assert not np.any(res["grad"][k][j][mask])  # ... all other atoms have zero gradient

                def fn(x, m=m):
                    full = torch.tensor(x0, dtype=torch.float64).clone()
                    full[idx] = torch.tensor(x.reshape(-1, 3))
                    return m(full)
            elif fmt == "plumed":
                g = res["grad"][k][j].reshape(-1, 3)

                def fn(x, m=m, j=j):
                    return m(torch.tensor(x.reshape(1, -1), dtype=torch.float32))[0, j]
            else:
                g = res["grad"][k][j][0]

                def fn(x, m=m, j=j):
                    return m(torch.tensor(x.reshape(1, -1, 3), dtype=torch.float32))[0, j]
            check_gradient(fn, x0[idx], g)


def test_gradients_are_translation_and_rotation_invariant(standin, tmp_path):
    """CVs depend on distances only: same value after a rigid motion, and forces sum to zero."""
    out = export_model(standin["spec"], tmp_path / "ts", format="torchscript", cvs="1")
    m = torch.jit.load(str(out / "cv_model.pt"))
    x = torch.tensor(standin["sel"][:1], dtype=torch.float64)
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    moved = x @ torch.tensor(q) + torch.tensor([1.5, -2.0, 0.7], dtype=torch.float64)
    np.testing.assert_allclose(m(moved).detach().numpy(), m(x).detach().numpy(), atol=2e-5)
    x.requires_grad_(True)
    (g,) = torch.autograd.grad(m(x)[0, 0], x)
    assert g.abs().sum() > 0
    np.testing.assert_allclose(g.sum(dim=1).numpy(), 0.0, atol=1e-4)


def test_single_frame_input_and_shape_refusal(standin, tmp_path):
    out = export_model(standin["spec"], tmp_path / "ts", format="torchscript")
    m = torch.jit.load(str(out / "cv_model.pt"))
    x = torch.tensor(standin["sel"][0])
    np.testing.assert_allclose(m(x).detach().numpy(), standin["transform"](standin["sel"][:1])[0], atol=1e-4)
    try:
        m(x[:10])
    except torch.jit.Error as exc:
        assert "n_atoms" in str(exc)
    else:
        raise AssertionError("a wrong atom count was accepted")


@pytest.mark.cuda
def test_exported_files_run_on_cuda(standin, adk_frames, tmp_path):
    """openmm-torch and a CUDA LibTorch move the module to the GPU: same CVs and gradients there."""
    idx = adk_frames["indices"]
    xyz = adk_frames["xyz"]
    expected = standin["transform"](xyz[:, idx])
    ts = export_model(standin["spec"], tmp_path / "ts", format="torchscript")
    om = export_model(standin["spec"], tmp_path / "om", format="openmm", cvs="2")
    m = torch.jit.load(str(ts / "cv_model.pt"), map_location="cuda")
    got = m(torch.tensor(xyz[:, idx], device="cuda")).cpu().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    o = torch.jit.load(str(om / "cv_2.pt"), map_location="cuda")
    x = torch.tensor(xyz[0], dtype=torch.float64, device="cuda", requires_grad=True)
    y = o(x)
    (g,) = torch.autograd.grad(y, x)
    assert abs(float(y) - expected[0, 1]) < 1e-4
    xc = torch.tensor(xyz[0], dtype=torch.float64, requires_grad=True)
    (gc,) = torch.autograd.grad(torch.jit.load(str(om / "cv_2.pt"))(xc), xc)
    np.testing.assert_allclose(g.cpu().numpy(), gc.numpy(), atol=1e-4)
