"""DPNet (Kostic et al., ICLR 2024) and its relaxed form, as scores and as a loss (pure torch).

The constant is prepended as column 0 (:func:`mdkoop.objectives.moments.add_constant`); the metric distortion
is regularised with weight ``reg``.
"""

from __future__ import annotations

import torch
from torch import nn

from mdkoop.objectives.distributed import auto_reducer
from mdkoop.objectives.moments import Reducer, add_constant, moment_sums
from mdkoop.objectives.vamp import sym_inv_sqrt

__all__ = ["dpnet_score_from_sums", "dpnet_score", "dpnet_loss", "DPNetLoss"]


def _metric_distortion(C: torch.Tensor, epsilon: float) -> torch.Tensor:
    s = torch.linalg.eigvalsh(0.5 * (C + C.T)).clamp_min(epsilon)
    return (s * s - s - torch.log(s)).sum()


def dpnet_score_from_sums(sums: dict[str, torch.Tensor], relaxed: bool = False, reg: float = 1e-2,
                          epsilon: float = 1e-6) -> torch.Tensor:
    """DPNet score (Kostic et al., ICLR 2024) from uncentered moment sums.

    ``P = ||C_X^-1/2 C_XY C_Y^-1/2||_F^2`` (or, relaxed,
    ``||C_XY||_F^2 / (||C_X||_2 ||C_Y||_2)``) minus ``reg * (R(C_X) + R(C_Y))``
    with the metric distortion ``R(C) = tr(C^2 - C - ln C)``.

    Returns
    -------
    torch.Tensor, scalar
    """
    sw = sums["sw"]
    CX, CY, CXY = sums["Sf"] / sw, sums["Sg"] / sw, sums["ST"] / sw
    if relaxed:
        nX = torch.linalg.eigvalsh(0.5 * (CX + CX.T))[-1]
        nY = torch.linalg.eigvalsh(0.5 * (CY + CY.T))[-1]
        P = (CXY * CXY).sum() / (nX * nY)
    else:
        K = sym_inv_sqrt(CX, epsilon) @ CXY @ sym_inv_sqrt(CY, epsilon)
        P = (K * K).sum()
    if reg:
        P = P - reg * (_metric_distortion(CX, epsilon) + _metric_distortion(CY, epsilon))
    return P


def dpnet_score(f: torch.Tensor, g: torch.Tensor, relaxed: bool = False, reg: float = 1e-2, epsilon: float = 1e-6,
                weights: torch.Tensor | None = None, constant: bool = True, reduce: Reducer = None) -> torch.Tensor:
    """DPNet (or relaxed DPNet) score of learned functions; the constant is prepended (column 0).

    Parameters
    ----------
    f, g : torch.Tensor, shape (B, k-1)
    relaxed : bool
        Relaxed DPNet (no inverses; operator-norm normalisation).
    reg : float
        Weight of the metric-distortion regulariser.
    epsilon : float
        Eigenvalue floor for the inverse square roots and logarithms.
    weights : torch.Tensor, shape (B,), optional
    constant : bool
    reduce : callable, optional

    Returns
    -------
    torch.Tensor, scalar
    """
    if constant:
        f, g = add_constant(f), add_constant(g)
    sums = moment_sums(f, g, weights)
    if reduce is not None:
        sums = reduce(sums)
    return dpnet_score_from_sums(sums, relaxed=relaxed, reg=reg, epsilon=epsilon)


def dpnet_loss(f: torch.Tensor, g: torch.Tensor, relaxed: bool = False, reg: float = 1e-2, epsilon: float = 1e-6,
               weights: torch.Tensor | None = None, constant: bool = True, reduce: Reducer = None) -> torch.Tensor:
    """Negative :func:`dpnet_score` (a loss to minimise). Same parameters; returns a scalar tensor."""
    return -dpnet_score(f, g, relaxed=relaxed, reg=reg, epsilon=epsilon, weights=weights, constant=constant,
                        reduce=reduce)


class DPNetLoss(nn.Module):
    """Negative DPNet score (Kostic et al., ICLR 2024), optionally relaxed.

    Parameters
    ----------
    relaxed : bool
    reg : float
        Metric-distortion regularisation weight.
    epsilon : float
    distributed : {"auto", "off"}
    """

    def __init__(self, relaxed: bool = False, reg: float = 1e-2, epsilon: float = 1e-6, distributed: str = "auto"):
        super().__init__()
        self.relaxed = bool(relaxed)
        self.reg = float(reg)
        self.epsilon = float(epsilon)
        self._reduce = auto_reducer(distributed)

    def forward(self, f: torch.Tensor, g: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of a batch; ``f``, ``g`` (B, k-1). Returns a scalar."""
        return dpnet_loss(f, g, relaxed=self.relaxed, reg=self.reg, epsilon=self.epsilon, weights=weights,
                            reduce=self._reduce)
