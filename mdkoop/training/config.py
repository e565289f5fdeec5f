"""Training configuration: frozen dataclasses with validation and a JSON round trip.

A :class:`FitConfig` holds everything needed to reproduce a run: the encoder
architecture (:class:`EncoderConfig`) and the optimisation settings
(:class:`TrainConfig`). Every value is checked when the object is built, so a
bad option is refused before any work starts, with a
:class:`mdkoop.errors.ConfigError` that names the option and its allowed values.

``config.json`` in a run directory is ``FitConfig.to_dict()``; read it back with
:meth:`FitConfig.from_dict` (unknown keys are refused, missing keys take their
defaults, so files written by older versions keep loading).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..registry import (
    DEVICES,
    ENCODERS,
    IMPLEMENTATIONS,
    LOBES,
    LOSSES,
    METHODS,
    MLP_ACTIVATIONS,
    NESTINGS,
    POOLINGS,
    PRECISIONS,
    SCHEDULES,
    TORSIONS,
)

__all__ = [
    "EncoderConfig",
    "TrainConfig",
    "FitConfig",
]

#: the MLP activation of model/config files written before ``activation`` was recorded
LEGACY_MLP_ACTIVATION = "silu"


def _choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"Unknown {name} {value!r}: choose one of {', '.join(map(str, allowed))}.")


#: upper bound of n_modes (the k x k moment matrices and the k outputs per frame stay small)
MAX_MODES = 1024


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"The {name} must be an integer >= {minimum}, got {value!r}.")


def _positive_float(name: str, value: Any, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ConfigError(f"The {name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}.")


class _JSONMixin:
    """``to_dict`` / ``from_dict`` / ``to_json`` / ``from_json`` for flat frozen dataclasses."""

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if dataclasses.is_dataclass(v):
                v = v.to_dict()
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: dict):
        if not isinstance(d, dict):
            raise ConfigError(f"A {cls.__name__} must be read from a JSON object, got {type(d).__name__}.")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ConfigError(f"Unknown {cls.__name__} key(s) {unknown}: allowed keys are {sorted(known)}.")
        kw = {}
        for k, v in d.items():
            if isinstance(v, list):
                v = tuple(v)
            kw[k] = v
        return cls(**kw)

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"The configuration is not valid JSON: {exc}.") from exc
        return cls.from_dict(d)


@dataclass(frozen=True)
class EncoderConfig(_JSONMixin):
    """Architecture of the encoder that maps frames to the ``n_modes - 1`` learned functions.

    Parameters
    ----------
    kind : {"mlp", "schnet", "distances", "torsions", "custom"}
        ``"mlp"`` for feature arrays (T, d); ``"schnet"`` for positions (T, n_atoms, 3) in nm;
        ``"distances"`` and ``"torsions"``: descriptors of the positions computed in torch, then an MLP
        (:class:`mdkoop.nn.descriptors.DescriptorEncoder`); ``"custom"`` for a user-supplied ``torch.nn.Module``
        (not rebuilt from JSON).
    hidden : tuple of int
        Hidden layer widths of the MLP (also the head of the descriptor encoders).
    activation : {"tanh", "silu", "relu", "elu", "gelu", "softplus"}
        Activation of the MLP's hidden layers (also the head of the descriptor encoders). ``"tanh"`` (default)
        trains fastest on smooth low-dimensional features (the Prinz known answer, ``benchmarks/RESULTS.md``).
        Files written before this field existed were built with ``"silu"`` and load as such.
    n_in : int or None
        Input feature dimension of the MLP (set from the data at fit time).
    n_atom_basis, n_interactions, n_rbf : int
        SchNet width, number of interaction blocks, number of Gaussian radial basis functions.
    cutoff : float
        SchNet cosine cutoff in nm (0.6 nm = the paper's 6 Angstrom).
    pooling : {"mean", "sum", "attention"}
        Readout over the atoms of a frame: the mean or the sum of the per-atom outputs, or ``"attention"``: their
        sum weighted by a softmax over the atoms of a learned score per atom.
    implementation : {"lean", "schnetpack"}
        The lean fused SchNet (default) or schnetpack's reference module.
    lobes : {"shared", "separate"}
        One encoder for x_t and x_t+tau (f = g), or one per side.
    distances_select : str
        ``"distances"``: MDTraj selection whose atom pairs are the descriptors (default ``"name CA"``).
    pairs : tuple of (int, int) or None
        ``"distances"``: explicit pairs (0-based atom indices of the store's topology) instead of
        ``distances_select``.
    contact_r0 : float or None
        ``"distances"``: turn each distance into a contact value ``1 / (1 + (d / r0)^6)`` (r0 in nm).
    torsions : tuple of str
        ``"torsions"``: the dihedrals, from ``("phi", "psi", "omega", "chi1", "chi2")``, each as (sin, cos).
    index : tuple of tuple of int, or None
        Descriptor encoders: the resolved atom pairs or quadruples, indices into the model's atoms (set at fit
        time, like ``n_in``).
    standardize_output : bool
        SchNet only: normalise the pooled outputs (BatchNorm with a learned scale: unit variance per function
        over each training batch, running statistics in evaluation), so that every learned function starts
        at the scale of the LoRA optimum (``f_i = sqrt(sigma_i) u_i``); see
        :meth:`mdkoop.nn.encoders.SchNetEncoder.set_output_standardization`. Files written before this field
        existed load as ``False``.
    """

    kind: str = "mlp"
    hidden: tuple = (64, 64)
    activation: str = "tanh"
    n_in: int | None = None
    n_atom_basis: int = 64
    n_interactions: int = 3
    n_rbf: int = 20
    cutoff: float = 0.6
    pooling: str = "mean"
    implementation: str = "lean"
    lobes: str = "shared"
    standardize_output: bool = True
    distances_select: str = "name CA"
    pairs: tuple | None = None
    contact_r0: float | None = None
    torsions: tuple = ("phi", "psi")
    index: tuple | None = None

    def __post_init__(self):
        _choice("encoder", self.kind, ENCODERS)
        if not isinstance(self.hidden, tuple) or not self.hidden:
            raise ConfigError(f"The MLP hidden widths must be a non-empty list of integers, got {self.hidden!r}.")
        for h in self.hidden:
            _positive_int("MLP hidden width", h)
        _choice("MLP activation", self.activation, MLP_ACTIVATIONS)
        if self.n_in is not None:
            _positive_int("MLP input dimension (n_in)", self.n_in)
        _positive_int("--n-atom-basis", self.n_atom_basis)
        _positive_int("--interactions", self.n_interactions)
        _positive_int("number of radial basis functions (n_rbf)", self.n_rbf)
        _positive_float("--cutoff (nm)", self.cutoff)
        if self.cutoff > 5.0:
            raise ConfigError(f"The cutoff {self.cutoff} nm is implausibly large: give it in nm (e.g. 0.6 for 6 Angstrom).")
        _choice("pooling", self.pooling, POOLINGS)
        _choice("SchNet implementation", self.implementation, IMPLEMENTATIONS)
        _choice("--lobes value", self.lobes, LOBES)
        if not isinstance(self.standardize_output, bool):
            raise ConfigError(f"standardize_output must be true or false, got {self.standardize_output!r}.")
        self._check_descriptors()

    def _check_descriptors(self) -> None:
        if not isinstance(self.distances_select, str) or not self.distances_select.strip():
            raise ConfigError(f"--distances-select must be an MDTraj selection, got {self.distances_select!r}.")
        if self.contact_r0 is not None:
            _positive_float("--contact-r0 (nm)", self.contact_r0)
            if self.contact_r0 > 5.0:
                raise ConfigError(f"--contact-r0 {self.contact_r0} nm is implausibly large: give it in nm (e.g. 0.8).")
        if not isinstance(self.torsions, tuple) or not self.torsions:
            raise ConfigError(f"--torsions must name at least one dihedral, got {self.torsions!r}.")
        for t in self.torsions:
            _choice("torsion", t, TORSIONS)
        for name, width in (("pairs", 2), ("index", 2 if self.kind != "torsions" else 4)):
            v = getattr(self, name)
            if v is None:
                continue
            try:
                rows = tuple(tuple(int(i) for i in row) for row in v)
            except (TypeError, ValueError):
                rows = ()
            if not rows or any(len(r) != width or min(r) < 0 for r in rows):
                raise ConfigError(f"The encoder's {name} must be a non-empty list of {width}-tuples of atom indices "
                                  ">= 0.")
            object.__setattr__(self, name, rows)  # JSON lists -> tuples, so equal configs compare equal

    @classmethod
    def from_dict(cls, d: dict) -> EncoderConfig:
        """Read an encoder configuration; a file without ``activation`` (older versions) gets ``"silu"``.

        The MLPs of those files were built with SiLU, so the new default (tanh) must not be applied to
        their weights.
        """
        if isinstance(d, dict) and "activation" not in d:
            d = {**d, "activation": LEGACY_MLP_ACTIVATION}
        if isinstance(d, dict) and "standardize_output" not in d:
            d = {**d, "standardize_output": False}
        return super().from_dict(d)


@dataclass(frozen=True)
class TrainConfig(_JSONMixin):
    """Objective and optimisation settings.

    Parameters
    ----------
    lagtime : int
        Lag in frames (>= 1).
    n_modes : int
        Number of singular functions k including the constant (>= 2); the encoder learns k - 1.
    loss : {"lora", "vamp1", "vamp2", "vampe", "dpnet", "dpnet-relaxed"}
    nesting : {"joint", "sequential", "none"}
        Nesting of the LoRA objective (ignored by the other losses).
    epochs : int
        Maximum number of epochs. With ``schedule="converge"`` (default) training usually stops earlier, when
        the objective has converged; a run that reaches this limit first is recorded as not converged.
    batch_size : int
        Pairs per optimisation step (global batch; split across DDP processes).
    lr, weight_decay : float
        AdamW learning rate and weight decay.
    grad_clip : float
        Gradient-norm clipping threshold (0 disables).
    schedule : {"converge", "cosine", "plateau", "none"}
        Learning-rate schedule. ``"converge"``: constant learning rate, halved whenever the epoch-mean
        training loss stalls for ``plateau_patience`` epochs (improvement below ``tol``); after 3 halvings
        the next stall ends training as converged (:class:`mdkoop.training.lightning.ConvergenceMonitor`).
        ``"cosine"``: cosine annealing over exactly ``epochs`` epochs; ``"plateau"``: reduce-on-plateau of
        validation VAMP-E; ``"none"``: constant.
    plateau_patience : int
        Epochs without improvement of the training loss before the learning rate is halved (``"converge"``).
    tol : float
        Relative improvement of the epoch-mean training loss that counts (``"converge"``).
    patience : int
        Early stopping: epochs without improvement of validation VAMP-E (0 disables, the default: the
        stopping rule is convergence of the training objective, because a validation split rarely holds
        enough slow events to judge the slowest process).
    val_fraction : float
        Fraction of the data (whole trajectories, or a contiguous block for one trajectory) held out for validation.
    seed : int
        Seed for weights, the split and the shuffling.
    device : {"auto", "cpu", "cuda"}
    devices, num_nodes : int
        Processes per node and nodes for DDP.
    precision : {"32", "bf16-mixed"}
        bf16-mixed is GPU-only; the moments are always accumulated in fp32/fp64.
    method : {"reversible", "nonreversible"}
        Estimation of the linear Koopman model on the learned features after training: "reversible"
        (time-symmetrised covariances, real spectrum; for equilibrium MD) or "nonreversible" (raw
        covariances; eigenvalues by EDMD). Singular functions always come from CCA.
    checkpoint_every : int
        Save a resumable step checkpoint every this many optimisation steps.
    timestep : float
        Time between frames, in ``time_unit``.
    time_unit : str
        ``"ps"`` for structural data (stores), otherwise ``"frames"`` or the user's unit.
    """

    lagtime: int = 1
    n_modes: int = 5
    loss: str = "lora"
    nesting: str = "joint"
    epochs: int = 200
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    schedule: str = "converge"
    plateau_patience: int = 3
    tol: float = 1e-3
    patience: int = 0
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    devices: int = 1
    num_nodes: int = 1
    precision: str = "32"
    method: str = "reversible"
    checkpoint_every: int = 50
    timestep: float = 1.0
    time_unit: str = "frames"

    def __post_init__(self):
        _positive_int("lag (in frames)", self.lagtime)
        _positive_int("number of modes (--modes, including the constant)", self.n_modes, 2)
        if self.n_modes > MAX_MODES:
            raise ConfigError(f"--modes {self.n_modes} is more than mdkoop supports ({MAX_MODES}): the slow processes "
                              "are the few leading modes; ask for 2-32 (the constant included).")
        _choice("--loss", self.loss, LOSSES)
        _choice("--nesting", self.nesting, NESTINGS)
        _positive_int("number of epochs", self.epochs)
        _positive_int("batch size", self.batch_size, 2)
        _positive_float("learning rate", self.lr)
        _positive_float("weight decay", self.weight_decay, allow_zero=True)
        _positive_float("gradient clipping threshold", self.grad_clip, allow_zero=True)
        _choice("--schedule", self.schedule, SCHEDULES)
        _positive_int("early-stopping patience", self.patience, 0)
        _positive_int("--plateau-patience", self.plateau_patience)
        _positive_float("--tol", self.tol)
        ok = isinstance(self.val_fraction, (int, float)) and 0.0 <= self.val_fraction < 0.9
        if not ok:
            raise ConfigError(f"--val-fraction must be in [0, 0.9), got {self.val_fraction!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"The seed must be an integer, got {self.seed!r}.")
        _choice("--device", self.device, DEVICES)
        _positive_int("--devices", self.devices)
        _positive_int("--num-nodes", self.num_nodes)
        _choice("--precision", self.precision, PRECISIONS)
        _choice("estimation method", self.method, METHODS)
        _positive_int("checkpoint interval (steps)", self.checkpoint_every)
        _positive_float("timestep", self.timestep)


@dataclass(frozen=True)
class FitConfig(_JSONMixin):
    """The full configuration of a run: ``encoder`` and ``train``, plus free-form ``data`` notes.

    ``data`` records where the data came from (store path, selection) and is not validated.
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.encoder, EncoderConfig) or not isinstance(self.train, TrainConfig):
            raise ConfigError("FitConfig needs an EncoderConfig and a TrainConfig.")

    @classmethod
    def from_dict(cls, d: dict) -> FitConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"A run configuration must be a JSON object, got {type(d).__name__}.")
        unknown = sorted(set(d) - {"encoder", "train", "data"})
        if unknown:
            raise ConfigError(f"Unknown configuration section(s) {unknown}: allowed are 'encoder', 'train', 'data'.")
        return cls(
            encoder=EncoderConfig.from_dict(d.get("encoder", {})),
            train=TrainConfig.from_dict(d.get("train", {})),
            data=dict(d.get("data", {})),
        )

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` atomically."""
        from ..utils.files import atomic_file

        with atomic_file(path, "w") as fh:
            fh.write(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> FitConfig:
        """Read a ``config.json`` written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            from ..errors import MissingFileError

            raise MissingFileError(f"The configuration file {str(path)!r} does not exist.")
        return cls.from_json(path.read_text())

    def replace(self, **sections) -> FitConfig:
        """Return a copy with whole sections, or ``train``/``encoder`` fields (``train__lr=...``), replaced."""
        enc = {k[9:]: v for k, v in sections.items() if k.startswith("encoder__")}
        tr = {k[7:]: v for k, v in sections.items() if k.startswith("train__")}
        rest = {k: v for k, v in sections.items() if "__" not in k}
        new = dataclasses.replace(self, **rest)
        return dataclasses.replace(
            new, encoder=dataclasses.replace(new.encoder, **enc), train=dataclasses.replace(new.train, **tr)
        )
