"""PyTorch Lightning pieces of the trainer: the module, the resumable loader and the callbacks.

* :class:`KoopmanLitModule` trains one encoder (shared lobe, f = g) or two (separate
  lobes) with a loss from :func:`mdkoop.objectives.losses.make_loss`. The loss is
  computed with autocast disabled and in float32, so bf16-mixed precision never
  touches the k x k moments. Under DDP the loss all-reduces the moments itself
  (``mdkoop.objectives.distributed``), so every process sees the global-batch loss.
* Validation accumulates float64 moment *sums* over the whole validation split
  (all-reduced under DDP), then scores VAMP-E once per epoch: the singular
  functions are estimated from the training-epoch moments and evaluated on the
  validation moments (:func:`vampe_score`). Per-batch scores are never averaged.
* :class:`ResumableLoader` makes any batch iterable resumable mid-epoch for
  Lightning's stateful-dataloader protocol (``state_dict`` / ``load_state_dict``):
  it records the epoch and how many batches of it were consumed, and on resume
  replays the same epoch order (``set_epoch``) and skips those batches. Under DDP
  every process iterates the same global batches and keeps its own slice
  ``batch[rank::world_size]``, so the sharded run sees exactly the global batches.
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import numpy as np
import pytorch_lightning as pl
import torch

from ..errors import TrainingError
from ..nn.encoders import apply_encoder, encode_pair
from ..objectives.moments import add_constant, moment_sums
from ..utils.logging import get_logger
from .config import TrainConfig

__all__ = [
    "MomentSums",
    "vampe_score",
    "ResumableLoader",
    "KoopmanLitModule",
    "ThroughputCallback",
    "ProgressBar",
    "EpochLog",
    "ConvergenceMonitor",
]

log = get_logger("training")

NONFINITE_HINT = (
    "Likely causes: a learning rate too high (lower --lr, e.g. by 10x), coordinates that are not finite or "
    "not in nm, or a batch too small for an inverse-based loss (vamp1/vamp2/vampe/dpnet need a batch "
    "clearly larger than --modes; LoRA has no inverse). The last good checkpoint is kept in "
)


class MomentSums:
    """Float64 sums of the second moments of ``[1, f]`` and ``[1, g]``; all-reducible.

    Attributes
    ----------
    n : float
        Number of pairs seen.
    s00, s0t, stt : ndarray, shape (k, k), float64
        Sums over pairs of ``a a^T``, ``a b^T``, ``b b^T`` with ``a = [1, f(x_t)]`` and ``b = [1, g(x_t+tau)]``.
    """

    def __init__(self, k: int | None = None):
        self.n = 0.0
        self.s00 = self.s0t = self.stt = None
        if k is not None:
            self.s00, self.s0t, self.stt = (np.zeros((k, k)) for _ in range(3))

    def update(self, f: torch.Tensor, g: torch.Tensor) -> None:
        """Add a batch: ``f``, ``g`` of shape (B, k - 1)."""
        sums = moment_sums(add_constant(f.detach().double()), add_constant(g.detach().double()))
        s = [sums[k].cpu().numpy() for k in ("Sf", "ST", "Sg")]
        if self.s00 is None:
            self.s00, self.s0t, self.stt = s
        else:
            self.s00 += s[0]
            self.s0t += s[1]
            self.stt += s[2]
        self.n += float(f.shape[0])

    def all_reduce(self) -> None:
        """Sum over all processes (no-op without an initialised process group)."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()) or self.s00 is None:
            return
        k = self.s00.shape[0]
        flat = torch.from_numpy(np.concatenate([[self.n], self.s00.ravel(), self.s0t.ravel(), self.stt.ravel()]))
        backend = torch.distributed.get_backend()
        dev = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
        flat = flat.to(dev)
        torch.distributed.all_reduce(flat)
        flat = flat.cpu().numpy()
        self.n = float(flat[0])
        self.s00, self.s0t, self.stt = (flat[1 + i * k * k : 1 + (i + 1) * k * k].reshape(k, k) for i in range(3))

    def _mean_free(self):
        if self.s00 is None or self.n == 0:
            raise TrainingError("No pairs were accumulated: the data split is empty.")
        n = self.n
        mf, mg = self.s00[0, 1:] / n, self.stt[0, 1:] / n
        c00 = self.s00[1:, 1:] / n - np.outer(mf, mf)
        c0t = self.s0t[1:, 1:] / n - np.outer(mf, mg)
        ctt = self.stt[1:, 1:] / n - np.outer(mg, mg)
        return mf, mg, c00, c0t, ctt

    def centered(self) -> SimpleNamespace:
        """Mean-free moments as attributes ``mean_x, mean_y, cov_00, cov_0t, cov_tt, n`` (k-1 learned functions).

        The same fields as :class:`mdkoop.estimation.moments.MomentAccumulator`, so the result can be passed to
        ``LinearKoopmanModel.from_moments`` and ``LinearKoopmanModel.score_moments``.
        """
        mf, mg, c00, c0t, ctt = self._mean_free()
        return SimpleNamespace(mean_x=mf, mean_y=mg, cov_00=c00, cov_0t=c0t, cov_tt=ctt, n=self.n)

    def state(self) -> dict:
        """Plain-tensor state for a checkpoint."""
        if self.s00 is None:
            return {"n": torch.tensor(0.0, dtype=torch.float64)}
        return {"n": torch.tensor(self.n, dtype=torch.float64), **{k: torch.from_numpy(getattr(self, k).copy()) for k in ("s00", "s0t", "stt")}}

    @classmethod
    def from_state(cls, d: dict) -> MomentSums:
        m = cls()
        m.n = float(d["n"])
        if "s00" in d:
            m.s00, m.s0t, m.stt = (d[k].numpy().astype(np.float64) for k in ("s00", "s0t", "stt"))
        return m


