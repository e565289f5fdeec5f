"""Training and estimation behind :meth:`mdkoop.training.estimator.KoopmanSVD.fit`.

Lightning training of the encoder(s) on the planned pairs (:class:`~mdkoop.training.plan.FitPlan`),
then the float64 estimation of the linear Koopman model from the trained encoder's functions
(:func:`estimate_linear_model`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from ..errors import MdkoopError, TrainingError
from ..nn.build import build_encoder
from ..registry import DESCRIPTOR_ENCODERS
from ..utils.logging import get_logger
from .config import TrainConfig
from .metrics_log import set_aside_for_resume
from .model import KoopmanModel
from .plan import FitPlan, RunControl

__all__ = ["train_and_estimate", "estimate_linear_model"]

log = get_logger("training")


def _make_loader(source, pairs, batch_size, shuffle, seed, drop_last):
    from ..data.loader import PairLoader

    return PairLoader(source, pairs, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last, device="cpu")


@contextlib.contextmanager
def _quiet_lightning(verbose: bool):
    """Silence Lightning's informational chatter (GPU/TPU lines, tips) unless ``verbose``."""
    import logging
    import warnings

    names = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric")
    old = {n: logging.getLogger(n).level for n in names}
    if not verbose:
        for n in names:
            logging.getLogger(n).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=".*limit_val_batches.*")
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*num_workers.*")
        warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
        warnings.filterwarnings("ignore", message=".*sync_dist=True.*")  # our logged values are global already
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")  # expected on --resume
        try:
            yield
        finally:
            for n, lv in old.items():
                logging.getLogger(n).setLevel(lv)


#: frames used to set the SchNet output and the descriptor standardisation (evenly spread over the training pairs)
N_STANDARDIZATION_FRAMES = 1024


def _standardization_frames(plan: FitPlan) -> torch.Tensor:
    """Positions (n, n_atoms, 3) nm of up to N_STANDARDIZATION_FRAMES training frames, evenly spread."""
    first = plan.train_pairs.indices[:, 0]
    take = np.unique(first[np.linspace(0, len(first) - 1, min(len(first), N_STANDARDIZATION_FRAMES)).astype(np.int64)])
    return torch.as_tensor(np.array(plan.source.frames(take), dtype=np.float32))


def _fit_interruptible(trainer, module, train_loader, val_loader, plan: FitPlan) -> None:
    """``trainer.fit``, resuming from ``plan.resume_ckpt`` (loaded with ``weights_only=True``).

    Lightning answers Ctrl-C by shutting down and calling ``sys.exit(1)`` with SIGINT left ignored; this
    restores the default SIGINT handler and raises :class:`KeyboardInterrupt` instead, so the caller can
    keep the checkpoint and the CLI can say how to resume (exit status 130).
    """
    import signal

    try:
        trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader,
                    ckpt_path=None if plan.resume_ckpt is None else str(plan.resume_ckpt), weights_only=True)
    except SystemExit:
        if not trainer.interrupted:
            raise
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt from None


def train_and_estimate(plan: FitPlan, workdir: Path, ctl: RunControl, custom=None) -> KoopmanModel | None:
    """Run Lightning training, then the float64 estimation; return the fitted KoopmanModel (None on ranks > 0).

    Parameters
    ----------
    plan : FitPlan
        What :meth:`KoopmanSVD.plan` decided.
    workdir : Path
        Checkpoints and logs go here.
    ctl : RunControl
        Progress display and extra callbacks.
    custom : torch.nn.Module, optional
        The untrained module of a custom encoder (``plan.config.encoder.kind == "custom"``).
    """
    import logging

    import pytorch_lightning  # noqa: F401 - first, so that its import does not reset the levels set below

    with _quiet_lightning(verbose=log.isEnabledFor(logging.DEBUG)):
        return _train_and_estimate_quiet(plan, workdir, ctl, custom)


