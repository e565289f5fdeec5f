"""Nested LoRA (Jeong et al., NeurIPS 2025): ``L = -2 tr T[f, g] + tr(M[f] M[g])`` from second moments only.

No matrix inverse or SVD. Notation, the constant column and the moment sums: :mod:`mdkoop.objectives.moments`.
Joint nesting weights every prefix of modes (:func:`~mdkoop.objectives.moments.nesting_weights`); sequential
nesting stops the gradient of each mode's cross terms through the earlier modes.
"""

from __future__ import annotations

import torch
from torch import nn

from mdkoop.errors import ConfigError, InputError
from mdkoop.objectives.distributed import auto_reducer
from mdkoop.objectives.moments import (
    Reducer,
    add_constant,
    check_nesting,
    check_pair,
    joint_masks,
    moment_sums,
)

__all__ = ["lora_from_sums", "lora_from_moments", "lora_loss", "LoRALoss"]


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
        Output of :func:`~mdkoop.objectives.moments.moment_sums` (after an optional all-reduce).
    nesting : {"joint", "sequential", "none"}
    unbiased : bool
    constant : bool
        Whether column 0 is the constant function.

    Returns
    -------
    torch.Tensor, scalar
    """
    check_nesting(nesting)
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
        From :func:`~mdkoop.objectives.moments.second_moments`.
    nesting : {"joint", "sequential", "none"}
    constant : bool

    Returns
    -------
    torch.Tensor, scalar
    """
    check_nesting(nesting)
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
        gradient bias at O(B k) extra work. Default False: its extra cost on the loss step is above the
        20% threshold for making it the default (``benchmarks/bench_objectives.py``; figures in
        ``benchmarks/RESULTS.md``).
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


class LoRALoss(nn.Module):
    """Nested LoRA loss (Jeong et al., NeurIPS 2025).

    Parameters
    ----------
    nesting : {"joint", "sequential", "none"}
    unbiased : bool
        U-statistic estimate of the quadratic term (unbiased gradients; default False,
        see :func:`lora_loss` for the measured cost).
    n_learned : int, optional
        Number of learned functions (k-1); required with ``learn_singular_values``.
    learn_singular_values : bool
        Learn positive singular values ``s_i = softplus(theta_i)``; the encoder
        outputs are then normalised singular functions.
    distributed : {"auto", "off"}
        All-reduce moment sums under ``torch.distributed``.
    """

    def __init__(self, nesting: str = "joint", unbiased: bool = False, n_learned: int | None = None,
                 learn_singular_values: bool = False, distributed: str = "auto"):
        super().__init__()
        check_nesting(nesting)
        self.nesting = nesting
        self.unbiased = bool(unbiased)
        self._reduce = auto_reducer(distributed)
        if learn_singular_values:
            if not n_learned or n_learned < 1:
                raise ConfigError("learn_singular_values=True needs n_learned (the number of learned functions, k-1).")
            # initial singular values descending in (0, 1)
            init = torch.linspace(0.9, 0.1, n_learned)
            self.raw_singular_values = nn.Parameter(torch.log(torch.expm1(init)))
        else:
            self.register_parameter("raw_singular_values", None)

    @property
    def singular_values(self) -> torch.Tensor | None:
        """Learned singular values (k-1,) or None."""
        if self.raw_singular_values is None:
            return None
        return nn.functional.softplus(self.raw_singular_values)

    def forward(self, f: torch.Tensor, g: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of a batch; ``f``, ``g`` (B, k-1), ``weights`` (B,) optional. Returns a scalar."""
        return lora_loss(f, g, nesting=self.nesting, unbiased=self.unbiased, weights=weights,
                           singular_values=self.singular_values, reduce=self._reduce)
