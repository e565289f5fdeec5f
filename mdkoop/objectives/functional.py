"""Pure torch functions of the objectives: moments and nested LoRA (VAMP and DPNet in :mod:`mdkoop.objectives.baselines`, re-exported here).

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

__all__ = [
    "add_constant",
    "check_pair",
    "second_moments",
    "nesting_weights",
    "joint_masks",
    "moment_sums",
    "lora_from_sums",
    "lora_from_moments",
    "lora_loss",
    "covariances_from_sums",
    "sym_inv_sqrt",
    "vamp_score",
    "vamp_score_from_sums",
    "dpnet_score",
    "dpnet_score_from_sums",
    "dpnet_loss",
]


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


def _check_nesting(nesting: str) -> None:
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


# ----------------------------------------------------------------------------- LoRA
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
    _check_nesting(nesting)
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


def lora_from_sums(
    sums: dict[str, torch.Tensor],
    nesting: str = "joint",
    unbiased: bool = False,
    constant: bool = True,
) -> torch.Tensor:
    """LoRA loss from (possibly all-reduced) moment sums.

    ``L = -2 sum_j m_j T_jj + sum_{j,l} W_jl M_f,jl M_g,lj`` with ``m``, ``W``
    the nesting masks (all ones for ``"none"`` and ``"sequential"``).
    With ``unbiased=True`` the quadratic term is the U-statistic over distinct
    pairs ``a != b``: ``(sum W (Sf o Sg^T) - corr) / (sw^2 - sw2)``, unbiased for
    ``tr(M_f M_g)`` under i.i.d. pairs (O(B k) extra work). With ``constant``,
    the trivial pair's contribution ``-m_0`` is removed (see module docstring).

    Parameters
    ----------
    sums : dict
        Output of :func:`moment_sums` (after an optional all-reduce).
    nesting : {"joint", "sequential", "none"}
    unbiased : bool
    constant : bool
        Whether column 0 is the constant function.

    Returns
    -------
    torch.Tensor, scalar
    """
    _check_nesting(nesting)
    Sf, Sg, ST, sw = sums["Sf"], sums["Sg"], sums["ST"], sums["sw"]
    k = Sf.shape[0]
    if unbiased:
        if "corr" not in sums:
            raise ConfigError("unbiased LoRA needs moment_sums(..., unbiased=True).")
        denom = sw * sw - sums["sw2"]
        if float(denom) <= 0:
            raise InputError("the unbiased LoRA estimator needs at least two pairs with non-zero weight.")
    else:
        denom = sw * sw
    if nesting == "joint":
        vec, mat = joint_masks(k, dtype=Sf.dtype, device=Sf.device, constant=constant)
        lin = (vec * torch.diagonal(ST)).sum() / sw
        quad_sum = (mat * Sf * Sg.T).sum()
        m0 = vec[0]
    elif nesting == "none":
        lin = torch.diagonal(ST).sum() / sw
        quad_sum = (Sf * Sg.T).sum()
        m0 = 1.0
    else:  # sequential: diag with full gradient, strictly lower part with stop-gradients on the earlier mode
        lin = torch.diagonal(ST).sum() / sw
        lower = torch.tril(torch.ones(k, k, dtype=Sf.dtype, device=Sf.device), diagonal=-1)
        quad_sum = (torch.diagonal(Sf) * torch.diagonal(Sg)).sum() + 2.0 * (lower * sums["Sf_mix"] * sums["Sg_mix"].T).sum()
        m0 = 1.0
    if unbiased:
        quad_sum = quad_sum - sums["corr"]
    loss = -2.0 * lin + quad_sum / denom
    if constant:
        loss = loss + m0
    return loss


def lora_from_moments(M_f: torch.Tensor, M_g: torch.Tensor, T: torch.Tensor, nesting: str = "joint",
                      constant: bool = True) -> torch.Tensor:
    """Plain (biased) LoRA loss from normalised moments.

    ``L = -2 sum_j m_j T_jj + sum_{j,l} W_jl M_f,jl M_g,lj`` (+ ``m_0`` if column 0
    is the constant). ``"sequential"`` has the value of ``"none"`` here; its
    stop-gradient structure needs the features (use :func:`lora_loss`).

    Parameters
    ----------
    M_f, M_g, T : torch.Tensor, shape (k, k)
        From :func:`second_moments`.
    nesting : {"joint", "sequential", "none"}
    constant : bool

    Returns
    -------
    torch.Tensor, scalar
    """
    _check_nesting(nesting)
    one = torch.ones((), dtype=M_f.dtype, device=M_f.device)
    sums = {"Sf": M_f, "Sg": M_g, "ST": T, "sw": one, "sw2": one * 0}
    if nesting == "sequential":
        sums["Sf_mix"], sums["Sg_mix"] = M_f, M_g
    return lora_from_sums(sums, nesting=nesting, unbiased=False, constant=constant)


def lora_loss(
    f: torch.Tensor,
    g: torch.Tensor,
    nesting: str = "joint",
    unbiased: bool = False,
    weights: torch.Tensor | None = None,
    singular_values: torch.Tensor | None = None,
    constant: bool = True,
    reduce: Reducer = None,
) -> torch.Tensor:
    """Nested LoRA loss of a batch of learned functions.

    Minimising it over functions gives ``f_i = sqrt(sigma_i) u_i`` and
    ``g_i = sqrt(sigma_i) v_i`` (left/right singular functions of the Koopman
    operator, ``sigma_1 >= sigma_2 >= ...``; ordered by the nesting), with
    minimum ``-sum_i m_i sigma_i^2`` over the learned modes.

    Parameters
    ----------
    f, g : torch.Tensor, shape (B, k-1) (or (B, k) with ``constant=False``)
        Learned left functions at ``x_t`` and right functions at ``x_{t+tau}``.
    nesting : {"joint", "sequential", "none"}
        ``joint``: prefix-weighted sum of LoRA losses (vector/matrix masks);
        ``sequential``: partial stop-gradients, mode ``i`` sees only modes ``<= i``;
        ``none``: plain LoRA (learns the top subspace only).
    unbiased : bool
        U-statistic over distinct pairs for ``tr(M_f M_g)``: removes the O(1/B)
        gradient bias at O(B k) extra work. Default False: on the loss step alone
        it measured 1.25-1.96x (median 1.43x) the biased cost on CPU (benchmarks/bench_objectives.py,
        results/objectives.json), above the 20% threshold for making it the default.
    weights : torch.Tensor, shape (B,), optional
        Per-pair weights (normalised internally).
    singular_values : torch.Tensor, shape (k-1,), optional
        Learned positive singular values ``s``. Then ``f``, ``g`` are read as
        normalised singular functions and the loss uses ``f sqrt(s)``, ``g sqrt(s)``.
    constant : bool
        Prepend the constant function (default). Set False if ``f``, ``g``
        already contain everything the loss should see.
    reduce : callable, optional
        Applied to the dict of moment sums before normalisation (all-reduce
        across processes; see :mod:`mdkoop.objectives.distributed`).

    Returns
    -------
    torch.Tensor, scalar (dtype of ``f``)
    """
    check_pair(f, g, weights)
    if singular_values is not None:
        if singular_values.shape != (f.shape[1],):
            raise InputError(
                f"singular_values must have shape ({f.shape[1]},), one per learned function; "
                f"got {tuple(singular_values.shape)}."
            )
        root = torch.sqrt(singular_values.to(f))
        f, g = f * root, g * root
    if constant:
        f, g = add_constant(f), add_constant(g)
    sums = moment_sums(f, g, weights, nesting=nesting, unbiased=unbiased, constant=constant)
    if reduce is not None:
        sums = reduce(sums)
    return lora_from_sums(sums, nesting=nesting, unbiased=unbiased, constant=constant)


# VAMP / DPNet baselines live in mdkoop.objectives.baselines; re-exported here so that
# ``from mdkoop.objectives import functional as F; F.vamp_score(...)`` keeps working.
from mdkoop.objectives.baselines import (  # noqa: E402
    _parse_r,  # noqa: F401 (used by mdkoop.objectives.losses)
    covariances_from_sums,
    dpnet_loss,
    dpnet_score,
    dpnet_score_from_sums,
    sym_inv_sqrt,
    vamp_score,
    vamp_score_from_sums,
)
