"""DDP with 2 CPU processes (gloo) gives the same training as one process.

Every process iterates the same global batches and keeps its slice; the loss all-reduces the k x k moments
(autograd-aware), and DDP averages the gradients: the 2-process run must end with the weights of the
1-process run, up to float32 summation order.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mdkoop.cli.main import main

MDKOOP = Path(sys.executable).parent / "mdkoop"


@pytest.mark.slow
@pytest.mark.skipif(not MDKOOP.exists(), reason="the mdkoop console script is not installed next to python")
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_cpu_processes_match_one(cln025_store, tmp_path):
    args = [str(cln025_store.path), "--lag", "20ps", "--modes", "3", "--epochs", "1", "--batch-size", "16",
            "--n-atom-basis", "8", "--interactions", "1", "--n-rbf", "4", "--lr", "1e-2", "--no-progress",
            "--device", "cpu", "--seed", "3", "--schedule", "none",
            # the output BatchNorm uses each process's batch statistics (as PyTorch's DDP does), so only the
            # encoder without it is exactly the one-process run; the objective's all-reduce is what is tested
            "--no-standardize-output"]
    # a clean launch: no distributed / Lightning variables left over from in-process runs of other tests
    drop = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("PL_", "TORCHELASTIC"))}
    env["OMP_NUM_THREADS"] = "1"
    runs = {1: tmp_path / "ddp1", 2: tmp_path / "ddp2"}
    assert main(["fit", *args, "--out", str(runs[1])]) == 0  # one process, in this one
    r = subprocess.run([str(MDKOOP), "fit", *args, "--devices", "2", "--out", str(runs[2])], env=env,
                       capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    a = torch.load(runs[1] / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(runs[2] / "checkpoints" / "last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] > 0
    for k, v in a["state_dict"].items():
        torch.testing.assert_close(v, b["state_dict"][k], rtol=1e-4, atol=1e-4, msg=lambda m, k=k: f"{k}: {m}")
    va = json.loads((runs[1] / "model.json").read_text())["extra"]["val_vampe_history"]
    vb = json.loads((runs[2] / "model.json").read_text())["extra"]["val_vampe_history"]
    assert va == pytest.approx(vb, abs=1e-4)
    assert json.loads((runs[2] / "config.json").read_text())["train"]["devices"] == 2
