"""VAMP and DPNet baseline objectives (pure torch), computed from the moment sums of :mod:`mdkoop.objectives.functional`.

``f`` and ``g`` follow the notation of :mod:`mdkoop.objectives.functional`:
tensors of shape ``(B, k)`` of the instantaneous and time-lagged functions of a
batch of ``B`` pairs. VAMP scores handle the constant by mean removal (centered
sums, deeptime's definitions); DPNet prepends the constant column.
"""

from __future__ import annotations

import torch

from mdkoop.errors import ConfigError
from mdkoop.objectives.functional import Reducer, add_constant, moment_sums

__all__ = [
    "covariances_from_sums",
    "sym_inv_sqrt",
    "vamp_score",
    "vamp_score_from_sums",
    "dpnet_score",
    "dpnet_score_from_sums",
    "dpnet_loss",
]


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
    r = _parse_r(r)
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


def _parse_r(r) -> str:
    key = str(r).lower().replace("vamp", "").replace("-", "")
    if key not in ("1", "2", "e"):
        raise ConfigError(f"unknown VAMP score r={r!r}; choose 1, 2 or 'E'.")
    return key


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
