"""``KoopmanSVD``: the estimator (deeptime's Estimator/Model pattern) and the run-directory logic.

::

    est = mdkoop.KoopmanSVD(lagtime=20, n_modes=5, encoder="mlp", nesting="joint", seed=0)
    model = est.fit(trajs).fetch_model()     # trajs: list of (T_i, d) float arrays, or a store
    model.timescales(); model.singular_values; model.transform(trajs); model.to_deeptime()

Steps of :meth:`KoopmanSVD.fit`:

1. **Checks, before any work** (:meth:`KoopmanSVD.plan`): option values, device, the split, the lag
   against the split, the batch size against the data, the run directory. Each refusal is an
   :class:`mdkoop.errors.MdkoopError` and leaves nothing on disk.
2. **Training** with PyTorch Lightning (:mod:`mdkoop.training.lightning`): one process, or DDP over
   ``devices`` x ``num_nodes`` processes (launched by Lightning, ``torchrun`` or SLURM; see docs/training.md).
3. **Estimation**: the training pairs are streamed through the trained encoder (eval mode) into a float64
   :class:`~mdkoop.estimation.moments.MomentAccumulator`, then a
   :class:`~mdkoop.estimation.model.LinearKoopmanModel` is estimated (CCA, EDMD or reversible).
4. **Outputs** (when ``run_dir`` is given): the run directory is built as ``<run_dir>.inprogress/``
   (marker file ``IN_PROGRESS``) and renamed to ``run_dir`` when everything is written. An interrupted
   run keeps its ``.inprogress`` directory, with ``checkpoints/last.ckpt``; ``resume=True`` continues it.

Run-directory layout (final)::

    RUN/model.pt  model.json  config.json  metrics.csv  checkpoints/{last.ckpt,best.ckpt}  logs/
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from deeptime.base import Estimator

from ..errors import (
    ConfigError,
    InputError,
    LagError,
    TrainingError,
)
from ..registry import DESCRIPTOR_ENCODERS, ENCODERS, STRUCTURAL_ENCODERS
from ..units import array_timestep
from ..utils.files import RunLock
from ..utils.logging import get_logger
from ..utils.threads import limited_threads
from .config import EncoderConfig, FitConfig, TrainConfig
from .metrics_log import merge_metrics
from .model import KoopmanModel
from .plan import FitPlan, RunControl, resolve_device
from .run import train_and_estimate
from .run_dir import (
    after_failed_fit,
    check_resume_config,
    finish_run_dir,
    plan_fit_dir,
    process_rank,
    start_work_dir,
)
from .selection import descriptor_atoms, select_atoms
from .split import validation_split

__all__ = ["KoopmanSVD"]

log = get_logger("training")

_SCHNET_KEYS = ("n_atom_basis", "n_interactions", "n_rbf", "cutoff", "pooling", "implementation", "standardize_output")
#: EncoderConfig fields of the descriptor encoders that KoopmanSVD takes as keyword parameters
_DESCRIPTOR_KEYS = ("distances_select", "pairs", "contact_r0", "torsions")
#: TrainConfig fields that KoopmanSVD takes as plain keyword parameters (beside lagtime, n_modes, loss, ...)
_TRAIN_KEYS = ("weight_decay", "grad_clip", "schedule", "plateau_patience", "tol", "patience", "devices", "num_nodes",
               "precision", "method", "checkpoint_every")


def _names(value) -> tuple:
    """``"phi,psi"`` or ``["phi", "psi"]`` -> ``("phi", "psi")``."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