def _train_and_estimate_quiet(plan: FitPlan, workdir: Path, ctl: RunControl, custom) -> KoopmanModel | None:
    import pytorch_lightning as pl

    from ..objectives.losses import make_loss
    from .lightning import KoopmanLitModule, ResumableLoader

    tc = plan.config.train
    pl.seed_everything(tc.seed, workers=True, verbose=False)
    enc_f, enc_g = _initial_encoders(plan, custom)
    loss = make_loss(tc.loss, **({"nesting": tc.nesting} if tc.loss == "lora" else {}))
    ckpt_dir = workdir / "checkpoints"
    train_loader = ResumableLoader(_make_loader(plan.source, plan.train_pairs, tc.batch_size, True, tc.seed, True))
    module = KoopmanLitModule(enc_f, enc_g, loss, tc, ckpt_dir=str(ckpt_dir), steps_per_epoch=len(train_loader))
    val_loader = None
    if plan.val_pairs is not None:  # sharded like the training batches; the moment sums are all-reduced
        val_loader = ResumableLoader(_make_loader(plan.source, plan.val_pairs, max(tc.batch_size, 256), False,
                                                  tc.seed, False), resumable=False)
    callbacks, monitor, best_ckpt = _callbacks(tc, ctl, ckpt_dir, val_loader is not None)
    if plan.resume_ckpt is not None:
        set_aside_for_resume(workdir)  # Lightning's CSV logger starts afresh: keep the steps logged so far
    trainer = _trainer(plan, workdir, callbacks, ctl.progress, val_loader is not None)
    for loader in (train_loader, val_loader):
        if loader is not None:
            loader.trainer = trainer
    _fit_interruptible(trainer, module, train_loader, val_loader, plan)
    if trainer.global_rank != 0:
        return None  # only rank 0 estimates and writes
    return _estimated_model(module, plan, ckpt_dir, _training_record(trainer, monitor, tc), best_ckpt)


def _initial_encoders(plan: FitPlan, custom):
    """The untrained lobes ``(f, g or None)``, with their standardisations set from the training data."""
    ec, n_out = plan.config.encoder, plan.config.train.n_modes - 1
    if ec.kind == "custom":
        import copy

        return copy.deepcopy(custom), copy.deepcopy(custom) if ec.lobes == "separate" else None
    z = None if plan.atoms is None else plan.atoms["atomic_numbers"]
    encs = [build_encoder(ec, n_out, z) for _ in range(2 if ec.lobes == "separate" else 1)]
    if ec.kind == "mlp":  # the inputs, with the training data's mean/std
        allx = np.concatenate(plan.source)
        for enc in encs:
            enc.set_standardization(allx)
    elif ec.kind in DESCRIPTOR_ENCODERS:  # the descriptors, with training frames' mean/std
        frames = _standardization_frames(plan)
        for enc in encs:
            enc.set_standardization(frames)
    elif ec.kind == "schnet" and ec.standardize_output:
        frames = _standardization_frames(plan)
        for enc in encs:
            enc.set_output_standardization(frames)
    return encs[0], encs[1] if len(encs) > 1 else None


def _callbacks(tc: TrainConfig, ctl: RunControl, ckpt_dir: Path, has_val: bool):
    """``(callbacks, convergence monitor or None, best-checkpoint callback or None)`` of a fit."""
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from .lightning import ConvergenceMonitor, EpochLog, ProgressBar, ThroughputCallback

    step_ckpt = ModelCheckpoint(dirpath=ckpt_dir, filename="step-{step}", every_n_train_steps=tc.checkpoint_every,
                                save_top_k=0, save_last=True, enable_version_counter=False)
    callbacks = [step_ckpt, ThroughputCallback(), *ctl.callbacks]
    monitor = best_ckpt = None
    if tc.schedule == "converge":
        monitor = ConvergenceMonitor(patience=tc.plateau_patience, tol=tc.tol)
        callbacks.append(monitor)
    if has_val:
        best_ckpt = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val_vampe", mode="max", save_top_k=1,
                                    enable_version_counter=False)
        callbacks.append(best_ckpt)
        if tc.patience > 0:
            callbacks.append(EarlyStopping(monitor="val_vampe", mode="max", patience=tc.patience))
    callbacks.append(ProgressBar(refresh_rate=1) if ctl.progress else EpochLog(tc.epochs))
    return callbacks, monitor, best_ckpt


