"""Cost per MD step of an OpenMM bias on 3 mdkoop CVs: one module per CV against the one-evaluation restraint module.

openmm-torch evaluates a ``TorchForce`` once per step: ``forward`` on the whole system's positions
(float64 on the CPU platforms), then the gradient for the forces. A bias on k CVs built from the per-CV
modules (``cv_<c>.pt`` in a ``CustomCVForce`` or as metadynamics ``BiasVariable``s) runs the SchNet
model k times; ``cvs_restraint.pt`` computes all k CVs from one evaluation and restrains each.

Model: the default SchNet encoder (64 x 3 interactions, cutoff 0.6 nm) on the heavy atoms of CLN025
(97 atoms) inside the whole 175-atom system, as ``bench_inference.py`` builds it; 3 CVs exported with
``export_model(format="openmm")``. Each step = forward + autograd gradient w.r.t. the positions, on
perturbed copies of the structure, single-threaded, candidates interleaved; medians over repeats.
The two candidates' energies and forces are checked against each other first.

Writes ``benchmarks/results/openmm_step.json``.

Run: ``.venv/bin/python benchmarks/bench_openmm_step.py [--steps 200] [--repeats 5] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import interleaved_times, write_result  # noqa: E402
from bench_graphs import make_frames  # noqa: E402
from bench_inference import _refit_linear, build_model, cln025_atoms  # noqa: E402

N_CV = 3


def step_per_cv(modules, pos: torch.Tensor, ks, centres) -> tuple[float, torch.Tensor]:
    """One step of a CustomCVForce over per-CV modules: each evaluated, each gradient taken."""
    energy, forces = 0.0, torch.zeros_like(pos)
    for m, k, s in zip(modules, ks, centres):
        p = pos.detach().requires_grad_(True)
        cv = m(p)
        (g,) = torch.autograd.grad(cv, p)
        c = float(cv.detach())
        energy += 0.5 * k * (c - s) ** 2
        forces -= k * (c - s) * g
    return energy, forces


def step_restraint(module, pos: torch.Tensor, params) -> tuple[float, torch.Tensor]:
    """One step of the restraint module: one evaluation, one gradient."""
    p = pos.detach().requires_grad_(True)
    e = module(p, *params)
    (g,) = torch.autograd.grad(e, p)
    return float(e), -g


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="MD steps (configurations) per timed repeat")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="30 steps, 2 repeats")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 30, 2
    torch.set_num_threads(1)
    import logging

    logging.getLogger("mdkoop").setLevel(logging.ERROR)
    from mdkoop.export import export_model
    from mdkoop.export.openmm import restraint_parameters

    heavy, z = make_frames("heavy", args.steps)
    whole, _ = make_frames("all", args.steps)  # the full system; the model reads its heavy atoms
    atoms = cln025_atoms("heavy")
    model = _refit_linear(build_model(z.numpy().astype(np.int64), heavy.numpy(), atoms), heavy.numpy())
    with tempfile.TemporaryDirectory(prefix="mdkoop-bench-omm-") as tmp:
        out = export_model(model, Path(tmp) / "omm", format="openmm", cvs=",".join(map(str, range(1, N_CV + 1))),
                           same_numbering=True)  # the atom indices are those of the full cln025.pdb
        meta = json.loads((out / "metadata.json").read_text())
        per_cv = [torch.jit.load(str(out / f)) for f in meta["files"]]
        restraint = torch.jit.load(str(out / meta["restraint_file"]))
    centres = [0.0] * N_CV
    ks = [100.0] * N_CV
    params = [torch.tensor(v, dtype=torch.float64) for _, v in restraint_parameters(meta, ks, centres)]
    pos = whole.to(torch.float64)

    # same energies and forces first
    for t in range(3):
        e1, f1 = step_per_cv(per_cv, pos[t], ks, centres)
        e2, f2 = step_restraint(restraint, pos[t], params)
        if abs(e1 - e2) > 1e-3 * max(1.0, abs(e1)) or not torch.allclose(f1, f2, rtol=1e-3, atol=1e-3 * f1.abs().max()):
            raise RuntimeError(f"the two candidates disagree at frame {t}: E {e1} vs {e2}")

    def run_per_cv():
        for t in range(args.steps):
            step_per_cv(per_cv, pos[t], ks, centres)

    def run_restraint():
        for t in range(args.steps):
            step_restraint(restraint, pos[t], params)

    run_per_cv(), run_restraint()  # warm-up (TorchScript profiling)
    t0 = time.perf_counter()
    a, b = interleaved_times([run_per_cv, run_restraint], repeats=args.repeats)
    ms_a, ms_b = a["median_s"] / args.steps * 1e3, b["median_s"] / args.steps * 1e3
    result = {
        "n_cv": N_CV,
        "n_model_atoms": int(len(z)),
        "n_system_atoms": int(pos.shape[1]),
        "steps": args.steps,
        "repeats": args.repeats,
        "threads": 1,
        "ms_per_step": {"per_cv_modules": ms_a, "restraint_module": ms_b},
        "speedup_restraint_over_per_cv": ms_a / ms_b,
        "times_s": {"per_cv_modules": a, "restraint_module": b},
        "timed_wall_s": time.perf_counter() - t0,
    }
    print(f"{N_CV} CVs, {len(z)} model atoms: per-CV modules {ms_a:.2f} ms/step, restraint module {ms_b:.2f} ms/step "
          f"(x{ms_a / ms_b:.2f})")
    write_result("openmm_step_quick" if args.quick else "openmm_step", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
