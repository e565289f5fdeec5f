"""Build an untrained encoder from its configuration (:class:`mdkoop.training.config.EncoderConfig`).

The one place that maps an encoder ``kind`` ("mlp", "schnet", "distances", "torsions") and its
settings to a module; training and :func:`mdkoop.load_model` both build through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import ModelFormatError
from ..registry import DESCRIPTOR_ENCODERS

if TYPE_CHECKING:
    from ..training.config import EncoderConfig

__all__ = ["build_encoder"]


def build_encoder(cfg: EncoderConfig, n_out: int, atomic_numbers=None) -> torch.nn.Module:
    """Build an untrained encoder from its configuration.

    Parameters
    ----------
    cfg : EncoderConfig
        ``kind`` "mlp" (needs ``cfg.n_in``), "schnet" (needs ``atomic_numbers``), or "distances"/"torsions"
        (need ``cfg.index`` and ``atomic_numbers``, for the atom count).
    n_out : int
        Number of learned functions, ``n_modes - 1``.
    atomic_numbers : array_like of int, shape (n_atoms,), optional
        Atomic numbers of the model's atoms (SchNet).

    Returns
    -------
    torch.nn.Module
        Maps (B, d) features or (B, n_atoms, 3) positions in nm to (B, n_out), float32.
    """
    if cfg.kind == "mlp":
        from .mlp import MLPEncoder

        if cfg.n_in is None:
            raise ModelFormatError("The MLP encoder configuration lacks its input dimension (n_in).")
        return MLPEncoder(cfg.n_in, n_out, hidden=tuple(cfg.hidden), activation=cfg.activation)
    if cfg.kind in DESCRIPTOR_ENCODERS:
        from .descriptors import DescriptorEncoder

        if cfg.index is None or atomic_numbers is None:
            raise ModelFormatError(f"A {cfg.kind} encoder configuration lacks its atom index tuples or its atoms.")
        return DescriptorEncoder(cfg.kind, cfg.index, len(atomic_numbers), n_out, hidden=tuple(cfg.hidden),
                                 activation=cfg.activation, contact_r0=cfg.contact_r0)
    if cfg.kind == "schnet":
        from .encoders import SchNetEncoder

        if atomic_numbers is None:
            raise ModelFormatError("A SchNet encoder needs the atomic numbers of its atoms.")
        z = torch.as_tensor(np.asarray(atomic_numbers), dtype=torch.long)
        return SchNetEncoder(
            n_out,
            z,
            n_atom_basis=cfg.n_atom_basis,
            n_interactions=cfg.n_interactions,
            n_rbf=cfg.n_rbf,
            cutoff=cfg.cutoff,
            pooling=cfg.pooling,
            implementation=cfg.implementation,
            standardize_output=cfg.standardize_output,
        )
    raise ModelFormatError(
        "This model uses a custom encoder module, which cannot be rebuilt from model.json: "
        "pass the same (untrained) module as `encoder=` to load_model()."
    )
