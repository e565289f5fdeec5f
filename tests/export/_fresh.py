"""Run exported TorchScript files in a fresh Python process that never imports mdkoop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = r"""
import json, sys
import numpy as np, torch
files = json.loads(sys.argv[1])
x = np.load(sys.argv[2])            # whole-system frames (T, n_particles, 3), nm, float32
res = {}
for k, f in enumerate(files):
    extra = {"mdkoop.json": ""}
    m = torch.jit.load(f, _extra_files=extra)
    meta = json.loads(extra["mdkoop.json"])
    idx = meta["atom_indices"]
    outs, grad0 = [], None
    for t, frame in enumerate(x):
        if meta["format"] == "torchscript":
            inp = torch.tensor(frame[idx]).unsqueeze(0)
        elif meta["format"] == "plumed":
            inp = torch.tensor(frame[idx]).reshape(1, -1)
        else:
            inp = torch.tensor(frame, dtype=torch.float64)
        inp.requires_grad_(True)
        y = m(inp)
        assert y.dtype == torch.float32, y.dtype
        flat = y.reshape(-1)
        if t == 0:
            grad0 = np.stack([torch.autograd.grad(flat[j], inp, retain_graph=True)[0].detach().numpy()
                              for j in range(flat.numel())])
        outs.append(flat.detach().numpy())
    res[f"out{k}"] = np.stack(outs)
    res[f"grad{k}"] = grad0
    res[f"meta{k}"] = np.array(json.dumps(meta))
assert not any(name == "mdkoop" or name.startswith("mdkoop.") for name in sys.modules), "mdkoop was imported"
np.savez(sys.argv[3], **res)
"""


def run_fresh(files, frames: np.ndarray, workdir: Path) -> dict:
    """Load ``files`` with torch.jit.load in a subprocess (outside the repo, mdkoop not importable-by-default).

    Returns ``{"out": [(T, n_out)], "grad": [(n_out, *input_shape) of frame 0], "meta": [dict]}``.
    """
    workdir = Path(workdir)
    np.save(workdir / "frames.npy", np.asarray(frames, dtype=np.float32))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH="")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps([str(f) for f in files]), str(workdir / "frames.npy"), str(workdir / "res.npz")],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(workdir / "res.npz") as r:
        n = len(files)
        return {
            "out": [r[f"out{k}"] for k in range(n)],
            "grad": [r[f"grad{k}"] for k in range(n)],
            "meta": [json.loads(str(r[f"meta{k}"])) for k in range(n)],
        }


def check_gradient(fn, x0, grad, n_atoms_checked: int = 3, h: float = 3e-4) -> None:
    """Central finite differences of scalar ``fn`` at ``x0`` against ``grad`` (same shape, from autograd).

    Checks the directional derivative along the gradient of the ``n_atoms_checked`` atoms with the
    largest gradients (relative 3e-2) and along one random direction (3e-2 of the gradient norm).
    Positions are float32 inside the model, so the step is 3e-4 nm.
    """
    import torch

    g = np.asarray(grad, dtype=np.float64).reshape(-1, 3)
    assert np.linalg.norm(g) > 0, "zero gradient"
    x0 = np.asarray(x0, dtype=np.float64).reshape(-1, 3)

    def f(x):
        with torch.no_grad():
            return float(fn(x))

    rng = np.random.default_rng(0)
    dirs = []
    for i in np.argsort(-np.linalg.norm(g, axis=1))[:n_atoms_checked]:
        v = np.zeros_like(g)
        v[i] = g[i] / np.linalg.norm(g[i])
        dirs.append((v, 3e-2 * abs(float((g * v).sum()))))
    v = rng.normal(size=g.shape) * (np.linalg.norm(g, axis=1, keepdims=True) > 0)
    dirs.append((v / np.linalg.norm(v), 3e-2 * np.linalg.norm(g)))
    for v, tol in dirs:
        fd = (f(x0 + h * v) - f(x0 - h * v)) / (2 * h)
        assert abs(fd - float((g * v).sum())) <= tol + 1e-4, (fd, float((g * v).sum()), tol)