def vampe_score(train: MomentSums, val: MomentSums, lagtime: int) -> float:
    """Validation VAMP-E: singular functions estimated (CCA) on ``train`` moments, scored on ``val`` moments.

    Parameters
    ----------
    train, val : MomentSums
        Accumulated moments of the learned functions on the training epoch and on the validation split.
    lagtime : int
        Lag in frames (metadata only).

    Returns
    -------
    float
        deeptime's VAMP-E (constant included; at most n_modes). NaN if the moments are degenerate.
    """
    from ..estimation.model import LinearKoopmanModel

    try:
        lin = LinearKoopmanModel.from_moments(train.centered(), lagtime=lagtime, reversible=False)
        return float(lin.score_moments(val.centered(), r="E"))
    except (np.linalg.LinAlgError, ValueError):
        return float("nan")


class ResumableLoader:
    """Wrap a batch iterable so that Lightning can resume it mid-epoch, and shard it under DDP.

    Parameters
    ----------
    loader : iterable of (x_t, x_tau)
        Yields the *global* batches of an epoch. If it has ``set_epoch(epoch)``, that is called at the
        start of each epoch (the shuffling must depend only on the seed and the epoch). If it has
        ``skip(n)``, that is used to skip the first ``n`` batches on resume without loading them;
        otherwise they are drawn and discarded.
    resumable : bool
        False for validation loaders (shard only; never skip).

    Notes
    -----
    ``state_dict()`` is ``{"epoch": e, "consumed": n}``: ``n`` batches of epoch ``e`` were trained on
    when the checkpoint was written (Lightning's ``batch_progress.current.processed``).
    """

    def __init__(self, loader, resumable: bool = True):
        self.loader = loader
        self.resumable = bool(resumable)
        self.trainer: pl.Trainer | None = None
        self._resume: dict | None = None

    def __len__(self) -> int:
        return len(self.loader)

    def _epoch(self) -> int:
        return int(self.trainer.current_epoch) if self.trainer is not None else 0

    def __iter__(self):
        epoch = self._epoch()
        skip = 0
        if self._resume is not None and int(self._resume.get("epoch", -1)) == epoch:
            skip = int(self._resume.get("consumed", 0))
        self._resume = None
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch)
        if skip and hasattr(self.loader, "skip"):
            self.loader.skip(skip)
            skip = 0
        rank, world = 0, 1
        if self.trainer is not None:
            rank, world = int(self.trainer.global_rank), int(self.trainer.world_size)
        for i, batch in enumerate(self.loader):
            if i < skip:
                continue
            if world > 1:
                batch = tuple(b[rank::world] for b in batch)
                if batch[0].shape[0] == 0:  # a short last validation batch (training batches are never this short)
                    continue
            yield batch

    def state_dict(self) -> dict:
        if self.trainer is None:
            return {"epoch": 0, "consumed": 0}
        consumed = int(self.trainer.fit_loop.epoch_loop.batch_progress.current.processed)
        return {"epoch": self._epoch(), "consumed": consumed}

    def load_state_dict(self, state: dict) -> None:
        if self.resumable:
            self._resume = dict(state)