class KoopmanSVD(Estimator):
    """Learn Koopman singular functions with a neural encoder (nested LoRA by default).

    Parameters
    ----------
    lagtime : int or str
        Lag in frames, or a time such as ``"1ns"`` (stores, whose frame spacing is known).
    n_modes : int
        Number of singular functions k *including* the constant; the encoder learns k - 1.
    encoder : {"mlp", "schnet", "distances", "torsions"} or torch.nn.Module
        ``"mlp"`` for (T, d) feature arrays; on a store (positions in nm): ``"schnet"``, or ``"distances"``
        (pair distances of ``distances_select``, or contacts with ``contact_r0``) and ``"torsions"``
        (sin/cos of backbone dihedrals), computed in torch and fed to an MLP of widths ``hidden``; or any
        module mapping a batch (B, d) -- or, with a ``forward_frames`` method, (B, n_atoms, 3) -- to (B, k - 1).
    loss : {"lora", "vamp1", "vamp2", "vampe", "dpnet", "dpnet-relaxed"}
    nesting : {"joint", "sequential", "none"}
    epochs : int
        Maximum number of epochs; with the default ``schedule="converge"`` training stops when the objective
        has converged (see :class:`~mdkoop.training.config.TrainConfig`).
    batch_size : int
    lr : float
    device : {"auto", "cpu", "cuda"}
    timestep : float or str
        Time between frames for array data: a time with a unit (``"0.5ps"``), or a number, which is in ps
        when ``lagtime`` has a unit (``lagtime="2ps"``) and otherwise in your own units (timescales are then
        in those units; 1.0 = frames). Stores use their own ``timestep_ps`` (timescales in ps).
    seed : int
    hidden : tuple of int
        MLP hidden widths.
    activation : {"tanh", "silu", "relu", "elu", "gelu", "softplus"}
        Hidden-layer activation of the MLP (``"mlp"`` and the descriptor encoders); see
        :class:`~mdkoop.training.config.EncoderConfig`.
    lobes : {"shared", "separate"}
    val_fraction : float
        Held-out fraction for validation VAMP-E (early stopping, best checkpoint); 0 disables validation.
    select : str, optional
        Sub-select atoms of a store (see :func:`mdkoop.training.selection.select_atoms`).
    weight_decay, grad_clip, schedule, plateau_patience, tol, patience, devices, num_nodes, precision, method, checkpoint_every
        The :class:`~mdkoop.training.config.TrainConfig` fields of the same names (their defaults are the config's).
    n_atom_basis, n_interactions, n_rbf, cutoff, pooling, implementation, standardize_output
        The SchNet fields of :class:`~mdkoop.training.config.EncoderConfig` (defaults from there; ``cutoff`` in nm).
    distances_select, pairs, contact_r0, torsions
        The descriptor fields of :class:`~mdkoop.training.config.EncoderConfig` (``pairs``: (P, 2) atom indices
        of the store's topology; ``contact_r0`` in nm; ``torsions`` from ``("phi", "psi", "omega", "chi1",
        "chi2")``). Atoms outside ``select`` are never used.

    Notes
    -----
    A :class:`deeptime.base.Estimator`: every hyperparameter is a keyword of ``__init__``, so ``get_params``,
    ``set_params`` and ``sklearn.base.clone`` work; :func:`mdkoop.vamp_score_cv` clones it per fold. How a
    fit runs -- its run directory, resuming, progress, callbacks, threads -- is not a hyperparameter: it is
    given to :meth:`fit`.
    """

    #: ``fit`` takes stores, paths and tensors, which deeptime's read-only wrapper of ``fit`` does not accept
    _MUTABLE_INPUT_DATA = True

    def __init__(self, lagtime=1, n_modes: int = TrainConfig.n_modes, encoder=EncoderConfig.kind,
                 loss: str = TrainConfig.loss, nesting: str = TrainConfig.nesting, epochs: int = TrainConfig.epochs,
                 batch_size: int = TrainConfig.batch_size, lr: float = TrainConfig.lr, device: str = TrainConfig.device,
                 timestep: float = 1.0, seed: int = TrainConfig.seed, hidden=EncoderConfig.hidden,
                 lobes: str = EncoderConfig.lobes, val_fraction: float = TrainConfig.val_fraction,
                 select: str | None = None, activation: str = EncoderConfig.activation,
                 weight_decay: float = TrainConfig.weight_decay, grad_clip: float = TrainConfig.grad_clip,
                 schedule: str = TrainConfig.schedule, plateau_patience: int = TrainConfig.plateau_patience,
                 tol: float = TrainConfig.tol, patience: int = TrainConfig.patience, devices: int = TrainConfig.devices,
                 num_nodes: int = TrainConfig.num_nodes, precision: str = TrainConfig.precision,
                 method: str = TrainConfig.method, checkpoint_every: int = TrainConfig.checkpoint_every,
                 n_atom_basis: int = EncoderConfig.n_atom_basis, n_interactions: int = EncoderConfig.n_interactions,
                 n_rbf: int = EncoderConfig.n_rbf, cutoff: float = EncoderConfig.cutoff,
                 pooling: str = EncoderConfig.pooling, implementation: str = EncoderConfig.implementation,
                 standardize_output: bool = EncoderConfig.standardize_output,
                 distances_select: str = EncoderConfig.distances_select, pairs=EncoderConfig.pairs,
                 contact_r0: float | None = EncoderConfig.contact_r0, torsions=EncoderConfig.torsions):
        super().__init__()
        self.lagtime = lagtime
        self.n_modes = n_modes
        self.encoder = encoder
        self.loss = loss
        self.nesting = nesting
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.timestep = timestep
        self.seed = seed
        self.hidden = hidden
        self.activation = activation
        self.lobes = lobes
        self.val_fraction = val_fraction
        self.select = select
        for name in _TRAIN_KEYS + _SCHNET_KEYS + _DESCRIPTOR_KEYS:
            setattr(self, name, locals()[name])

    @classmethod
    def from_config(cls, cfg: FitConfig, **overrides) -> KoopmanSVD:
        """An estimator with every setting of a saved run's configuration (``config.json``).

        Parameters
        ----------
        cfg : FitConfig
            The run's configuration (:meth:`FitConfig.load`).
        **overrides
            ``__init__`` keywords that replace the saved values (e.g. ``lagtime=`` for a retrain at another lag).

        Returns
        -------
        KoopmanSVD
            Unfitted. A custom encoder module is not in the configuration: pass it as ``encoder=``.
        """
        enc, tr = cfg.encoder, cfg.train
        kw = {k: getattr(tr, k) for k in ("n_modes", "loss", "nesting", "epochs", "batch_size", "lr", "device", "seed",
                                           "val_fraction") + _TRAIN_KEYS}
        kw.update({k: getattr(enc, k) for k in ("hidden", "activation", "lobes") + _SCHNET_KEYS + _DESCRIPTOR_KEYS})
        kw.update(lagtime=tr.lagtime, encoder=enc.kind, select=(cfg.data or {}).get("select"))
        if tr.time_unit != "ps":
            kw["timestep"] = tr.timestep
        kw.update(overrides)
        if kw["encoder"] == "custom":
            raise ConfigError("This configuration used a custom encoder module: pass the module as encoder=.")
        return cls(**kw)

    # ---- deeptime-style API ------------------------------------------------------------------------------
    def fetch_model(self) -> KoopmanModel:
        """An independent copy of the fitted model.

        Raises
        ------
        TrainingError
            If :meth:`fit` has not run.
        """
        if self._model is None:
            raise TrainingError("This KoopmanSVD has not been fitted yet: call fit(data) first.")
        return self._model.copy()

    @property
    def model(self) -> KoopmanModel | None:
        """The fitted model (not a copy), or None."""
        return self._model

    # ---- planning: all refusals happen here -------------------------------------------------------------------
    def _encoder_kind(self) -> str:
        if isinstance(self.encoder, torch.nn.Module):
            return "custom"
        named = tuple(e for e in ENCODERS if e != "custom")
        if self.encoder not in named:
            raise ConfigError(f"Unknown encoder {self.encoder!r}: use one of {', '.join(map(repr, named))} or a "
                              "torch.nn.Module.")
        return self.encoder

    def _source(self, data, kind: str):
        """Return ``(source, lengths, atoms, timestep, time_unit, index)`` (index: descriptor encoders only)."""
        from ..io.store import TrajectoryStore

        is_store = isinstance(data, TrajectoryStore) or (isinstance(data, (str, os.PathLike)) and Path(data).is_dir())
        if is_store:
            store = data if isinstance(data, TrajectoryStore) else TrajectoryStore.open(data)
            if kind == "mlp":
                raise ConfigError("A store holds positions: use encoder='schnet', 'distances' or 'torsions' (or a "
                                  "custom module) for stores, encoder='mlp' for (T, d) feature arrays.")
            store.check_finite()
            atoms = {
                "indices": [int(i) for i in store.atom_indices],
                "names": list(store.atom_names),
                "atomic_numbers": [int(z) for z in store.atomic_numbers],
            }
            index = None
            if kind in DESCRIPTOR_ENCODERS:
                store, atoms, index = descriptor_atoms(
                    store, kind, select=self.select, distances_select=self.distances_select,
                    pairs=self.pairs, torsions=_names(self.torsions))
            elif self.select:
                store, atoms = select_atoms(store, self.select)
            lengths = np.asarray(store.trajectory_lengths, dtype=np.int64)
            return store, lengths, atoms, float(store.timestep_ps), "ps", index
        if isinstance(data, (str, os.PathLike)):
            raise InputError(f"{str(data)!r} is not a store directory. Build one with `mdkoop prepare`, or pass arrays.")
        if kind in STRUCTURAL_ENCODERS:
            raise ConfigError(f"encoder={kind!r} needs a TrajectoryStore (build one with mdkoop.io.store.prepare / "
                              "`mdkoop prepare`): it reads atom positions and the topology's atoms.")
        if isinstance(data, np.ndarray):
            data = [data]
        if not isinstance(data, (list, tuple)) or not data:
            raise InputError("Give the data as a non-empty list of (T_i, d) float arrays, or a TrajectoryStore.")
        arrays = []
        for i, x in enumerate(data):
            x = np.asarray(x.detach().cpu() if torch.is_tensor(x) else x)
            if x.ndim == 1:
                x = x[:, None]
            if x.ndim != 2 and kind != "custom":
                raise InputError(f"Trajectory {i} has shape {x.shape}: the MLP encoder needs (T, d) arrays.")
            if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
                raise InputError(f"Trajectory {i} contains non-numeric or non-finite values (NaN/inf): clean the input.")
            if arrays and x.shape[1:] != arrays[0].shape[1:]:
                raise InputError(f"Trajectory {i} has shape {x.shape}, but trajectory 0 has {arrays[0].shape}: "
                                 "all trajectories need the same features.")
            arrays.append(np.ascontiguousarray(x, dtype=np.float32))
        ts, unit = array_timestep(self.timestep, self.lagtime)
        return arrays, np.array([len(a) for a in arrays], dtype=np.int64), None, ts, unit, None

    def plan(self, data, run_dir=None, resume: bool = False, overwrite: bool = False) -> FitPlan:
        """Check everything and decide the split, pairs, device and run directory, without doing any work.

        ``run_dir``, ``resume`` and ``overwrite`` are those of :meth:`fit`.

        Raises
        ------
        ConfigError, LagError, DeviceError, OutputExistsError, InputError
        """
        from ..data.pairs import TimeLaggedPairs
        from ..units import lag_to_frames

        kind = self._encoder_kind()
        inputs = [data.path] if hasattr(data, "path") else [data] if isinstance(data, (str, os.PathLike)) else []
        workdir, resume_ckpt = plan_fit_dir(run_dir, resume, overwrite, inputs)
        source, lengths, atoms, timestep, time_unit, index = self._source(data, kind)
        lag = lag_to_frames(self.lagtime, timestep if time_unit == "ps" else None)
        schnet_kw = {k: getattr(self, k) for k in _SCHNET_KEYS}
        train_kw = {k: getattr(self, k) for k in _TRAIN_KEYS}
        tcfg = TrainConfig(lagtime=lag, n_modes=self.n_modes, loss=self.loss, nesting=self.nesting, epochs=self.epochs,
                           batch_size=self.batch_size, lr=self.lr, device=self.device, seed=self.seed,
                           val_fraction=self.val_fraction, timestep=timestep, time_unit=time_unit, **train_kw)
        n_in = int(source[0].shape[1]) if kind == "mlp" else None
        if index is not None:
            n_in = int(len(index) * (2 if kind == "torsions" else 1))
        desc_kw = {k: getattr(self, k) for k in _DESCRIPTOR_KEYS}
        desc_kw["torsions"] = _names(desc_kw["torsions"])
        if desc_kw["pairs"] is not None:
            desc_kw["pairs"] = tuple(tuple(int(i) for i in p) for p in np.asarray(desc_kw["pairs"]).tolist())
        ecfg = EncoderConfig(kind=kind, hidden=tuple(self.hidden), activation=self.activation, n_in=n_in, lobes=self.lobes,
                             index=None if index is None else tuple(map(tuple, index.tolist())), **schnet_kw, **desc_kw)
        accelerator = resolve_device(tcfg.device)
        if tcfg.precision == "bf16-mixed" and accelerator != "gpu":
            raise ConfigError("--precision bf16-mixed is for GPUs; on CPU use --precision 32.")

        v = float(tcfg.val_fraction)
        segs = validation_split(lengths, lag, v, tcfg.seed)
        try:
            train_pairs = TimeLaggedPairs(lengths, lag, segments=None if segs is None else segs["train"])
        except LagError as exc:
            why = str(exc).split(" Use a shorter lag")[0]  # its own advice is replaced by the one below
            raise LagError(f"The lag ({lag} frames) is too long for the training split "
                           f"(trajectory lengths {lengths.tolist()}, validation fraction {v}): {why} "
                           "Use a shorter lag, more data, or a smaller --val-fraction.") from None
        val_pairs = None
        if segs is not None:
            try:
                val_pairs = TimeLaggedPairs(lengths, lag, segments=segs["val"])
            except LagError:
                raise LagError(f"The lag ({lag} frames) is too long for the validation split "
                               f"({v:.0%} of trajectory lengths {lengths.tolist()}): no (t, t+lag) pair fits in it. "
                               "Use a shorter lag, a larger --val-fraction, or --val-fraction 0.") from None
        n_train = len(train_pairs)
        world = tcfg.devices * tcfg.num_nodes
        if tcfg.batch_size < 2 * world:
            raise ConfigError(f"The batch size {tcfg.batch_size} is too small for {world} DDP processes: "
                              f"each process needs at least 2 pairs, so use --batch-size >= {2 * world}.")
        if tcfg.batch_size > n_train:
            raise ConfigError(f"The batch size {tcfg.batch_size} is larger than the {n_train} training pairs "
                              f"at lag {lag}: use --batch-size <= {n_train}.")
        data_note = {"n_trajectories": int(len(lengths)), "n_frames": int(lengths.sum()), "n_train_pairs": n_train,
                     "n_val_pairs": 0 if val_pairs is None else len(val_pairs)}
        if hasattr(source, "path"):
            data_note["store"] = str(Path(source.path).absolute())
        if self.select:
            data_note["select"] = self.select
        cfg = FitConfig(encoder=ecfg, train=tcfg, data=data_note)
        if resume_ckpt is not None:
            check_resume_config(workdir / "config.json", cfg)
        return FitPlan(cfg, source, lengths, train_pairs, val_pairs, accelerator, atoms, time_unit, timestep,
                       workdir, resume_ckpt)

    # ---- fit -------------------------------------------------------------------------------------------------
    def fit(self, data, *, run_dir=None, resume: bool = False, overwrite: bool = False, progress: bool = False,
            callbacks=None, threads: int | None = None) -> KoopmanSVD:
        """Train the encoder, estimate the linear model, and (with ``run_dir``) write the run directory.

        Parameters
        ----------
        data : list of ndarray (T_i, d) float, or TrajectoryStore, or str
            Feature arrays (``encoder="mlp"``) or a store / store path (the encoders of positions).
        run_dir : str or Path, optional
            Write a run directory (model.pt, model.json, config.json, metrics.csv, checkpoints/). Without it,
            checkpoints and logs go to a temporary directory that is removed after the fit.
        resume : bool
            Continue an interrupted run in ``run_dir``, with the settings it was started with.
        overwrite : bool
            Replace an existing ``run_dir`` (only a run directory that mdkoop wrote).
        progress : bool
            Show the Lightning progress bar (pairs/s and loss); otherwise one log line per epoch.
        callbacks : list of pytorch_lightning.Callback, optional
            Extra Lightning callbacks.
        threads : int, optional
            CPU threads for torch during the fit (restored afterwards); default: leave the current setting
            (see :mod:`mdkoop.utils.threads` and :func:`mdkoop.set_threads`).

        Returns
        -------
        self
        """
        ctl = RunControl(None if run_dir is None else Path(run_dir), bool(overwrite), bool(progress),
                         tuple(callbacks or ()))
        with limited_threads(threads):
            plan = self.plan(data, run_dir=run_dir, resume=resume, overwrite=overwrite)
            self._model = self._run(plan, ctl)
        return self

    def _run(self, plan: FitPlan, ctl: RunControl) -> KoopmanModel | None:
        if plan.workdir is None:
            with tempfile.TemporaryDirectory(prefix="mdkoop-fit-") as tmp:
                return train_and_estimate(plan, Path(tmp), ctl, self.encoder)
        if process_rank() != 0:
            return train_and_estimate(plan, plan.workdir, ctl, self.encoder)
        workdir = plan.workdir
        created = plan.resume_ckpt is None
        if created:
            start_work_dir(workdir)
        lock = RunLock(workdir).acquire()
        try:
            if created:
                plan.config.save(workdir / "config.json")
            model = train_and_estimate(plan, workdir, ctl, self.encoder)
            model.write_into(workdir)
            plan.config.save(workdir / "config.json")
            merge_metrics(workdir, workdir / "metrics.csv")
            finish_run_dir(workdir, ctl.run_dir, ctl.overwrite)
        except BaseException as exc:
            lock.release()
            after_failed_fit(workdir, exc)
            raise
        lock.release()
        return model
