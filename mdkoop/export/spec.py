"""What an export needs, independent of how the model was trained: :class:`ExportSpec`, the formats and kinds,
CV numbers and CV statistics. A leaf module: the exporters and the model adapter both read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from ..errors import ConfigError, InputError

__all__ = ["FORMATS", "KINDS", "TORCHSCRIPT_FILE", "RESTRAINT_FILE", "METADATA_FILE", "ExportSpec", "check_kind",
           "parse_cvs", "cv_statistics"]

FORMATS = ("torchscript", "plumed", "openmm")
KINDS = ("singular", "eigen")
TORCHSCRIPT_FILE = "cv_model.pt"
#: the OpenMM export's one-evaluation restraint module (all CVs, harmonic restraints via global parameters)
RESTRAINT_FILE = "cvs_restraint.pt"
METADATA_FILE = "metadata.json"


@dataclasses.dataclass
class ExportSpec:
    """Everything an export needs, independent of how the model was trained.

    Attributes
    ----------
    features : torch.nn.Module
        TorchScript-able map ``(B, n_atoms, 3)`` float32 nm -> ``(B, k-1)`` learned functions.
    weight : numpy.ndarray, shape (k-1, n_available), float
        ``CVs = features @ weight + bias``; column ``c-1`` is CV number ``c``.
    bias : numpy.ndarray, shape (n_available,), float
    kind : str
        ``"singular"`` or ``"eigen"``.
    atom_indices : numpy.ndarray, shape (n_atoms,), int64
        0-based indices of the model's atoms in the original topology.
    atom_names : list of str
    atomic_numbers : numpy.ndarray, shape (n_atoms,), int64
    cutoff_nm : float or None
        Neighbour cutoff of a graph encoder (SchNet), in nm; ``None`` for descriptor encoders.
    lagtime_frames : int
    lagtime_ps : float or None
    timestep_ps : float or None
    values : numpy.ndarray, shape (n_available,), optional
        Singular values or eigenvalues of the CVs.
    timescales_ps : numpy.ndarray, shape (n_available,), optional
    samples : list of numpy.ndarray (T_i, n_available), optional
        CV values on the training data, for ranges and kernel widths.
    samples_stride : int
        Frame stride of ``samples`` relative to the model's frames (for the lag in frames).
    topology : dict, optional
        ``{"name", "n_atoms", "n_hydrogens"}`` of the topology whose atom numbering ``atom_indices`` refer to.
    residue_ids, residue_names : list, optional
        Residue number and name of each model atom (to match atoms onto another topology).
    temperature_K : float, optional
        Temperature of the training simulations (K), for the bias examples; None when unknown.
    """

    features: nn.Module
    weight: np.ndarray
    bias: np.ndarray
    kind: str
    atom_indices: np.ndarray
    atom_names: list[str]
    atomic_numbers: np.ndarray
    cutoff_nm: float | None
    lagtime_frames: int
    lagtime_ps: float | None = None
    timestep_ps: float | None = None
    values: np.ndarray | None = None
    timescales_ps: np.ndarray | None = None
    samples: list[np.ndarray] | None = None
    samples_stride: int = 1
    topology: dict | None = None
    residue_ids: list[int] | None = None
    residue_names: list[str] | None = None
    temperature_K: float | None = None

    @property
    def n_available(self) -> int:
        """Number of CVs the model offers."""
        return int(np.asarray(self.bias).shape[0])


def parse_cvs(cvs, n_available: int) -> list[int]:
    """Validate CV numbers (1-based, as ``--cvs 1,2``).

    Parameters
    ----------
    cvs : str, int, sequence of int, or None
        ``"1,2"``, ``[1, 2]``, ``2`` or None (all ``n_available`` CVs, in order).
    n_available : int
        Number of CVs the model offers.

    Returns
    -------
    list of int
        1-based CV numbers, in the order given.

    Raises
    ------
    InputError
        For a non-integer, a number outside ``1..n_available``, a repeat, or an empty list.
    """
    hint = f"CV numbers are 1-based integers between 1 and {n_available} (the model has {n_available} CVs), e.g. --cvs 1,2."
    if cvs is None:
        return list(range(1, n_available + 1))
    if isinstance(cvs, str):
        items: list[Any] = [s.strip() for s in cvs.split(",")]
    elif isinstance(cvs, (int, np.integer)) and not isinstance(cvs, bool):
        items = [cvs]
    else:
        items = list(cvs)
    if not items or items == [""]:
        raise InputError(f"No CV selected. {hint}")
    out: list[int] = []
    for item in items:
        if isinstance(item, bool):
            raise InputError(f"Invalid CV number {item!r}. {hint}")
        if isinstance(item, (int, np.integer)):
            c = int(item)
        elif isinstance(item, str) and item.strip().lstrip("+").isdigit():
            c = int(item)
        elif isinstance(item, (float, np.floating)) and float(item).is_integer():
            c = int(item)
        else:
            raise InputError(f"Invalid CV number {item!r}: not an integer. {hint}")
        if not 1 <= c <= n_available:
            raise InputError(f"CV number {c} is out of range. {hint}")
        if c in out:
            raise InputError(f"CV number {c} is given twice. {hint}")
        out.append(c)
    return out


def cv_statistics(samples: Sequence[np.ndarray], lag_frames: int) -> dict[str, list[float]]:
    """Range and typical fluctuation of CVs on data.

    Parameters
    ----------
    samples : sequence of numpy.ndarray, each (T_i, m)
        CV values along each trajectory.
    lag_frames : int
        Model lag time in frames; ``sigma`` is the median standard deviation of each CV
        within consecutive windows of ``max(lag_frames, 2)`` frames (the fluctuation within
        one metastable state over one lag time), a sensible metadynamics kernel width.

    Returns
    -------
    dict
        ``min``, ``max``, ``mean``, ``std``, ``sigma``: lists of length m; ``n_frames``.
    """
    arrs = [np.asarray(s, dtype=np.float64) for s in samples if len(s)]
    if not arrs:
        raise InputError("No CV values to compute statistics from (empty data).")
    allv = np.concatenate(arrs)
    w = max(int(lag_frames), 2)
    win = [a[: (len(a) // w) * w].reshape(-1, w, a.shape[1]).std(axis=1) for a in arrs if len(a) >= w]
    std = allv.std(axis=0)
    sigma = np.median(np.concatenate(win), axis=0) if win else std / 10.0
    span = allv.max(axis=0) - allv.min(axis=0)
    sigma = np.where(sigma > 0, sigma, np.maximum(span / 50.0, 1e-3))
    return {
        "min": allv.min(axis=0).tolist(),
        "max": allv.max(axis=0).tolist(),
        "mean": allv.mean(axis=0).tolist(),
        "std": std.tolist(),
        "sigma": sigma.tolist(),
        "n_frames": int(len(allv)),
    }


def check_kind(kind: str) -> str:
    """``kind`` if it is one of :data:`KINDS`; otherwise a :class:`~mdkoop.errors.ConfigError` naming them."""
    if kind not in KINDS:
        raise ConfigError(f"Unknown CV kind {kind!r}; choose one of {', '.join(KINDS)} (--kind).")
    return kind