class ProgressBar(pl.callbacks.TQDMProgressBar):
    """Lightning's tqdm bar showing the loss, pairs/s and validation VAMP-E (without the logger version)."""

    def get_metrics(self, trainer, pl_module):
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        if "train_loss_step" in items:
            items["loss"] = items.pop("train_loss_step")
        items.pop("train_loss_epoch", None)
        return items


class ThroughputCallback(pl.Callback):
    """Log training pairs/s (global, all processes) to the progress bar and the logs."""

    def __init__(self):
        self._t = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._t is None:
            return
        dt = max(time.perf_counter() - self._t, 1e-9)
        n = batch[0].shape[0] * trainer.world_size
        pl_module.log("pairs_per_s", n / dt, prog_bar=True, on_step=True, on_epoch=False, batch_size=batch[0].shape[0])


class EpochLog(pl.Callback):
    """One log line per epoch (loss, pairs/s, validation VAMP-E): the record when no progress bar is shown."""

    def __init__(self, max_epochs: int):
        self.max_epochs = int(max_epochs)
        self._t0 = time.perf_counter()
        self._pairs = 0

    def on_train_epoch_start(self, trainer, pl_module):
        self._t0, self._pairs = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._pairs += int(batch[0].shape[0]) * trainer.world_size

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.global_rank != 0:
            return
        rate = self._pairs / max(time.perf_counter() - self._t0, 1e-9)
        val = trainer.callback_metrics.get("val_vampe")
        log.info("epoch %d/%d: training loss %.5f, %.0f pairs/s%s", trainer.current_epoch + 1, self.max_epochs,
                 float(pl_module.epoch_loss), rate, "" if val is None else f", validation VAMP-E {float(val):.4f}")


