"""Pure torch functions of the objectives: moments, nested LoRA, VAMP and DPNet.

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

__all__ = [
    "NESTINGS",
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

NESTINGS = ("joint", "sequential", "none")

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


# ----------------------------------------------------------------------------- VAMP / DPNet
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
