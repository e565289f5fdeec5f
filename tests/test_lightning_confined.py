"""Lightning is a training dependency only: using a finished run never imports it."""

from __future__ import annotations

import subprocess
import sys

from tests._sample_runs import sample_workspace

CODE = r"""
import sys
from mdkoop.cli.main import main
from mdkoop.training.model import load_model
d = sys.argv[1]
load_model(d + "/run")
for argv in (["transform", d + "/run", d + "/store", "--out", d + "/cv.npz"],
             ["analyze", d + "/run", "--out", d + "/an", "--lags", "2,4"],
             ["export", d + "/run", "--format", "plumed", "--same-numbering", "--out", d + "/pl"],
             ["export", d + "/run", "--format", "openmm", "--same-numbering", "--out", d + "/om"]):
    assert main(["-q", *argv]) == 0, argv
print(sorted(m for m in sys.modules if "lightning" in m))
"""


def test_using_a_finished_run_imports_no_lightning(tmp_path):
    d = sample_workspace(tmp_path)
    proc = subprocess.run([sys.executable, "-c", CODE, str(d)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_a_fit_in_a_fresh_interpreter_prints_no_lightning_chatter():
    """Lightning is imported only when training starts; its banner lines stay silent all the same."""
    code = ("import numpy as np, mdkoop; x = np.random.default_rng(0).normal(size=(200, 2)).cumsum(0); "
            "mdkoop.KoopmanSVD(lagtime=1, n_modes=2, epochs=1, batch_size=32, val_fraction=0.0).fit([x])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "GPU available" not in out and "Tip" not in out and "max_epochs" not in out, out[-2000:]
