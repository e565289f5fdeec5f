"""Training until converged, the record of how training ended, and validation that cannot judge slow processes."""

from __future__ import annotations

import logging

import numpy as np

import mdkoop
from mdkoop.training.lightning import ConvergenceMonitor
from mdkoop.training.split import VAL_BLOCK_LAGS, validation_block


class _Trainer:
    def __init__(self, opt):
        self.optimizers, self.world_size, self.current_epoch, self.should_stop = [opt], 1, 0, False


class _Module:
    epoch_loss = 0.0


def test_convergence_monitor_halves_the_rate_on_plateaus_then_stops():
    import torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    tr, mod = _Trainer(opt), _Module()
    mon = ConvergenceMonitor(patience=2, tol=1e-3, n_decays=2)
    losses = [-1.0, -1.5, -1.6, -1.6, -1.6, -1.6005, -1.6, -1.6, -1.6]  # improves, then stalls
    lrs = []
    for e, loss in enumerate(losses):
        tr.current_epoch, mod.epoch_loss = e, loss
        mon.on_train_epoch_end(tr, mod)
        lrs.append(opt.param_groups[0]["lr"])
        if tr.should_stop:
            break
    assert lrs[:5] == [1.0, 1.0, 1.0, 1.0, 0.5]  # two epochs without a 1e-3 relative gain: halved
    assert mon.converged and tr.should_stop and mon.decays == 2 and e == 8  # -1.6005 is no real gain
    assert lrs[-1] == 0.25  # the stop does not halve again
    state = mon.state_dict()
    again = ConvergenceMonitor(patience=2, tol=1e-3, n_decays=2)
    again.load_state_dict(state)
    assert again.state_dict() == state


def test_fit_stops_when_converged_and_records_it(chain_data, caplog):
    trajs, _ = chain_data
    est = mdkoop.KoopmanSVD(lagtime=5, n_modes=3, batch_size=512, lr=5e-3, hidden=(16,), seed=0, device="cpu")
    model = est.fit(trajs).fetch_model()
    tr = model.extra["training"]
    assert tr["converged"] is True and tr["stop"] == "converged"
    assert tr["epochs"] < est.epochs and len(tr["loss_history"]) == tr["epochs"]
    np.testing.assert_allclose(model.singular_values[:2], [0.94, 0.87], atol=0.05)  # the chain's slow pair
    # the epoch limit reached first: recorded, and the user is told
    with caplog.at_level(logging.WARNING, logger="mdkoop"):
        short = mdkoop.KoopmanSVD(lagtime=5, n_modes=3, batch_size=512, lr=5e-3, hidden=(16,), seed=0,
                                  device="cpu", epochs=2).fit(trajs).fetch_model()
    assert short.extra["training"] == {**short.extra["training"], "converged": False, "stop": "epoch limit"}
    assert "still improving" in caplog.text


def test_validation_that_spans_too_few_slow_events_keeps_the_final_weights(chain_data, caplog):
    trajs, _ = chain_data
    one = [np.concatenate(trajs)[:3000]]  # one trajectory: an interleaved block split
    assert validation_block(5, 0.1) == VAL_BLOCK_LAGS * 5 * 10  # 10 lags held out per 100 lags
    est = mdkoop.KoopmanSVD(lagtime=5, n_modes=3, batch_size=512, lr=5e-3, hidden=(16,), seed=0, device="cpu",
                            epochs=3, schedule="cosine", val_fraction=0.1)
    plan = est.plan(one)
    assert len(plan.val_pairs.segments) == 6  # 3000 frames in chunks of 500, each with 50 held out
    with caplog.at_level(logging.WARNING, logger="mdkoop"):
        model = est.fit(one).fetch_model()
    val = model.extra["validation"]
    # 300 held-out frames against a slowest timescale of ~70 frames: fewer than 10 of them
    assert val["span_frames"] == 300 and val["slowest_its_frames"] > 30
    assert val["can_judge"] is False and val["selects_checkpoint"] is False
    assert "too few events to judge the slowest process" in caplog.text
