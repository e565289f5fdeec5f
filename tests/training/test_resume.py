"""Resume: a run killed mid-epoch and resumed ends with the same weights as an uninterrupted run (CPU, fixed seed).
Non-finite loss: a TrainingError naming the step, with the last good checkpoint kept."""

import json

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

import mdkoop
from mdkoop.errors import ConfigError, OutputExistsError, TrainingError
from mdkoop.training.run_dir import IN_PROGRESS_MARKER, in_progress_dir

from .conftest import markov_chain_2d


class Crash(RuntimeError):
    """Stands for a killed process."""


class CrashAfter(pl.Callback):
    """Raise after optimisation step ``step`` (once a step checkpoint exists)."""

    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step >= self.step:
            raise Crash(f"killed at step {trainer.global_step}")


@pytest.fixture(scope="module")
def small_chain():
    trajs, _ = markov_chain_2d(n_traj=3, length=400, seed=3)
    return trajs


KW = dict(lagtime=5, n_modes=3, encoder="mlp", seed=11, epochs=3, batch_size=64, lr=3e-3, val_fraction=0.3,
          checkpoint_every=4, hidden=(16,))


def _weights(run):
    return torch.load(run / "model.pt", weights_only=True)


def test_killed_mid_epoch_and_resumed_gives_the_same_weights(small_chain, tmp_path):
    full = tmp_path / "full"
    mdkoop.KoopmanSVD(**KW).fit(small_chain, run_dir=full)
    n_steps = json.loads((full / "config.json").read_text())["data"]["n_train_pairs"] // 64
    assert n_steps >= 5  # optimisation steps per epoch
    ck = (n_steps // 4 + 1) * 4  # the first step checkpoint inside epoch 1 (0-based), not at its end
    assert n_steps < ck < 2 * n_steps

    run = tmp_path / "killed"
    kill_at = ck + 1  # killed one step after that checkpoint
    with pytest.raises(Crash):
        mdkoop.KoopmanSVD(**KW).fit(small_chain, run_dir=run, callbacks=[CrashAfter(kill_at)])
    work = in_progress_dir(run)
    assert not run.exists() and (work / IN_PROGRESS_MARKER).is_file()
    ckpt = torch.load(work / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == ck  # resume starts mid-epoch

    with pytest.raises(OutputExistsError, match="--resume"):
        mdkoop.KoopmanSVD(**KW).fit(small_chain, run_dir=run)
    with pytest.raises(ConfigError, match="lr: 0.003 -> 0.01"):
        mdkoop.KoopmanSVD(**{**KW, "lr": 1e-2}).fit(small_chain, run_dir=run, resume=True)
    mdkoop.KoopmanSVD(**KW).fit(small_chain, run_dir=run, resume=True)
    assert run.is_dir() and not work.exists() and not (run / IN_PROGRESS_MARKER).exists()

    a, b = _weights(full), _weights(run)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-7, msg=k)
    ma, mb = mdkoop.load_model(full), mdkoop.load_model(run)
    np.testing.assert_allclose(ma.singular_values, mb.singular_values, rtol=1e-7)


def test_resume_without_a_checkpoint_is_refused(small_chain, tmp_path):
    with pytest.raises(ConfigError, match="resume"):
        mdkoop.KoopmanSVD(**KW).fit(small_chain, run_dir=tmp_path / "none", resume=True)
    assert not (tmp_path / "none").exists()


def test_non_finite_loss_names_the_step_and_keeps_the_last_good_checkpoint(small_chain, tmp_path):
    bad = [t.copy() for t in small_chain]
    run = tmp_path / "nan"

    class PoisonAt(pl.Callback):
        """Corrupt the weights after step 5, as a too-high learning rate would."""

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 5:
                with torch.no_grad():
                    for p in pl_module.parameters():
                        p.fill_(float("inf"))

    with pytest.raises(TrainingError, match=r"step [56].*lr") as info:
        mdkoop.KoopmanSVD(**KW).fit(bad, run_dir=run, callbacks=[PoisonAt()])
    assert "checkpoint" in str(info.value)
    ckpt = torch.load(in_progress_dir(run) / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert not run.exists()
