"""Descriptor encoders: pair distances, contacts or backbone torsions of the positions, then an MLP.

The descriptors are computed from positions in torch, so a descriptor model takes the same input as a SchNet
model (positions ``(B, n_atoms, 3)`` in nm of its atoms): ``transform``, the TorchScript export for PLUMED and
the OpenMM forces work unchanged, and the gradient with respect to the positions comes from autograd.

Positions must be those of whole molecules (no atom wrapped into another periodic image); mdkoop stores hold
the coordinates as the trajectory files give them, which for the implicit-solvent and vacuum runs mdkoop
targets are whole.

The maths is in small pure functions (:func:`pair_distances`, :func:`rational_switch`, :func:`dihedrals`);
:class:`DescriptorEncoder` wraps them with the standardisation and the MLP of :class:`mdkoop.nn.mlp.MLPEncoder`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError, InputError
from .mlp import MLPEncoder

__all__ = ["pair_distances", "rational_switch", "dihedrals", "DescriptorEncoder", "DESCRIPTOR_KINDS"]

#: the descriptor encoders: index tuples of 2 atoms (distances) or 4 atoms (torsions)
DESCRIPTOR_KINDS = {"distances": 2, "torsions": 4}


def pair_distances(pos: Tensor, pairs: Tensor) -> Tensor:
    """Distances between atom pairs.

    Parameters
    ----------
    pos : Tensor, shape (B, n_atoms, 3), float
        Positions in nm.
    pairs : Tensor, shape (P, 2), int64
        Atom indices into ``n_atoms``.

    Returns
    -------
    Tensor, shape (B, P), same dtype as ``pos``
        Distances in nm.
    """
    d = pos[:, pairs[:, 0]] - pos[:, pairs[:, 1]]
    return torch.sqrt((d * d).sum(-1))


def rational_switch(d: Tensor, r0: float) -> Tensor:
    """Contact switching function ``1 / (1 + (d / r0)^6)``, PLUMED's RATIONAL with n = 6, m = 12.

    ``(1 - x^6) / (1 - x^12) = 1 / (1 + x^6)`` with ``x = d / r0``: 1 for a contact (d << r0), 1/2 at
    ``d = r0``, 0 far apart; smooth everywhere (no removable singularity at ``d = r0``).

    Parameters
    ----------
    d : Tensor, any shape
        Distances in nm.
    r0 : float
        Switching distance in nm (> 0).

    Returns
    -------
    Tensor, the shape of ``d``, values in (0, 1]
    """
    x = d / r0
    x2 = x * x
    return 1.0 / (1.0 + x2 * x2 * x2)


def dihedrals(pos: Tensor, quads: Tensor) -> Tensor:
    """Dihedral angles of atom quadruples (IUPAC sign convention, as mdtraj and PLUMED's TORSION).

    Parameters
    ----------
    pos : Tensor, shape (B, n_atoms, 3), float
        Positions in nm.
    quads : Tensor, shape (Q, 4), int64
        Atom indices ``(a, b, c, d)``; the angle is the rotation about the b-c bond.

    Returns
    -------
    Tensor, shape (B, Q)
        Angles in radians, in (-pi, pi].
    """
    b1 = pos[:, quads[:, 1]] - pos[:, quads[:, 0]]
    b2 = pos[:, quads[:, 2]] - pos[:, quads[:, 1]]
    b3 = pos[:, quads[:, 3]] - pos[:, quads[:, 2]]
    n1 = torch.cross(b1, b2, dim=-1)
    n2 = torch.cross(b2, b3, dim=-1)
    b2_len = torch.sqrt((b2 * b2).sum(-1, keepdim=True))
    y = (torch.cross(n1, n2, dim=-1) * b2).sum(-1) / b2_len.squeeze(-1)
    x = (n1 * n2).sum(-1)
    return torch.atan2(y, x)


class DescriptorEncoder(nn.Module):
    """Positions ``(B, n_atoms, 3)`` nm -> descriptors -> standardised -> MLP -> ``(B, n_out)``.

    Parameters
    ----------
    kind : {"distances", "torsions"}
        ``"distances"``: one feature per atom pair (nm, or a contact value with ``contact_r0``);
        ``"torsions"``: ``(sin, cos)`` of each dihedral, two features per quadruple.
    index : array_like of int, shape (P, 2) or (Q, 4)
        Atom pairs or quadruples, indices into the model's ``n_atoms`` atoms.
    n_atoms : int
        Number of the model's atoms (inputs of another size are refused).
    n_out : int
        Number of learned functions (``n_modes - 1``).
    hidden : tuple of int
        Hidden widths of the MLP head.
    activation : str
        Activation of the MLP head (see :data:`mdkoop.nn.mlp.ACTIVATIONS`).
    contact_r0 : float or None
        ``"distances"`` only: apply :func:`rational_switch` with this ``r0`` (nm).

    Notes
    -----
    The descriptors are invariant to rotations and translations of the frame (distances, dihedrals), and
    standardised with training statistics stored in the MLP's buffers (:meth:`set_standardization`).
    TorchScript-able, including ``forward_frames``.
    """

    def __init__(self, kind: str, index, n_atoms: int, n_out: int, hidden=(64, 64), activation: str = "tanh",
                 contact_r0: float | None = None):
        super().__init__()
        if kind not in DESCRIPTOR_KINDS:
            raise ConfigError(f"Unknown descriptor encoder {kind!r}: choose one of {', '.join(DESCRIPTOR_KINDS)}.")
        idx = np.asarray(index, dtype=np.int64)
        width = DESCRIPTOR_KINDS[kind]
        if idx.ndim != 2 or idx.shape[1] != width or idx.shape[0] < 1:
            raise ConfigError(f"A {kind} encoder needs a (n, {width}) index array with n >= 1, got shape {idx.shape}.")
        if idx.min() < 0 or idx.max() >= int(n_atoms):
            raise ConfigError(f"The {kind} encoder's atom indices must lie in [0, {int(n_atoms)}), got "
                              f"[{idx.min()}, {idx.max()}].")
        if kind == "distances" and np.any(idx[:, 0] == idx[:, 1]):
            raise ConfigError("A distance pair joins an atom to itself; give pairs of two different atoms.")
        if contact_r0 is not None and not (float(contact_r0) > 0 and np.isfinite(contact_r0)):
            raise ConfigError(f"--contact-r0 must be a positive distance in nm, got {contact_r0!r}.")
        self.kind = kind
        self.is_torsion = kind == "torsions"
        self.n_atoms = int(n_atoms)
        self.contact_r0 = -1.0 if contact_r0 is None else float(contact_r0)
        self.register_buffer("index", torch.as_tensor(idx))
        n_desc = idx.shape[0] * (2 if self.is_torsion else 1)
        self.mlp = MLPEncoder(n_desc, n_out, hidden=tuple(hidden), activation=activation)

    @property
    def n_descriptors(self) -> int:
        """Number of descriptor features fed to the MLP."""
        return int(self.mlp.n_in)

    def descriptors(self, pos: Tensor) -> Tensor:
        """Raw descriptors ``(B, n_descriptors)`` of positions ``(B, n_atoms, 3)`` nm (before standardisation)."""
        if self.is_torsion:
            a = dihedrals(pos, self.index)
            return torch.cat([torch.sin(a), torch.cos(a)], dim=1)
        d = pair_distances(pos, self.index)
        if self.contact_r0 > 0:
            d = rational_switch(d, self.contact_r0)
        return d

    @torch.jit.ignore
    def set_standardization(self, frames, batch_size: int = 512) -> DescriptorEncoder:
        """Set the MLP's input mean/std from the descriptors of training frames.

        Parameters
        ----------
        frames : array_like or Tensor, shape (n, n_atoms, 3), float
            Training positions in nm.
        batch_size : int
            Frames per chunk.

        Returns
        -------
        self
        """
        x = torch.as_tensor(np.asarray(frames), dtype=torch.float32)
        if x.dim() != 3 or x.shape[1] != self.n_atoms or x.shape[2] != 3 or x.shape[0] < 1:
            raise InputError(f"standardisation frames must have shape (n, {self.n_atoms}, 3), got {tuple(x.shape)}.")
        with torch.no_grad():
            parts = [self.descriptors(x[s:s + batch_size]).double() for s in range(0, len(x), batch_size)]
        self.mlp.set_standardization(torch.cat(parts).numpy())
        return self

    def forward_frames(self, pos: Tensor) -> Tensor:
        """Learned functions ``(B, n_out)`` float32 of positions ``(B, n_atoms, 3)`` nm."""
        if pos.dim() != 3 or pos.shape[1] != self.n_atoms or pos.shape[2] != 3:
            raise ValueError("DescriptorEncoder expects positions of shape (batch, n_atoms, 3) in nm")
        return self.mlp(self.descriptors(pos.to(torch.float32)))

    def forward(self, pos: Tensor) -> Tensor:
        """The same as :meth:`forward_frames`."""
        return self.forward_frames(pos)