class ConvergenceMonitor(pl.Callback):
    """Train until the objective has converged: halve the learning rate on plateaus, stop after the last one.

    After every training epoch the pair-weighted mean training loss ``L`` is compared with the best so far.
    An epoch improves when ``L < best - tol * max(1, |best|)``. After ``patience`` epochs without
    improvement the learning rate of every parameter group is halved; after ``n_decays`` halvings the
    next plateau stops training and the run is *converged*. Reaching the epoch limit first leaves it
    not converged (:attr:`converged` False), which the fit records and reports.

    Parameters
    ----------
    patience : int
        Epochs without improvement before a halving (or the stop).
    tol : float
        Relative improvement that counts (of ``max(1, |best|)``, in loss units).
    n_decays : int
        Halvings before the stop: the final learning rate is ``lr / 2**n_decays``.

    Attributes
    ----------
    converged : bool
    history : list of float
        Mean training loss per epoch.
    """

    def __init__(self, patience: int = 3, tol: float = 1e-3, n_decays: int = 3):
        self.patience, self.tol, self.n_decays = int(patience), float(tol), int(n_decays)
        self.best = math.inf
        self.bad = 0
        self.decays = 0
        self.converged = False
        self.history: list[float] = []

    def on_train_epoch_end(self, trainer, pl_module):
        loss = float(pl_module.epoch_loss)
        if trainer.world_size > 1:  # the same decision on every process
            t = torch.tensor([loss], dtype=torch.float64, device=pl_module.device)
            loss = float(trainer.strategy.reduce(t, reduce_op="mean"))
        self.history.append(loss)
        if not math.isfinite(loss):
            return
        if not math.isfinite(self.best) or loss < self.best - self.tol * max(1.0, abs(self.best)):
            self.best, self.bad = loss, 0
            return
        self.bad += 1
        if self.bad < self.patience:
            return
        self.bad = 0
        if self.decays >= self.n_decays:
            self.converged = True
            trainer.should_stop = True
            log.info("converged after %d epochs (training loss %.5f)", trainer.current_epoch + 1, self.best)
            return
        self.decays += 1
        for opt in trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = 0.5 * group["lr"]
        log.info("epoch %d: training loss %.5f has stalled; learning rate halved (%d/%d)",
                 trainer.current_epoch + 1, loss, self.decays, self.n_decays)

    def state_dict(self) -> dict:
        return {"best": self.best, "bad": self.bad, "decays": self.decays, "converged": self.converged,
                "history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad = float(state["best"]), int(state["bad"])
        self.decays, self.converged = int(state["decays"]), bool(state["converged"])
        self.history = [float(v) for v in state["history"]]


class KoopmanLitModule(pl.LightningModule):
    """Lightning module: encoder(s) + Koopman SVD loss.

    Parameters
    ----------
    encoder_f : torch.nn.Module
        Maps frames (B, d) or (B, n_atoms, 3) nm to (B, n_modes - 1).
    encoder_g : torch.nn.Module or None
        The lobe for x_t+tau; ``None`` shares ``encoder_f`` (f = g).
    loss : torch.nn.Module
        ``forward(f, g) -> scalar`` (from :func:`mdkoop.objectives.losses.make_loss`).
    train : TrainConfig
        Optimiser, schedule and clipping settings.
    ckpt_dir : str
        Where the last good checkpoint lives (named in the non-finite-loss error).
    steps_per_epoch : int
        Optimisation steps per epoch (for the cosine schedule).
    """

    def __init__(self, encoder_f, encoder_g, loss, train: TrainConfig, ckpt_dir: str = "checkpoints/",
                 steps_per_epoch: int = 1):
        super().__init__()
        self.steps_per_epoch = int(steps_per_epoch)
        self.encoder_f = encoder_f
        self.encoder_g = encoder_g
        self.loss_fn = loss
        self.cfg = train
        self.ckpt_dir = str(ckpt_dir)
        self._train_mom = MomentSums()
        self._val_mom = MomentSums()
        self._epoch_loss = [0.0, 0.0]
        self._restored_train_mom = False  # True between loading a mid-epoch checkpoint and the epoch's start
        self.val_history: list[float] = []

    # ---- forward -------------------------------------------------------------------------------------------
    def encode(self, x_t: torch.Tensor, x_tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Learned functions ``f(x_t)``, ``g(x_tau)``, each (B, n_modes - 1)."""
        return encode_pair(self.encoder_f, self.encoder_g, x_t, x_tau)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return apply_encoder(self.encoder_f, x)

    def _loss(self, f, g):
        # The moments must not run in bf16: disable autocast and cast to float32.
        with torch.autocast(device_type=self.device.type, enabled=False):
            return self.loss_fn(f.float(), g.float())

    # ---- training ------------------------------------------------------------------------------------------
    def on_train_epoch_start(self):
        if not self._restored_train_mom:
            self._train_mom = MomentSums()
            self._epoch_loss = [0.0, 0.0]
        self._restored_train_mom = False

    @property
    def epoch_loss(self) -> float:
        """Pair-weighted mean training loss of the current epoch (NaN before its first batch)."""
        total, n = getattr(self, "_epoch_loss", (0.0, 0.0))
        return float(total) / n if n > 0 else float("nan")

    def training_step(self, batch, batch_idx):
        x_t, x_tau = batch
        f, g = self.encode(x_t, x_tau)
        loss = self._loss(f, g)
        if not torch.isfinite(loss.detach()):
            raise TrainingError(
                f"The training loss became non-finite ({loss.item()}) at step {self.global_step} "
                f"(epoch {self.current_epoch}, batch {batch_idx}). {NONFINITE_HINT}{self.ckpt_dir!r}."
            )
        self._train_mom.update(f, g)
        acc = getattr(self, "_epoch_loss", None)
        if acc is None:
            acc = self._epoch_loss = [0.0, 0.0]
        acc[0] = acc[0] + loss.detach().double() * x_t.shape[0]  # a tensor: no device sync per step
        acc[1] += float(x_t.shape[0])
        self.log("train_loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=True, batch_size=x_t.shape[0], sync_dist=False)
        return loss

    def on_before_optimizer_step(self, optimizer):
        for p in self.parameters():
            if p.grad is not None and not torch.isfinite(p.grad).all():
                raise TrainingError(
                    f"Non-finite gradients at step {self.global_step} (epoch {self.current_epoch}). "
                    f"{NONFINITE_HINT}{self.ckpt_dir!r}."
                )

    # ---- validation ----------------------------------------------------------------------------------------
    def on_validation_epoch_start(self):
        self._val_mom = MomentSums()

    def validation_step(self, batch, batch_idx):
        x_t, x_tau = batch
        f, g = self.encode(x_t, x_tau)
        self._val_mom.update(f.float(), g.float())

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking:
            return
        self._val_mom.all_reduce()
        train = MomentSums.from_state(self._train_mom.state())
        train.all_reduce()
        score = float("nan")
        if self._val_mom.n > 0 and train.n > 0:
            score = vampe_score(train, self._val_mom, self.cfg.lagtime)
        if not math.isfinite(score):
            score = -1e30  # never selected as best; early stopping then stops
        self.val_history.append(score)
        self.log("val_vampe", score, prog_bar=True, on_step=False, on_epoch=True, sync_dist=False, rank_zero_only=False)

    # ---- checkpoint extras: training-epoch moments (for VAMP-E after a mid-epoch resume) -------------------
    def on_save_checkpoint(self, checkpoint):
        checkpoint["mdkoop_train_moments"] = self._train_mom.state()
        total, n = getattr(self, "_epoch_loss", (0.0, 0.0))
        checkpoint["mdkoop_epoch_loss"] = torch.tensor([float(total), n], dtype=torch.float64)

    def on_load_checkpoint(self, checkpoint):
        if "mdkoop_train_moments" in checkpoint:
            self._train_mom = MomentSums.from_state(checkpoint["mdkoop_train_moments"])
            self._restored_train_mom = True
        if "mdkoop_epoch_loss" in checkpoint:
            self._epoch_loss = [float(v) for v in checkpoint["mdkoop_epoch_loss"]]

    # ---- optimisation --------------------------------------------------------------------------------------
    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        if self.cfg.schedule == "cosine":
            # not trainer.estimated_stepping_batches: it sets up the train loader before a resume checkpoint
            # is restored, and Lightning would then never restore the loader's mid-epoch state.
            total = max(1, int(self.steps_per_epoch) * int(self.cfg.epochs))
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=self.cfg.lr * 1e-2)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        if self.cfg.schedule == "plateau" and self.cfg.val_fraction > 0:
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=max(1, self.cfg.patience // 3))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_vampe", "interval": "epoch"}}
        return opt