def _trainer(plan: FitPlan, workdir: Path, callbacks: list, progress: bool, has_val: bool):
    """The Lightning trainer: CSV (and TensorBoard, when installed) logs in ``workdir/logs``."""
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import CSVLogger

    tc = plan.config.train
    loggers = [CSVLogger(str(workdir), name="logs", version="")]
    try:
        import tensorboard  # noqa: F401
        from pytorch_lightning.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(str(workdir), name="logs", version="tensorboard"))
    except ImportError:
        pass
    return pl.Trainer(
        accelerator=plan.accelerator, devices=tc.devices, num_nodes=tc.num_nodes,
        strategy="ddp" if tc.devices * tc.num_nodes > 1 else "auto",
        precision=tc.precision if tc.precision != "32" else "32-true", max_epochs=tc.epochs,
        gradient_clip_val=tc.grad_clip if tc.grad_clip > 0 else None, callbacks=callbacks, logger=loggers,
        default_root_dir=str(workdir), deterministic=plan.accelerator == "cpu", enable_progress_bar=bool(progress),
        enable_model_summary=False, num_sanity_val_steps=0, log_every_n_steps=1,
        limit_val_batches=1.0 if has_val else 0, use_distributed_sampler=False,
    )


def _estimated_model(module, plan: FitPlan, ckpt_dir: Path, training: dict, best_ckpt) -> KoopmanModel:
    """The float64 linear model on the trained lobes (the best checkpoint's, when validation can judge)."""
    cfg, tc, ec = plan.config, plan.config.train, plan.config.encoder
    val_history = list(module.val_history)
    module.cpu().eval()
    linear = _estimate_or_raise(module, plan, tc, ckpt_dir)
    validation = validation_record(plan, linear, best_ckpt)
    if validation["selects_checkpoint"]:
        state = torch.load(best_ckpt.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
        module.cpu().eval()
        log.info("using the checkpoint with the best validation VAMP-E (%.4f)", float(best_ckpt.best_model_score))
        linear = _estimate_or_raise(module, plan, tc, ckpt_dir)
    if validation["note"]:
        log.warning("%s", validation["note"])
    if not training["converged"] and tc.schedule == "converge":
        log.warning("training reached the limit of %d epochs while the objective was still improving: the model "
                    "may be unconverged. Train longer (--epochs) or raise --lr.", tc.epochs)
    enc_f, enc_g = module.encoder_f, module.encoder_g
    extra = {"config": cfg.to_dict(), "val_vampe_history": val_history, "training": training,
             "validation": validation}
    return KoopmanModel(enc_f, enc_g, linear, ec, n_modes=tc.n_modes, lagtime=tc.lagtime, timestep=plan.timestep,
                        time_unit=plan.time_unit, atoms=plan.atoms, extra=extra)


def _estimate_or_raise(module, plan: FitPlan, tc: TrainConfig, ckpt_dir: Path):
    try:
        return estimate_linear_model(module.encoder_f, plan.source, plan.train_pairs, tc)
    except MdkoopError as exc:
        raise TrainingError(
            f"Training finished, but no Koopman model can be estimated from the learned functions: {exc} "
            "The encoder did not learn non-constant functions of these data: train longer or with a larger --lr, "
            "check that the trajectories actually move (not a single repeated frame), or use fewer --modes. "
            f"The checkpoints are kept in {str(ckpt_dir)!r}."
        ) from exc


def _training_record(trainer, monitor, tc: TrainConfig) -> dict:
    """How training ended, for ``model.json`` (``extra.training``)."""
    epochs = int(trainer.current_epoch)
    if monitor is None:
        return {"schedule": tc.schedule, "epochs": epochs, "converged": None, "stop": "fixed budget",
                "loss_history": None}
    stop = "converged" if monitor.converged else ("epoch limit" if epochs >= tc.epochs else "stopped early")
    return {"schedule": tc.schedule, "epochs": epochs, "converged": bool(monitor.converged), "stop": stop,
            "loss_history": [round(v, 6) for v in monitor.history]}


#: a validation split judges a process only if it spans at least this many of its timescales
MIN_VAL_SPAN_TIMESCALES = 10.0


def validation_record(plan: FitPlan, linear, best_ckpt) -> dict:
    """Can the validation split judge the slowest process? Decide whether to use the best checkpoint.

    The validation pairs cover ``span`` frames in all; the slowest process of the trained model relaxes
    on its implied timescale ``t1`` (frames). A split that spans fewer than :data:`MIN_VAL_SPAN_TIMESCALES`
    of them holds too few independent events of that process for a validation score to rank
    checkpoints by it, so the final weights are kept instead.

    Returns
    -------
    dict
        ``span_frames``, ``slowest_its_frames``, ``can_judge`` (bool or None without validation),
        ``selects_checkpoint`` (bool) and ``note`` (a sentence for the log, or "").
    """
    if plan.val_pairs is None:
        return {"span_frames": 0, "slowest_its_frames": None, "can_judge": None, "selects_checkpoint": False,
                "note": ""}
    span = int(sum(len(seg) for seg in plan.val_pairs.segments))
    ts = np.asarray(linear.timescales(1), dtype=np.float64)
    t1 = float(ts[0]) / float(plan.config.train.timestep) if ts.size and np.isfinite(ts[0]) else float("inf")
    can = bool(span >= MIN_VAL_SPAN_TIMESCALES * t1)
    has_best = bool(best_ckpt is not None and best_ckpt.best_model_path and Path(best_ckpt.best_model_path).is_file())
    note = ""
    if not can:
        note = (f"the validation split spans {span} frames, fewer than {MIN_VAL_SPAN_TIMESCALES:g} times the slowest "
                f"implied timescale ({t1:.4g} frames): it holds too few events to judge the slowest process, so the "
                "final weights are kept (no best-checkpoint selection). "
                "More data, or --val-fraction 0, avoids the split.")
    return {"span_frames": span, "slowest_its_frames": t1 if np.isfinite(t1) else None, "can_judge": can,
            "selects_checkpoint": bool(can and has_best), "note": note}


@torch.no_grad()
def estimate_linear_model(enc_f, source, pairs, tc: TrainConfig, device: str | None = None):
    """Stream ``pairs`` through the trained (left) encoder in eval mode into a float64 MomentAccumulator; estimate.

    Returns
    -------
    mdkoop.estimation.model.LinearKoopmanModel
    """
    from ..estimation.model import LinearKoopmanModel
    from ..estimation.moments import MomentAccumulator
    from ..nn.encoders import apply_encoder

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() and tc.device != "cpu" else "cpu"))
    # The linear model is a Galerkin estimate on the LEFT lobe's functions at both times: (f(x_t), f(x_t+tau)).
    # With shared lobes that is (f, g) anyway. With separate lobes, EDMD or the reversible estimate on
    # (f(x_t), g(x_t+tau)) would treat two different bases as one and give wrong eigenvalues; the right lobe
    # g only serves training (the LoRA objective), and every later step (transform, score, analysis) uses f.
    enc_f = enc_f.to(dev).eval()
    acc = MomentAccumulator(tc.n_modes - 1)
    loader = _make_loader(source, pairs, max(tc.batch_size, 256), False, tc.seed, False)
    for x_t, x_tau in loader:
        f = apply_encoder(enc_f, x_t.to(dev)).double()
        f_tau = apply_encoder(enc_f, x_tau.to(dev)).double()
        acc.partial_fit(f.cpu(), f_tau.cpu())
    enc_f.cpu()
    return LinearKoopmanModel.from_moments(acc, lagtime=tc.lagtime, timestep=tc.timestep,
                                           reversible=tc.method == "reversible")
