"""CPU threads: the default, OpenMP's wait policy before torch starts, --threads and threads=."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from mdkoop.cli.main import main
from mdkoop.utils.threads import available_cores, default_threads, limited_threads, set_threads


def _env(**kw):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env.update(kw)
    return env


def _run(code: str, **env) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=_env(**env)).stdout.strip()


def test_default_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert default_threads() == available_cores() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert default_threads() == available_cores()


def test_openmp_told_not_to_spin_before_torch_starts():
    probe = "import os, mdkoop; print(os.environ.get('OMP_WAIT_POLICY'))"
    assert _run(probe) == "PASSIVE"
    assert _run(probe, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"  # the user's choice wins
    assert _run("import torch, os, mdkoop; print(os.environ.get('OMP_WAIT_POLICY'))") == "None"  # too late: untouched
    cli = "import os, mdkoop.cli.main; print(os.environ.get('OMP_WAIT_POLICY'))"
    assert _run(cli) == "PASSIVE"


def test_threads_option_and_its_refusal(capsys):
    old = torch.get_num_threads()
    try:
        # --threads is applied before the command runs (here it then fails on the missing run)
        assert main(["transform", "no_such_run", "x.xtc", "--out", "c.npz", "--threads", "1"]) == 2
        assert torch.get_num_threads() == 1
        capsys.readouterr()
        assert main(["analyze", "no_such_run", "--threads", "0"]) == 2
        assert "--threads must be a positive integer" in capsys.readouterr().err
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("command", ["fit", "analyze", "transform", "export", "demo"])
def test_every_computing_command_has_threads(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--threads N" in capsys.readouterr().out


def test_estimator_threads_inside_fit_only():
    import pytorch_lightning as pl

    import mdkoop

    seen = []

    class Spy(pl.Callback):
        def on_train_batch_start(self, *a):
            seen.append(torch.get_num_threads())

    old = torch.get_num_threads()
    x = [np.random.default_rng(0).standard_normal((300, 2)).astype(np.float32)]
    want = 2 if old == 1 else 1
    mdkoop.KoopmanSVD(lagtime=2, n_modes=2, epochs=1, batch_size=64).fit(x, threads=want, callbacks=[Spy()])
    assert seen and set(seen) == {want}
    assert torch.get_num_threads() == old
    with limited_threads(None):
        assert torch.get_num_threads() == old
    assert set_threads(old) == old
