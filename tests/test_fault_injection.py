"""Fault injection: `mdkoop prepare` and `mdkoop fit` killed at random points (SIGKILL), and Ctrl-C.

After each kill the output is either complete or absent; a run may also stay behind as resumable (with a
checkpoint), or as a work directory without a checkpoint that the next `fit` removes by itself. The rerun
(or `--resume`) then gives the result of an uninterrupted run, and no temporary is left behind.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]

SEEDS = [0, 1, 2]
FIT = ["--lag", "20ps", "--modes", "3", "--epochs", "4", "--batch-size", "32", "--n-atom-basis", "8",
       "--interactions", "1", "--n-rbf", "4", "--val-fraction", "0", "--checkpoint-every", "3", "--schedule", "cosine",
       "--seed", "5", "--no-progress"]


def mdkoop(*args, cwd, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "mdkoop", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def wait_for(cond, proc: subprocess.Popen, timeout: float = 120) -> bool:
    """Poll ``cond()`` until true; False if the process ended first."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return True
        if proc.poll() is not None:
            return cond()
        time.sleep(0.01)
    raise TimeoutError("the condition never came true")


def temporaries(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from mdkoop.resources import resource_path

    d = tmp_path_factory.mktemp("faults")
    for name in ("topology.pdb", "trajectory.xtc"):
        shutil.copy(resource_path("sample") / name, d / name)
    rc, err = finish(mdkoop("prepare", "topology.pdb", "trajectory.xtc", "--select", "name CA", "--out", "ref_store",
                            cwd=d))
    assert rc == 0, err
    rc, err = finish(mdkoop("fit", "ref_store", *FIT, "--out", "ref_run", cwd=d))
    assert rc == 0, err
    return d


def same_store(a: Path, b: Path) -> None:
    np.testing.assert_array_equal(np.load(a / "trajectories/traj_00000.npy"), np.load(b / "trajectories/traj_00000.npy"))


def same_run(a: Path, b: Path) -> None:
    wa, wb = torch.load(a / "model.pt", weights_only=True), torch.load(b / "model.pt", weights_only=True)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=1e-6, msg=k)
    steps = [[int(r["step"]) for r in csv.DictReader(open(p / "metrics.csv")) if r.get("train_loss_step")] for p in (a, b)]
    assert steps[0] == steps[1], "metrics.csv lost or repeated steps across the interruption"


@pytest.mark.parametrize("seed", SEEDS)
def test_prepare_killed_at_a_random_point(sample, tmp_path, seed):
    for name in ("topology.pdb", "trajectory.xtc"):
        shutil.copy(sample / name, tmp_path / name)
    rng = np.random.default_rng(seed)
    args = ("prepare", "topology.pdb", "trajectory.xtc", "--select", "name CA", "--chunk-size", "1", "--out", "store")
    proc = mdkoop(*args, cwd=tmp_path)
    wait_for(lambda: any(".tmp-" in p.name for p in tmp_path.iterdir()), proc)  # writing has begun
    time.sleep(float(rng.uniform(0, 0.5)))
    proc.kill()
    proc.wait()
    out = tmp_path / "store"
    if out.exists():  # complete, or nothing
        same_store(out, sample / "ref_store")
    rc, err = finish(mdkoop(*args, *(["--overwrite"] if out.exists() else []), cwd=tmp_path))
    assert rc == 0, err
    same_store(out, sample / "ref_store")
    assert temporaries(tmp_path) == []  # the killed run's temporary was cleaned by the rerun


@pytest.mark.parametrize("seed", SEEDS)
def test_fit_killed_at_a_random_point_then_resumed(sample, tmp_path, seed):
    rng = np.random.default_rng(100 + seed)
    work = tmp_path / "run.inprogress"
    ckpt = work / "checkpoints" / "last.ckpt"
    proc = mdkoop("fit", sample / "ref_store", *FIT, "--out", "run", cwd=tmp_path)
    # seed 0: killed before the first checkpoint; the others at a random moment after one
    wait_for((lambda: work.is_dir()) if seed == 0 else (lambda: ckpt.is_file()), proc)
    time.sleep(float(rng.uniform(0, 0.3)) if seed else 0.0)
    proc.kill()
    proc.wait()
    run = tmp_path / "run"
    if run.exists():
        state = "complete"
    elif ckpt.is_file():
        state = "resumable"
    else:
        state = "nothing"
    print(f"seed {seed}: killed run is {state}")
    assert temporaries(tmp_path) == []
    if state == "resumable":  # seed 1 repeats the options; seed 2 resumes from the saved config.json alone
        opts = FIT if seed == 1 else ["--no-progress"]
        rc, err = finish(mdkoop("fit", sample / "ref_store", *opts, "--out", "run", "--resume", cwd=tmp_path))
    elif state == "nothing":  # a work directory without checkpoint is removed by the next fit
        rc, err = finish(mdkoop("fit", sample / "ref_store", *FIT, "--out", "run", cwd=tmp_path))
    else:
        rc, err = 0, ""
    assert rc == 0, err
    assert not work.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    same_run(run, sample / "ref_run")


def test_ctrl_c_during_fit_says_how_to_resume(sample, tmp_path):
    ckpt = tmp_path / "run.inprogress" / "checkpoints" / "last.ckpt"
    proc = mdkoop("fit", sample / "ref_store", *FIT, "--out", "run", cwd=tmp_path)
    assert wait_for(lambda: ckpt.is_file(), proc)
    proc.send_signal(signal.SIGINT)
    rc, err = finish(proc)
    if rc == 0:
        pytest.skip("the fit finished before the interrupt arrived")
    assert rc == 130, err
    assert "interrupted; resume with: mdkoop fit" in err and "--resume" in err, err
    assert "Traceback" not in err
    command = err.split("resume with: ", 1)[1].strip().split()
    rc, err = finish(mdkoop(*command[1:], cwd=tmp_path))
    assert rc == 0, err
    same_run(tmp_path / "run", sample / "ref_run")
