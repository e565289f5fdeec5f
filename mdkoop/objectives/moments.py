"""Moments shared by every objective (pure torch): the constant column, second moments and their sums.

Notation
--------
``f`` and ``g`` are the left (instantaneous, evaluated at ``x_t``) and right
(time-lagged, evaluated at ``x_{t+tau}``) functions of a batch of ``B`` pairs,
tensors of shape ``(B, k)``. Row ``b`` of ``f`` and row ``b`` of ``g`` belong to
the same pair. The second moments are

* ``M_f = E[f(x) f(x)^T]``           (k, k), over the instantaneous frames,
* ``M_g = E[g(x') g(x')^T]``         (k, k), over the time-lagged frames,
* ``T   = E[f(x) g(x')^T]``          (k, k), over pairs,

where ``E`` is the (optionally weighted) batch mean. Weights are per pair,
non-negative, and normalised internally (only their ratios matter).

Constant function
-----------------
The Koopman operator always has the trivial singular pair ``sigma_0 = 1`` with
constant left and right singular functions. The encoders learn only the
``k - 1`` non-trivial functions; :func:`add_constant` prepends a column of ones
(column 0). Within the LoRA objective the constant is an ordinary, fixed
(non-learned) mode 0: the cross terms ``E[f_i]``, ``E[g_i]`` in the moments push
the learned functions to be orthogonal to the constants (mean-free under the
respective marginals). Its own contribution to the loss, ``-2 T_00 + M_f,00
M_g,00 = -1``, is a known number without gradient and is *removed* explicitly:
the reported LoRA loss at the optimum is ``-sum_{i>=1} m_i sigma_i^2`` (``m_i``:
nesting weights, all 1 for ``nesting="none"``), i.e. it measures only the
learned modes.

Everything here works on moment *sums* first (:func:`moment_sums`), so that the
sums can be all-reduced across processes (see :mod:`mdkoop.objectives.distributed`)
before they are normalised; the loss then equals the global-batch loss.
No matrix inverse or SVD is used by the LoRA loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import torch

from mdkoop.errors import ConfigError, InputError
from mdkoop.registry import NESTINGS

__all__ = ["Reducer", "check_pair", "check_nesting", "add_constant", "second_moments", "nesting_weights",
           "joint_masks", "moment_sums"]


Reducer = Optional[Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]]  # noqa: UP045 (runtime alias)


# ----------------------------------------------------------------------------- checks
def check_pair(f: torch.Tensor, g: torch.Tensor, weights: torch.Tensor | None = None) -> None:
    """Check that ``f``, ``g`` (and ``weights``) form a valid batch of pairs.

    Parameters
    ----------
    f, g : torch.Tensor, shape (B, k)
        Left and right functions of the same ``B`` pairs.
    weights : torch.Tensor, shape (B,), optional
        Non-negative per-pair weights.

    Raises
    ------
    InputError
        On wrong dimensions, mismatched shapes, non-finite values or bad weights.
    """
    if f.dim() != 2 or g.dim() != 2:
        raise InputError(
            f"the objective needs features of shape (batch, k); got f {tuple(f.shape)} and g {tuple(g.shape)}. "
            "Reshape the encoder outputs to two dimensions."
        )
    if f.shape != g.shape:
        raise InputError(
            f"f and g must have the same shape (batch, k); got {tuple(f.shape)} and {tuple(g.shape)}. "
            "Use the same number of output functions for both lobes and pass pairs of equal batch size."
        )
    if f.shape[0] < 2:
        raise InputError(f"the objective needs a batch of at least 2 pairs; got {f.shape[0]}. Increase batch_size.")
    if weights is not None:
        if weights.dim() != 1 or weights.shape[0] != f.shape[0]:
            raise InputError(
                f"weights must have shape ({f.shape[0]},) (one per pair); got {tuple(weights.shape)}."
            )
        if bool((weights < 0).any()) or not bool(torch.isfinite(weights).all()) or float(weights.sum()) <= 0:
            raise InputError("weights must be finite, non-negative and not all zero; check the reweighting factors.")


def check_nesting(nesting: str) -> None:
    if nesting not in NESTINGS:
        raise ConfigError(f"unknown nesting {nesting!r}; choose one of {', '.join(NESTINGS)}.")


# ----------------------------------------------------------------------------- basics
def add_constant(f: torch.Tensor) -> torch.Tensor:
    """Prepend the constant function (a column of ones) as column 0.

    Parameters
    ----------
    f : torch.Tensor, shape (B, k-1)
        Learned functions.

    Returns
    -------
    torch.Tensor, shape (B, k), same dtype/device as ``f``
        ``[1, f]``.
    """
    return torch.cat([torch.ones_like(f[:, :1]), f], dim=1)


def _normalised_weights(weights: torch.Tensor | None, f: torch.Tensor) -> torch.Tensor:
    if weights is None:
        return torch.full((f.shape[0],), 1.0 / f.shape[0], dtype=f.dtype, device=f.device)
    w = weights.to(dtype=f.dtype, device=f.device)
    return w / w.sum()


def second_moments(f: torch.Tensor, g: torch.Tensor, weights: torch.Tensor | None = None):
    """Batch second moments of left and right functions.

    Parameters
    ----------
    f, g : torch.Tensor, shape (B, k)
        Left functions at ``x_t`` and right functions at ``x_{t+tau}``.
    weights : torch.Tensor, shape (B,), optional
        Per-pair weights (e.g. reweighting factors of a biased simulation);
        normalised to sum 1. Default: uniform.

    Returns
    -------
    M_f, M_g, T : torch.Tensor, each (k, k)
        ``E[f f^T]``, ``E[g g^T]`` and ``E[f g^T]`` (uncentered).
    """
    check_pair(f, g, weights)
    w = _normalised_weights(weights, f)
    fw = f * w[:, None]
    return fw.T @ f, (g * w[:, None]).T @ g, fw.T @ g


def nesting_weights(k: int, dtype=torch.float64, device=None, constant: bool = True) -> torch.Tensor:
    """Cumulative prefix weights ``m_j`` of joint nesting.

    Joint nesting minimises ``sum_i w_i L(modes 0..i)`` over the prefixes ending
    at each *learned* mode ``i`` with uniform prefix weights ``w_i = 1/(k-1)``
    (``1/k`` without a constant column). Mode ``j`` then enters with weight
    ``m_j = sum_{i >= j} w_i`` (descending, ``m_0 = m_1 = 1`` with a constant).

    Parameters
    ----------
    k : int
        Number of modes including the constant column (if any).
    constant : bool
        Whether column 0 is the (always included) constant.

    Returns
    -------
    torch.Tensor, shape (k,)
    """
    n_learned = k - 1 if constant else k
    if n_learned < 1:
        raise ConfigError(f"need at least one learned mode; got k={k} with constant={constant}.")
    m = torch.arange(n_learned, 0, -1, dtype=dtype, device=device) / n_learned
    if constant:
        m = torch.cat([m[:1], m])
    return m


def joint_masks(k: int, dtype=torch.float64, device=None, constant: bool = True):
    """Vector and matrix masks of joint nesting.

    Returns
    -------
    vector : torch.Tensor, shape (k,)
        ``m_j`` (see :func:`nesting_weights`), weights of ``T_jj``.
    matrix : torch.Tensor, shape (k, k)
        ``m_{max(j, l)}``, weights of ``M_f,jl M_g,lj``.
    """
    m = nesting_weights(k, dtype=dtype, device=device, constant=constant)
    idx = torch.arange(k, device=device)
    return m, m[torch.maximum(idx[:, None], idx[None, :])]


# ----------------------------------------------------------------------------- sums (all-reducible)
def moment_sums(
    f: torch.Tensor,
    g: torch.Tensor,
    weights: torch.Tensor | None = None,
    nesting: str = "none",
    unbiased: bool = False,
    centered: bool = False,
    constant: bool = True,
) -> dict[str, torch.Tensor]:
    """Unnormalised weighted moment sums of one (local) batch.

    These are the quantities that are all-reduced across processes. With
    ``w_b`` the raw weights (1 if not given) and ``h = f * g``:

    * ``sw = sum w``, ``sw2 = sum w^2`` (scalars)
    * ``Sf = sum w f f^T``, ``Sg = sum w g g^T``, ``ST = sum w f g^T`` (k, k)
    * if ``nesting == "sequential"``: ``Sf_mix = sum w f f.detach()^T`` and
      ``Sg_mix = sum w g.detach() g^T`` (same values, gradient only through
      the row resp. column mode: partial stop-gradients)
    * if ``unbiased``: ``corr = sum w^2 q(h)``, the diagonal (same-pair) part of
      the quadratic term (scalar), with ``q`` depending on the nesting mask.
    * if ``centered``: ``sf = sum w f``, ``sg = sum w g`` (k,) for covariances.

    Parameters
    ----------
    f, g : torch.Tensor, shape (B, k)
    weights : torch.Tensor, shape (B,), optional
    nesting : {"none", "joint", "sequential"}
    unbiased : bool
    centered : bool
    constant : bool
        Whether column 0 is the constant (only changes the joint-nesting weights).

    Returns
    -------
    dict of str -> torch.Tensor
    """
    check_pair(f, g, weights)
    check_nesting(nesting)
    w = torch.ones(f.shape[0], dtype=f.dtype, device=f.device) if weights is None else weights.to(f)
    fw = f * w[:, None]
    out = {
        "sw": w.sum(),
        "sw2": (w * w).sum(),
        "Sf": fw.T @ f,
        "Sg": (g * w[:, None]).T @ g,
        "ST": fw.T @ g,
    }
    if centered:
        out["sf"] = fw.sum(0)
        out["sg"] = (g * w[:, None]).sum(0)
    if nesting == "sequential":
        out["Sf_mix"] = fw.T @ f.detach()
        out["Sg_mix"] = (g.detach() * w[:, None]).T @ g
    if unbiased:
        h = f * g
        w2 = w * w
        if nesting == "none":
            q = h.sum(1) ** 2
        elif nesting == "joint":
            # h^T W h with W_jl = m_max(j,l) = sum_i w_i [j<=i][l<=i]  ->  sum_i w_i (prefix sum of h)_i^2
            k = f.shape[1]
            m = nesting_weights(k, dtype=f.dtype, device=f.device, constant=constant)
            wi = m - torch.cat([m[1:], m.new_zeros(1)])  # prefix weights w_i (w_0 = 0 with constant)
            q = (torch.cumsum(h, dim=1) ** 2 * wi).sum(1)
        else:  # sequential: sum_i h_i^2 + 2 sum_{i>j} h_i hd_j  (gradient only through mode i)
            hd = h.detach()
            excl = torch.cumsum(hd, dim=1) - hd
            q = (h * h + 2.0 * h * excl).sum(1)
        out["corr"] = (w2 * q).sum()
    return out
