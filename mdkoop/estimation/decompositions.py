"""Linear decompositions of feature covariances (pure numpy, float64).

All functions take *mean-free* covariances of the learned features (the
constant function is handled by the means, as in deeptime's VAMP/TICA with
``remove_data_mean=True``). With the constant included explicitly as
``phi = [1, f]`` and uncentered moments, the same results come out plus the
trivial pair ``sigma_0 = lambda_0 = 1`` (constant singular/eigen function):
mean removal is exactly the Gram-Schmidt orthogonalisation of ``f`` against
the constant, so the constant pair decouples. It is therefore never listed.

Coefficient convention: a function with coefficient vector ``c`` (k,) and
offset ``c0`` is ``h(x) = c0 + (f(x) - mu)^T c`` with ``mu`` the mean named by
each result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdkoop.errors import InputError

__all__ = [
    "inv_sqrt_split", "CCAResult", "EigenResult", "cca", "edmd", "reversible", "svd_koopman", "implied_timescales",
    "resolved_modes", "MIN_RESOLVED_VALUE",
]


def _sym(C: np.ndarray) -> np.ndarray:
    C = np.asarray(C, dtype=np.float64)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise InputError(f"expected a square covariance matrix; got shape {C.shape}.")
    if not np.all(np.isfinite(C)):
        raise InputError("covariance matrix contains NaN or infinite values; check the features.")
    return 0.5 * (C + C.T)


def inv_sqrt_split(C: np.ndarray, epsilon: float = 1e-6) -> np.ndarray:
    """Whitening matrix ``L`` with ``L L^T = C^+`` on the numerically non-singular part.

    Eigenvalues ``<= epsilon`` (or below ``|min eigenvalue|`` when ``C`` has
    negative round-off eigenvalues) are discarded, as in deeptime's
    ``spd_inv_split``.

    Parameters
    ----------
    C : ndarray (k, k)
        Symmetric positive semi-definite covariance.
    epsilon : float
        Eigenvalue cut-off.

    Returns
    -------
    L : ndarray (k, r), r = numerical rank
        Columns sorted by decreasing eigenvalue; ``L^T C L = I_r``.

    Raises
    ------
    InputError
        If all eigenvalues are below the cut-off (constant features).
    """
    s, V = np.linalg.eigh(_sym(C))
    order = np.argsort(s)[::-1]
    s, V = s[order], V[:, order]
    cut = max(epsilon, -s.min() + 1e-16) if s.min() < 0 else epsilon
    keep = np.abs(s) > cut
    if not np.any(keep):
        raise InputError(
            f"all feature variances are below epsilon={epsilon:g}: the features are (numerically) constant. "
            "Check the encoder outputs or lower epsilon."
        )
    return V[:, keep] / np.sqrt(s[keep])


@dataclass
class CCAResult:
    """Canonical correlation analysis of ``(f(x_t), f(x_{t+tau}))``.

    Attributes
    ----------
    singular_values : ndarray (r,)
        Descending, excluding the trivial ``sigma_0 = 1``.
    left : ndarray (k, r)
        Coefficients ``U`` of the left singular functions ``(f(x) - mean_0)^T U``.
    right : ndarray (k, r)
        Coefficients ``V`` of the right singular functions ``(f(y) - mean_t)^T V``.
    rank_0, rank_t : int
        Ranks of the instantaneous / time-lagged whitening.
    """

    singular_values: np.ndarray
    left: np.ndarray
    right: np.ndarray
    rank_0: int
    rank_t: int


def cca(cov_00: np.ndarray, cov_0t: np.ndarray, cov_tt: np.ndarray, epsilon: float = 1e-6) -> CCAResult:
    """Whitened SVD ``L0^T C0t Lt = A S B^T`` (singular functions of the Koopman operator).

    Parameters
    ----------
    cov_00, cov_0t, cov_tt : ndarray (k, k)
        Mean-free covariances.
    epsilon : float
        Eigenvalue cut-off of the whitening.

    Returns
    -------
    CCAResult
        ``U = L0 A``, ``V = Lt B`` (all ``min(r0, rt)`` components), unit
        variance and uncorrelated under the respective empirical distributions.
    """
    L0, Lt = inv_sqrt_split(cov_00, epsilon), inv_sqrt_split(cov_tt, epsilon)
    W = L0.T @ np.asarray(cov_0t, dtype=np.float64) @ Lt
    A, s, BT = np.linalg.svd(W, full_matrices=False)
    return CCAResult(singular_values=s, left=L0 @ A, right=Lt @ BT.T, rank_0=L0.shape[1], rank_t=Lt.shape[1])


@dataclass
class EigenResult:
    """Eigen-decomposition of a Koopman matrix on learned features.

    Attributes
    ----------
    eigenvalues : ndarray (r,)
        Sorted by decreasing modulus, excluding the trivial ``lambda_0 = 1``;
        complex (conjugate pairs adjacent, positive imaginary part first)
        unless real.
    right : ndarray (k, r)
        Coefficients of the Koopman (right) eigenfunctions
        ``psi_i(x) = right_offset_i + (f(x) - mean)^T right[:, i]``, unit
        variance under the instantaneous distribution.
    right_offset : ndarray (r,)
        Constant parts of the right eigenfunctions (zero for equilibrium /
        reversible estimates; needed when the marginals at t and t+tau differ).
    left : ndarray (k, r)
        Coefficients of the left eigenfunctions (eigenfunctions of the adjoint,
        i.e. densities relative to the instantaneous distribution).
    mean : ndarray (k,)
        The mean used for centring.
    """

    eigenvalues: np.ndarray
    right: np.ndarray
    right_offset: np.ndarray
    left: np.ndarray
    mean: np.ndarray


def _sort_spectrum(lam: np.ndarray, Q: np.ndarray):
    order = np.lexsort((-lam.imag, -np.round(np.abs(lam), 12)))
    lam, Q = lam[order], Q[:, order]
    if np.all(np.abs(lam.imag) <= 1e-12 * np.maximum(1.0, np.abs(lam))):
        lam, Q = lam.real.copy(), Q.real.copy()
    return lam, Q


def edmd(cov_00: np.ndarray, cov_0t: np.ndarray, mean_0: np.ndarray, mean_t: np.ndarray,
         epsilon: float = 1e-6) -> EigenResult:
    """EDMD on the learned features plus the constant.

    With ``phi = [1, f - mean_0]`` the least-squares Koopman matrix
    ``K = E[phi phi^T]^+ E[phi(x) phi(y)^T]`` is block upper-triangular,
    ``[[1, (mean_t - mean_0)^T], [0, C00^+ C0t]]``: the constant is the exact
    eigenfunction with ``lambda_0 = 1`` and the remaining eigenvalues are those
    of ``C00^+ C0t``, computed here in whitened coordinates ``L0^T C0t L0``.

    Parameters
    ----------
    cov_00, cov_0t : ndarray (k, k)
        Mean-free instantaneous and time-lagged covariances.
    mean_0, mean_t : ndarray (k,)
        Feature means over the instantaneous and the time-lagged frames.
    epsilon : float
        Eigenvalue cut-off of the whitening.

    Returns
    -------
    EigenResult
    """
    mean_0 = np.asarray(mean_0, dtype=np.float64)
    mean_t = np.asarray(mean_t, dtype=np.float64)
    L0 = inv_sqrt_split(cov_00, epsilon)
    Kw = L0.T @ np.asarray(cov_0t, dtype=np.float64) @ L0
    lam, Q = np.linalg.eig(Kw)
    lam, Q = _sort_spectrum(lam, Q)
    Q = Q / np.linalg.norm(Q, axis=0)
    right = L0 @ Q
    # constant part from the first row of K: c0 + (mean_t - mean_0)^T c = lam c0
    denom = lam - 1.0
    small = np.abs(denom) < 1e-12
    offset = np.where(small, 0.0, ((mean_t - mean_0) @ right) / np.where(small, 1.0, denom))
    try:
        left = L0 @ np.linalg.inv(Q).T
    except np.linalg.LinAlgError:
        left = L0 @ np.linalg.pinv(Q).T
    return EigenResult(eigenvalues=lam, right=right, right_offset=offset, left=left, mean=mean_0)


def reversible(mean: np.ndarray, cov_0: np.ndarray, cov_t: np.ndarray, epsilon: float = 1e-6) -> EigenResult:
    """Reversible (time-symmetrised) Koopman estimate for equilibrium MD.

    Solves the symmetric generalised eigenproblem ``C_t c = lambda C_0 c`` with
    symmetrised covariances (see :meth:`MomentAccumulator.symmetrized`); the
    eigenvalues are real and equal the singular values up to sign; left and
    right eigenfunctions coincide.

    Parameters
    ----------
    mean : ndarray (k,)
        Symmetrised mean ``(mean_0 + mean_t) / 2``.
    cov_0, cov_t : ndarray (k, k)
        Symmetrised instantaneous and time-lagged covariances.
    epsilon : float

    Returns
    -------
    EigenResult
        Real eigenvalues sorted by decreasing modulus; ``right == left``; zero offsets.
    """
    L = inv_sqrt_split(cov_0, epsilon)
    Kw = _sym(L.T @ np.asarray(cov_t, dtype=np.float64) @ L)
    lam, Q = np.linalg.eigh(Kw)
    order = np.argsort(-np.abs(lam), kind="stable")
    lam, Q = lam[order], Q[:, order]
    right = L @ Q
    return EigenResult(eigenvalues=lam, right=right, right_offset=np.zeros(lam.shape[0]), left=right.copy(),
                       mean=np.asarray(mean, dtype=np.float64))


def svd_koopman(svd: CCAResult, cov_gf_t: np.ndarray, mean_f_t: np.ndarray, mean_f_0: np.ndarray) -> EigenResult:
    """Eigen-decomposition of the rank-r Koopman operator given by its learned SVD (two lobes).

    With singular functions ``u_i = (f - mean_f_0)^T U_i`` (left lobe ``f``),
    ``v_i = (g - mean_g_t)^T V_i`` (right lobe ``g``) and the constant pair,
    ``K = 1 (x) 1 + sum_i sigma_i u_i (x) v_i`` (adjoint w.r.t. the time-lagged
    distribution ``rho_1``). On the basis ``[1, u]`` its matrix is
    ``[[1, E_rho1 u^T], [0, diag(sigma) V^T C_gf U]]`` with
    ``C_gf = Cov_rho1(g, f)``: ``v`` is mean-free under ``rho_1``, so the
    constant decouples exactly again. This "EDMD in the learned singular basis"
    is what the non-reversible (e.g. logistic-map) estimates need: plain EDMD on
    one lobe ignores the other lobe and the singular values.

    Parameters
    ----------
    svd : CCAResult
        CCA of ``(f(x_t), g(x_{t+tau}))``.
    cov_gf_t : ndarray (k, k)
        ``Cov(g(y), f(y))`` over the time-lagged frames ``y`` (mean-free).
    mean_f_t : ndarray (k,)
        Mean of the *left* lobe over the time-lagged frames.
    mean_f_0 : ndarray (k,)
        Mean of the left lobe over the instantaneous frames (the centring of ``u``).

    Returns
    -------
    EigenResult
        Coefficients act on the left-lobe features ``f`` (mean ``mean_f_0``).
    """
    s, U, V = svd.singular_values, svd.left, svd.right
    r = min(U.shape[1], V.shape[1], s.shape[0])
    s, U, V = s[:r], U[:, :r], V[:, :r]
    A = s[:, None] * (V.T @ np.asarray(cov_gf_t, dtype=np.float64) @ U)
    lam, Q = np.linalg.eig(A)
    lam, Q = _sort_spectrum(lam, Q)
    Q = Q / np.linalg.norm(Q, axis=0)
    m = U.T @ (np.asarray(mean_f_t, dtype=np.float64) - np.asarray(mean_f_0, dtype=np.float64))
    denom = lam - 1.0
    small = np.abs(denom) < 1e-12
    offset = np.where(small, 0.0, (m @ Q) / np.where(small, 1.0, denom))
    try:
        left = U @ np.linalg.inv(Q).T
    except np.linalg.LinAlgError:
        left = U @ np.linalg.pinv(Q).T
    return EigenResult(eigenvalues=lam, right=U @ Q, right_offset=offset, left=left,
                       mean=np.asarray(mean_f_0, dtype=np.float64))


def implied_timescales(eigenvalues: np.ndarray, lagtime: float, timestep: float = 1.0) -> np.ndarray:
    """Implied timescales ``t_i = -lagtime * timestep / ln|lambda_i|``.

    Parameters
    ----------
    eigenvalues : array-like (r,), real or complex
        Non-trivial eigenvalues (the constant's 1 excluded).
    lagtime : float
        Lag time in frames.
    timestep : float
        Time between frames (e.g. ps); the result is in these units.

    Returns
    -------
    ndarray (r,) float64
        ``inf`` for ``|lambda| >= 1``, ``0`` for ``lambda = 0``.
    """
    a = np.abs(np.asarray(eigenvalues))
    if lagtime <= 0 or timestep <= 0:
        raise InputError(f"lagtime and timestep must be positive; got lagtime={lagtime}, timestep={timestep}.")
    with np.errstate(divide="ignore"):
        ln = np.log(np.minimum(a, 1.0))
        out = np.where(a >= 1.0, np.inf, np.where(a <= 0.0, 0.0, -float(lagtime) * float(timestep) / np.where(ln == 0, -1.0, ln)))
    return out.astype(np.float64)


#: singular or eigen values below this are "near zero": their functions carry no resolved process
MIN_RESOLVED_VALUE = 0.05


def resolved_modes(values: np.ndarray, timescales: np.ndarray, lagtime: float) -> np.ndarray:
    """Which modes describe a resolved process: implied timescale above the lag, value clearly above zero.

    A process faster than the lag has decayed by more than ``1/e`` within one lag (``|lambda| < e^-1``): the
    model cannot resolve it, and its timescale is an artefact of the lag. A singular or eigen value near zero
    (below :data:`MIN_RESOLVED_VALUE`) means the function is uncorrelated over the lag: it is noise, not a CV.

    Parameters
    ----------
    values : array-like (r,), float or complex
        Singular values or eigenvalues of the learned modes (the constant excluded), slowest first.
    timescales : array-like (r,), float
        Their implied timescales, in the units of ``lagtime``.
    lagtime : float
        The lag, in the same units as ``timescales``.

    Returns
    -------
    ndarray (r,) bool
    """
    v = np.abs(np.asarray(values))
    t = np.asarray(timescales, dtype=np.float64)
    if v.shape != t.shape:
        raise InputError(f"values {v.shape} and timescales {t.shape} must have the same shape.")
    return (t > float(lagtime)) & (v >= MIN_RESOLVED_VALUE)
