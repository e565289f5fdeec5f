"""VAMP-1, VAMP-2 and VAMP-E (Wu & Noé 2020; deeptime's definitions), as scores and as a loss (pure torch).

The constant is handled by mean removal (centered moment sums of :mod:`mdkoop.objectives.moments`); the
inverse square roots are epsilon-regularised (:func:`sym_inv_sqrt`). ``f`` and ``g``: (B, k) functions of
the instantaneous and time-lagged frames of B pairs.
"""

from __future__ import annotations

import torch
from torch import nn

from mdkoop.errors import ConfigError
from mdkoop.objectives.distributed import auto_reducer
from mdkoop.objectives.moments import Reducer, moment_sums
from mdkoop.registry import parse_vamp_r

__all__ = ["covariances_from_sums", "sym_inv_sqrt", "vamp_score_from_sums", "vamp_score", "VAMPLoss"]


def covariances_from_sums(sums: dict[str, torch.Tensor]):
    """Mean-free covariances from moment sums (``centered=True``).

    Returns
    -------
    C00, C0t, Ctt : torch.Tensor, each (k, k)
        ``E[(f-mu_f)(f-mu_f)^T]``, ``E[(f-mu_f)(g-mu_g)^T]``, ``E[(g-mu_g)(g-mu_g)^T]``
        (normalised by the weight sum, no Bessel correction).
    """
    sw = sums["sw"]
    mf, mg = sums["sf"] / sw, sums["sg"] / sw
    C00 = sums["Sf"] / sw - torch.outer(mf, mf)
    Ctt = sums["Sg"] / sw - torch.outer(mg, mg)
    C0t = sums["ST"] / sw - torch.outer(mf, mg)
    return C00, C0t, Ctt


def sym_inv_sqrt(C: torch.Tensor, epsilon: float = 1e-6, mode: str = "regularize") -> torch.Tensor:
    """Inverse square root of a symmetric positive semi-definite matrix.

    Parameters
    ----------
    C : torch.Tensor, shape (k, k)
    epsilon : float
        ``"regularize"``: eigenvalues ``|s| + epsilon``; ``"trunc"``: eigenvalues
        ``<= epsilon`` are dropped (deeptime's conventions).
    mode : {"regularize", "trunc"}

    Returns
    -------
    torch.Tensor, shape (k, k)
    """
    s, V = torch.linalg.eigh(0.5 * (C + C.T))
    if mode == "regularize":
        s = s.abs() + epsilon
    elif mode == "trunc":
        keep = s > epsilon
        s, V = s[keep], V[:, keep]
    else:
        raise ConfigError(f"unknown inverse mode {mode!r}; choose 'regularize' or 'trunc'.")
    return (V * s.rsqrt()) @ V.T


def vamp_score_from_sums(sums: dict[str, torch.Tensor], r="2", epsilon: float = 1e-6,
                         mode: str = "regularize") -> torch.Tensor:
    """VAMP-r score from centered moment sums (deeptime's definition, constant included: ``1 + ...``).

    Parameters
    ----------
    sums : dict
        From :func:`moment_sums` with ``centered=True``.
    r : {1, 2, "E"} (also "1", "2", "vamp1", "VAMP2", "vampe")
    epsilon : float
    mode : {"regularize", "trunc"}

    Returns
    -------
    torch.Tensor, scalar
    """
    r = parse_vamp_r(r)
    C00, C0t, Ctt = covariances_from_sums(sums)
    A = sym_inv_sqrt(C00, epsilon, mode)
    Bm = sym_inv_sqrt(Ctt, epsilon, mode)
    K = A @ C0t @ Bm
    if r == "1":
        score = torch.linalg.svdvals(K).sum()
    elif r == "2":
        score = (K * K).sum()
    else:
        U, s, Vh = torch.linalg.svd(K, full_matrices=False)
        keep = s > epsilon
        U, s, V = A @ U[:, keep], s[keep], Bm @ Vh[keep].T
        S = torch.diag(s)
        score = torch.trace(2.0 * S @ U.T @ C0t @ V - S @ U.T @ C00 @ U @ S @ V.T @ Ctt @ V)
    return 1.0 + score


def vamp_score(f: torch.Tensor, g: torch.Tensor, r="2", epsilon: float = 1e-6, mode: str = "regularize",
               weights: torch.Tensor | None = None, reduce: Reducer = None) -> torch.Tensor:
    """VAMP-1, VAMP-2 or VAMP-E score of learned functions (deeptime's definitions).

    The constant is handled by mean removal, as in deeptime; the returned score
    includes its contribution 1 (VAMP-2 = ``1 + ||C00^-1/2 C0t Ctt^-1/2||_F^2``).

    Parameters
    ----------
    f, g : torch.Tensor, shape (B, k-1)
        Learned functions (no constant column).
    r : {1, 2, "E"}
    epsilon : float
        Regularisation of the inverse square roots.
    mode : {"regularize", "trunc"}
    weights : torch.Tensor, shape (B,), optional
    reduce : callable, optional
        All-reduce of the moment sums (distributed training).

    Returns
    -------
    torch.Tensor, scalar
    """
    sums = moment_sums(f, g, weights, centered=True)
    if reduce is not None:
        sums = reduce(sums)
    return vamp_score_from_sums(sums, r=r, epsilon=epsilon, mode=mode)


class VAMPLoss(nn.Module):
    """Negative VAMP-r score (deeptime's definitions, ε-regularised inverses).

    Parameters
    ----------
    r : {1, 2, "E"}
    epsilon : float
    mode : {"regularize", "trunc"}
    distributed : {"auto", "off"}
    """

    def __init__(self, r="2", epsilon: float = 1e-6, mode: str = "regularize", distributed: str = "auto"):
        super().__init__()
        self.r = parse_vamp_r(r)
        self.epsilon = float(epsilon)
        self.mode = mode
        self._reduce = auto_reducer(distributed)

    def forward(self, f: torch.Tensor, g: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of a batch; ``f``, ``g`` (B, k-1). Returns a scalar."""
        return -vamp_score(f, g, r=self.r, epsilon=self.epsilon, mode=self.mode, weights=weights,
                             reduce=self._reduce)
