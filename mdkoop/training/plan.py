"""What a fit decided before training, and how it runs: :class:`FitPlan`, :class:`RunControl`, the device.

:meth:`mdkoop.KoopmanSVD.plan` fills a :class:`FitPlan` (every check passed, nothing trained yet);
:mod:`mdkoop.training.run` trains from it. :class:`RunControl` holds what is not a hyperparameter
(where outputs go, progress, callbacks) and so never enters ``config.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DeviceError
from .config import FitConfig

__all__ = ["FitPlan", "RunControl", "resolve_device"]


def resolve_device(device: str) -> str:
    """Map ``"auto"|"cpu"|"cuda"`` to a Lightning accelerator; refuse CUDA when none is available.

    Raises
    ------
    DeviceError
        ``device == "cuda"`` on a machine where ``torch.cuda.is_available()`` is False.
    """
    if device == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                "--device cuda was requested, but no CUDA device is available on this machine "
                "(torch.cuda.is_available() is False). Use --device cpu or --device auto."
            )
        return "gpu"
    if device == "cpu":
        return "cpu"
    raise ConfigError(f"Unknown device {device!r}: choose auto, cpu or cuda.")


@dataclass
class FitPlan:
    """Everything :meth:`KoopmanSVD.fit` decided before training (all checks passed)."""

    config: FitConfig
    source: object  # TrajectoryStore or list of arrays
    lengths: np.ndarray
    train_pairs: object
    val_pairs: object | None
    accelerator: str
    atoms: dict | None
    time_unit: str
    timestep: float
    workdir: Path | None
    resume_ckpt: Path | None


@dataclass(frozen=True)
class RunControl:
    """How one :meth:`KoopmanSVD.fit` runs (not hyperparameters: they never enter ``config.json``).

    Attributes
    ----------
    run_dir : Path or None
        Where the run directory is written (None: a temporary directory, removed after the fit).
    overwrite : bool
        Replace an existing run directory (only one that mdkoop wrote).
    progress : bool
        Show the Lightning progress bar; otherwise one log line per epoch.
    callbacks : tuple
        Extra Lightning callbacks.
    """

    run_dir: Path | None = None
    overwrite: bool = False
    progress: bool = False
    callbacks: tuple = ()
