"""OpenMM export: per-CV whole-system modules, helper refusals, and a live openmm-torch run when available."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mdkoop.errors import DependencyError, InputError, MissingFileError
from mdkoop.export import export_model, read_metadata
from mdkoop.export.openmm import cv_files, make_bias_variables, make_cv_force


@pytest.fixture(scope="module")
def omm_dir(standin, tmp_path_factory):
    return export_model(standin["spec"], tmp_path_factory.mktemp("omm") / "omm", format="openmm", cvs="4,2")


def _has_openmmtorch() -> tuple[bool, str]:
    try:
        import openmmtorch  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return False, f"openmm-torch is not importable here ({type(exc).__name__}: {exc}); it needs a torch-matched build"
    return True, ""


def test_one_module_per_cv_on_whole_system(omm_dir, standin, adk_frames):
    files = cv_files(omm_dir)
    assert [f.name for f in files] == ["cv_4.pt", "cv_2.pt"]
    xyz = adk_frames["xyz"]
    expected = standin["transform"](xyz[:, adk_frames["indices"]])
    for f, col in zip(files, (3, 1)):
        meta = read_metadata(f)
        assert meta["format"] == "openmm" and meta["openmm_cv"] == col + 1
        m = torch.jit.load(str(f))
        for t in range(len(xyz)):
            for dtype in (torch.float64, torch.float32):  # Reference/CPU pass float64, GPUs may pass float32
                y = m(torch.tensor(xyz[t], dtype=dtype))
                assert y.dim() == 0
                assert abs(float(y) - expected[t, col]) < 1e-4
        # atoms that are not in the model do not change the CV
        moved = torch.tensor(xyz[0], dtype=torch.float64)
        others = np.setdiff1d(np.arange(len(moved)), adk_frames["indices"])
        moved[others] += 3.0
        assert abs(float(m(moved)) - expected[0, col]) < 1e-4


def test_one_restraint_module_for_all_cvs(omm_dir, standin, adk_frames):
    """cvs_restraint.pt: E = sum 0.5 k_i (cv_i - s_i)^2 from one evaluation, gradient = chain rule of the CVs."""
    from mdkoop.export.openmm import restraint_parameters

    meta = json.loads((omm_dir / "metadata.json").read_text())
    assert meta["restraint_file"] == "cvs_restraint.pt"
    assert meta["openmm_parameters"] == ["mdkoop_k4", "mdkoop_s4", "mdkoop_k2", "mdkoop_s2"]
    params = restraint_parameters(meta, k=[100.0, 40.0], centers=[0.3, -0.2])
    assert params == [("mdkoop_k4", 100.0), ("mdkoop_s4", 0.3), ("mdkoop_k2", 40.0), ("mdkoop_s2", -0.2)]
    restraint = torch.jit.load(str(omm_dir / "cvs_restraint.pt"))
    per_cv = [torch.jit.load(str(f)) for f in cv_files(omm_dir)]
    xyz = adk_frames["xyz"]
    expected = standin["transform"](xyz[:, adk_frames["indices"]])
    args = [torch.tensor(v, dtype=torch.float64) for _, v in params]  # openmm-torch passes scalar tensors, in order
    for t in range(len(xyz)):
        pos = torch.tensor(xyz[t], dtype=torch.float64, requires_grad=True)
        e = restraint(pos, *args)
        want = 0.5 * 100.0 * (expected[t, 3] - 0.3) ** 2 + 0.5 * 40.0 * (expected[t, 1] + 0.2) ** 2
        assert abs(float(e) - want) < 1e-3 * max(1.0, want)
        (grad,) = torch.autograd.grad(e, pos)
        want_grad = torch.zeros_like(pos)
        for m, (kc, sc) in zip(per_cv, ((100.0, 0.3), (40.0, -0.2))):
            p2 = pos.detach().clone().requires_grad_(True)
            cv = m(p2)
            (g,) = torch.autograd.grad(cv, p2)
            want_grad += kc * (float(cv) - sc) * g
        torch.testing.assert_close(grad, want_grad, rtol=1e-3, atol=1e-3)
    # without parameters nothing is restrained
    assert float(restraint(torch.tensor(xyz[0], dtype=torch.float64))) == 0.0
    with pytest.raises(InputError, match="one force constant"):
        restraint_parameters(meta, k=[1.0])


def test_restraint_module_evaluates_the_model_once(standin):
    from mdkoop.export.torchscript import CVModule, OpenMMRestraintModule

    calls = []
    spec = standin["spec"]
    feats = spec.features
    hook = feats.register_forward_hook(lambda *a: calls.append(1))
    try:
        cv = CVModule(feats, spec.weight, spec.bias, len(spec.atom_indices))
        mod = OpenMMRestraintModule(cv, spec.atom_indices)
        pos = torch.zeros(int(spec.atom_indices.max()) + 1, 3, dtype=torch.float64)
        pos[spec.atom_indices] = torch.tensor(standin["sel"][0], dtype=torch.float64)
        one = torch.tensor(1.0)
        mod(pos, one, one, one, one, one, one, one, one, one, one)  # all 5 CVs restrained
    finally:
        hook.remove()
    assert len(calls) == 1


def test_helpers_refuse_clearly(omm_dir, standin, tmp_path):
    ok, _ = _has_openmmtorch()
    if not ok:
        with pytest.raises(DependencyError, match="openmm-torch"):
            make_cv_force(omm_dir, "cv4")
        with pytest.raises(DependencyError, match="openmm-torch"):
            make_bias_variables(omm_dir)
    with pytest.raises(MissingFileError):
        cv_files(tmp_path / "missing.pt")
    pl = export_model(standin["spec"], tmp_path / "pl", format="plumed", cvs="1")
    with pytest.raises(InputError, match="--format openmm"):
        cv_files(pl)
    meta = json.loads((omm_dir / "metadata.json").read_text())
    assert meta["files"] == ["cv_4.pt", "cv_2.pt"] and meta["cv_stats"]["min"][0] < meta["cv_stats"]["max"][0]


def test_live_openmm_torch(omm_dir, standin, adk_frames):
    """CustomCVForce energy/forces and a few metadynamics steps with openmm-torch (skipped when unavailable)."""
    ok, why = _has_openmmtorch()
    if not ok:
        pytest.skip(why)
    import openmm
    from openmm import unit
    from openmm.app.metadynamics import Metadynamics

    xyz = adk_frames["xyz"][0].astype(np.float64)
    n = len(xyz)

    def system():
        s = openmm.System()
        for _ in range(n):
            s.addParticle(12.0)
        return s

    sysA = system()
    sysA.addForce(make_cv_force(omm_dir, "k*cv4", {"k": 2.0}))
    ctx = openmm.Context(sysA, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(xyz * unit.nanometer)
    state = ctx.getState(getEnergy=True, getForces=True)
    expected = standin["transform"](adk_frames["xyz"][:1, adk_frames["indices"]])[0, 3]
    assert abs(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) - 2.0 * expected) < 1e-3
    m = torch.jit.load(str(omm_dir / "cv_4.pt"))
    x = torch.tensor(xyz, requires_grad=True)
    (g,) = torch.autograd.grad(m(x), x)
    f = np.asarray(state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer))
    np.testing.assert_allclose(f, -2.0 * g.numpy(), atol=1e-3)

    sysB = system()
    meta = Metadynamics(sysB, make_bias_variables(omm_dir), 300 * unit.kelvin, 5.0, 1.0 * unit.kilojoule_per_mole, 2)
    integ = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1.0 / unit.picosecond, 0.001 * unit.picoseconds)
    sim = openmm.app.Simulation(openmm.app.Topology(), sysB, integ, openmm.Platform.getPlatformByName("Reference"))
    sim.context.setPositions(xyz * unit.nanometer)
    meta.step(sim, 6)
    assert np.all(np.isfinite(meta.getCollectiveVariables(sim)))
