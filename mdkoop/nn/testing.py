"""Test helpers for encoders, shipped for users (in the spirit of ``e3nn.util.test``).

Use them to check a custom encoder before training with it::

    from mdkoop.nn.testing import assert_invariant
    assert_invariant(encoder, frames)          # frames: (B, n_atoms, 3) nm

An encoder here is anything with ``forward_frames(pos (B, n, 3)) -> (B, k)`` or,
failing that, ``encoder(pos) -> (B, k)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from .encoders import apply_encoder

__all__ = ["random_rotation", "assert_invariant", "assert_close_outputs"]


def random_rotation(generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64) -> Tensor:
    """A uniformly random proper rotation matrix.

    Parameters
    ----------
    generator : torch.Generator, optional
        Source of randomness (seed it for reproducible tests).
    dtype : torch.dtype

    Returns
    -------
    Tensor, shape (3, 3)
        Orthogonal with determinant +1 (QR of a Gaussian matrix, sign-corrected).
    """
    a = torch.randn(3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.to(dtype)


def _as_frames(frames) -> Tensor:
    f = frames if isinstance(frames, Tensor) else torch.as_tensor(np.asarray(frames))
    if f.dim() != 3 or f.shape[-1] != 3 or f.shape[0] < 1:
        raise InputError(f"frames must have shape (B, n_atoms, 3) with B >= 1, got {tuple(f.shape)}.")
    if not f.dtype.is_floating_point:
        f = f.to(torch.float32)
    return f


def assert_close_outputs(a: Tensor, b: Tensor, atol: float, what: str) -> None:
    """Raise ``AssertionError`` naming ``what`` and the worst deviation if ``|a - b| > atol`` anywhere."""
    if a.shape != b.shape:
        raise AssertionError(f"{what}: output shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    err = (a.detach().double() - b.detach().double()).abs()
    worst = float(err.max()) if err.numel() else 0.0
    if not worst <= atol:
        idx = np.unravel_index(int(err.argmax()), tuple(err.shape))
        raise AssertionError(
            f"{what}: outputs differ by up to {worst:.3e} > atol={atol:.1e} (at index {tuple(int(i) for i in idx)})"
        )


@torch.no_grad()
def assert_invariant(
    encoder,
    frames,
    *,
    atol: float = 1e-5,
    n_rotations: int = 3,
    translation_nm: float = 2.0,
    checks: Iterable[str] = ("rotation", "translation", "permutation"),
    seed: int = 0,
) -> Tensor:
    """Assert that an encoder's outputs are invariant to rigid motions and to batch order.

    Parameters
    ----------
    encoder : torch.nn.Module
        Encoder of frames (see the module docstring). Put in eval mode by the caller if it matters.
    frames : Tensor or array_like, shape (B, n_atoms, 3)
        Positions in nm, in the encoder's dtype.
    atol : float, default 1e-5
        Absolute tolerance on the outputs (1e-5 is right for float32 and O(1) outputs).
    n_rotations : int, default 3
        Number of random rotations (each applied to every frame with its own rotation).
    translation_nm : float, default 2.0
        Scale of the random per-frame translations (nm).
    checks : iterable of {"rotation", "translation", "permutation"}
        Which invariances to check. ``permutation`` permutes the frames of the batch
        and checks that each frame's output moves with it (no cross-talk between frames).
    seed : int
        Seed of the random rotations, translations and permutation.

    Returns
    -------
    Tensor, shape (B, k)
        The encoder's outputs on ``frames``.

    Raises
    ------
    AssertionError
        Naming the failed invariance and the largest deviation.
    """
    x = _as_frames(frames)
    checks = tuple(checks)
    unknown = set(checks) - {"rotation", "translation", "permutation"}
    if unknown:
        raise InputError(
            f"unknown invariance check(s) {sorted(unknown)}; use rotation, translation, permutation."
        )
    g = torch.Generator().manual_seed(int(seed))
    ref = apply_encoder(encoder, x)
    B = x.shape[0]
    if "rotation" in checks:
        for r in range(int(n_rotations)):
            rots = torch.stack([random_rotation(g, torch.float64) for _ in range(B)])  # (B, 3, 3)
            xr = torch.einsum("bij,bnj->bni", rots, x.double())  # about the origin: moves the centroid too
            assert_close_outputs(ref, apply_encoder(encoder, xr.to(x.dtype)), atol, f"rotation #{r}")
    if "translation" in checks:
        shift = translation_nm * torch.randn(B, 1, 3, generator=g, dtype=torch.float64)
        assert_close_outputs(
            ref, apply_encoder(encoder, (x.double() + shift).to(x.dtype)), atol, "translation"
        )
    if "permutation" in checks and B > 1:
        perm = torch.randperm(B, generator=g)
        perm = torch.roll(perm, 1) if bool((perm == torch.arange(B)).all()) else perm
        out = apply_encoder(encoder, x[perm])
        assert_close_outputs(ref[perm], out, atol, "permutation of the frames in the batch")
    return ref
