"""plumed.dat contract: atoms, argument order, units; the (1, 3N) model fed in ARG order equals transform."""

from __future__ import annotations

import os
import re
import shutil

import numpy as np
import pytest
import torch

from mdkoop.export import export_model


def _parse(text: str) -> dict:
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    pos = {}
    for ln in lines:
        m = re.fullmatch(r"(\w+): POSITION ATOM=(\d+)( NOPBC)?", ln)
        if m:
            assert m.group(3), f"POSITION without NOPBC: {ln}"
            pos[m.group(1)] = int(m.group(2))
    (model,) = [ln for ln in lines if "PYTORCH_MODEL" in ln]
    (whole,) = [ln for ln in lines if ln.startswith("WHOLEMOLECULES")]
    (units,) = [ln for ln in lines if ln.startswith("UNITS")]
    (prnt,) = [ln for ln in lines if ln.startswith("PRINT")]
    kw = dict(tok.split("=", 1) for tok in model.split()[2:])
    return {
        "positions": pos,
        "label": model.split(":")[0],
        "file": kw["FILE"],
        "args": kw["ARG"].split(","),
        "entity": [int(a) for a in whole.split("ENTITY0=")[1].split(",")],
        "units": units,
        "print": dict(tok.split("=", 1) for tok in prnt.split()[1:])["ARG"].split(","),
    }


@pytest.fixture(scope="module")
def exported(standin, tmp_path_factory):
    out = export_model(standin["spec"], tmp_path_factory.mktemp("pl") / "plumed", format="plumed", cvs="3,1")
    return out, _parse((out / "plumed.dat").read_text())


def test_plumed_dat_atoms_and_argument_order(exported, standin, adk_frames):
    out, p = exported
    idx = adk_frames["indices"]
    n = len(idx)
    # one POSITION per atom, 1-based original indices, in model order; WHOLEMOLECULES over the same atoms
    assert list(p["positions"].values()) == (idx + 1).tolist()
    assert p["entity"] == (idx + 1).tolist()
    assert "LENGTH=nm" in p["units"]
    # ARG: 3N values, each an existing POSITION component, atom-major x,y,z order
    assert len(p["args"]) == 3 * n
    for k, arg in enumerate(p["args"]):
        lab, comp = arg.split(".")
        assert lab in p["positions"] and comp == "xyz"[k % 3]
        assert p["positions"][lab] == idx[k // 3] + 1
    assert (out / p["file"]).is_file()
    assert p["print"] == [f"{p['label']}.node-0", f"{p['label']}.node-1"]


def test_model_fed_in_arg_order_equals_transform(exported, standin, adk_frames):
    """Simulate PLUMED: build the (1, 3N) input from whole-system positions following ARG, compare with transform."""
    out, p = exported
    m = torch.jit.load(str(out / p["file"]))
    xyz = adk_frames["xyz"]
    expected = standin["transform"](xyz[:, adk_frames["indices"]])[:, [2, 0]]  # --cvs 3,1
    for t in range(len(xyz)):
        row = [xyz[t, p["positions"][a.split(".")[0]] - 1, "xyz".index(a.split(".")[1])] for a in p["args"]]
        x = torch.tensor([row], dtype=torch.float32)  # PLUMED passes float32 (1, n_in)
        y = m(x)
        assert y.shape == (1, 2) and y.dtype == torch.float32 and y.is_contiguous()
        np.testing.assert_allclose(y.detach().numpy()[0], expected[t], atol=1e-4)


def test_plumed_bias_example_and_readme(exported, standin):
    out, p = exported
    text = (out / "plumed.dat").read_text()
    opes = [ln for ln in text.splitlines() if "OPES_METAD" in ln and "ARG=" in ln]
    metad = [ln for ln in text.splitlines() if "METAD ARG=" in ln and "OPES" not in ln]
    assert opes and opes[0].startswith("#") and metad and metad[0].startswith("#")
    args = re.search(r"ARG=(\S+)", opes[0]).group(1).split(",")
    assert args == p["print"][:2]
    sigma = [float(s) for s in re.search(r"SIGMA=(\S+)", opes[0]).group(1).split(",")]
    assert all(s > 0 for s in sigma) and "BARRIER=" in opes[0] and "PACE=" in opes[0]
    readme = (out / "README.md").read_text()
    for needle in ("gmx mdrun", "-plumed plumed.dat", "fix", "plumed driver", "--enable-libtorch", "nm", "LENGTH=nm"):
        assert needle in readme, needle


def _plumed_kernel_with_pytorch():
    kernel = os.environ.get("PLUMED_KERNEL")
    if not kernel or not os.path.exists(kernel):
        return None, "no PLUMED kernel: set PLUMED_KERNEL to a libplumedKernel built with --enable-libtorch"
    try:
        import plumed  # noqa: F401
    except ImportError:
        return None, "the `plumed` Python module is not installed"
    return kernel, ""


def test_live_plumed(exported, standin, adk_frames, tmp_path):
    """Run the generated plumed.dat in a real PLUMED kernel (skipped when none with LibTorch is available)."""
    kernel, why = _plumed_kernel_with_pytorch()
    if kernel is None:
        pytest.skip(why)
    import plumed

    out, p = exported
    for name in ("plumed.dat", "model.ptc"):
        shutil.copy(out / name, tmp_path / name)
    xyz = adk_frames["xyz"].astype(np.float64)
    n_particles = xyz.shape[1]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        pl = plumed.Plumed()
        pl.cmd("setMDEngine", "python")
        pl.cmd("setNatoms", n_particles)
        pl.cmd("setTimestep", 0.002)
        pl.cmd("setKbT", 2.5)
        pl.cmd("setLogFile", "plumed.log")
        pl.cmd("setPlumedDat", "plumed.dat")
        pl.cmd("init")
        box = np.diag([20.0, 20.0, 20.0])
        masses = np.ones(n_particles)
        for t in range(len(xyz)):
            forces = np.zeros((n_particles, 3))
            virial = np.zeros((3, 3))
            pos = np.ascontiguousarray(xyz[t])
            pl.cmd("setStep", t * 500)
            pl.cmd("setBox", box)
            pl.cmd("setMasses", masses)
            pl.cmd("setCharges", np.zeros(n_particles))
            pl.cmd("setPositions", pos)
            pl.cmd("setForces", forces)
            pl.cmd("setVirial", virial)
            pl.cmd("calc")
        pl.finalize()
        colvar = np.loadtxt("COLVAR", comments="#")
    finally:
        os.chdir(cwd)
    expected = standin["transform"](adk_frames["xyz"][:, adk_frames["indices"]])[:, [2, 0]]
    np.testing.assert_allclose(colvar[:, 1:3], expected, atol=1e-3)
