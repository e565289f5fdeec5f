"""The noisy logistic map ``x' = 4 x (1 - x) + xi  (mod 1)`` with the cos^N noise kernel, N = 20.

The noise density on [-1/2, 1/2) is proportional to ``cos(pi u)^N``; its Fourier series is finite,

    p(y | x) = sum_{|m| <= N/2} a_m exp(2 pi i m (y - F(x))),   a_m = C(N, m + N/2) / C(N, N/2),

so the transition kernel has rank N + 1 = 21 and its Koopman eigenvalues and singular values
are those of small matrices (computed here with Gauss-Legendre / trapezoid quadrature). The
dynamics is not reversible: left and right singular functions differ and eigenvalues are complex.

The state space is the unit circle [0, 1); there is no physical unit. One step of the map is one
(dimensionless) time unit.

Examples
--------
>>> import numpy as np
>>> from mdkoop.systems import logistic_map as lm
>>> lam = lm.exact_eigenvalues()              # complex, by decreasing modulus, lam[0] == 1
>>> x, xp = lm.sample_pairs(1000, np.random.default_rng(0))
>>> lm.fourier_features(x).shape
(1000, 20)
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import comb

from mdkoop.errors import InputError
from mdkoop.systems._checks import positive_int

__all__ = [
    "N",
    "logistic",
    "noise_coefficients",
    "exact_eigenvalues",
    "exact_singular_values",
    "sample_pairs",
    "fourier_features",
]

#: Exponent of the cos^N noise kernel.
N = 20


def logistic(x: np.ndarray) -> np.ndarray:
    """The deterministic part ``F(x) = 4 x (1 - x)``.

    Parameters
    ----------
    x : ndarray of float, any shape
        Points of [0, 1].

    Returns
    -------
    ndarray of float, same shape
    """
    x = np.asarray(x, dtype=np.float64)
    return 4.0 * x * (1.0 - x)


def noise_coefficients(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """Fourier coefficients of the normalised cos^n noise density on [-1/2, 1/2).

    Parameters
    ----------
    n : int
        Even kernel exponent (default :data:`N` = 20).

    Returns
    -------
    m : ndarray of int64, shape (n + 1,)
        Frequencies -n/2 .. n/2.
    a : ndarray of float64, shape (n + 1,)
        ``a_m = C(n, m + n/2) / C(n, n/2)`` (so ``a_0 = 1``: the density integrates to one).
    """
    n = positive_int(n, "n (the cos^n kernel exponent)", 2)
    if n % 2:
        raise InputError(f"n (the cos^n kernel exponent) must be even, got {n}; use e.g. n={n + 1}.")
    m = np.arange(-n // 2, n // 2 + 1)
    return m, comb(n, m + n // 2) / comb(n, n // 2)


@functools.lru_cache(maxsize=4)
def _quadrature(n_quad: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (cached: leggauss is O(n^2) and costly for n = 2000)."""
    xg, wg = np.polynomial.legendre.leggauss(n_quad)
    x, w = 0.5 * (xg + 1.0), 0.5 * wg
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def exact_eigenvalues(n: int = N, n_quad: int = 2000) -> np.ndarray:
    """Koopman eigenvalues of the finite-rank noisy logistic map, by decreasing modulus.

    In the Fourier basis the transfer matrix is
    ``G[m, m'] = a_m int_0^1 exp(2 pi i (m y - m' F(y))) dy``; its eigenvalues are the
    non-zero eigenvalues of the Koopman operator (they do not depend on any measure).

    Parameters
    ----------
    n : int
        Even kernel exponent (default 20).
    n_quad : int
        Gauss-Legendre points on [0, 1] (2000 resolves the oscillatory integrands to ~1e-12).

    Returns
    -------
    ndarray of complex128, shape (n + 1,)
        Eigenvalues sorted by decreasing modulus; the first is 1 (the constant function).
        For n = 20 the leading non-trivial pair is ``-0.1933 +- 0.1909i``.
    """
    m, a = noise_coefficients(n)
    y, w = _quadrature(positive_int(n_quad, "n_quad", 10))
    G = a[:, None] * ((w * np.exp(2j * np.pi * m[:, None] * y[None, :])) @ np.exp(-2j * np.pi * logistic(y)[:, None] * m[None, :]))
    lam = np.linalg.eigvals(G)
    return lam[np.argsort(-np.abs(lam), kind="stable")]


def _output_density(y: np.ndarray, m: np.ndarray, a: np.ndarray, n_quad: int) -> np.ndarray:
    """Density of x' = F(x) + xi (mod 1) for x ~ U[0, 1), evaluated at ``y``."""
    x, w = _quadrature(n_quad)
    c = w @ np.exp(-2j * np.pi * logistic(x)[:, None] * m[None, :])  # (n+1,): int_0^1 exp(-2 pi i m F(x)) dx
    return np.real(np.exp(2j * np.pi * y[:, None] * m[None, :]) @ (a * c))


def exact_singular_values(k: int | None = None, n: int = N, n_quad: int = 2000, n_grid: int = 4096) -> np.ndarray:
    """Singular values of the Koopman operator for pairs ``x ~ U[0, 1)``, ``x' = F(x) + xi mod 1``.

    These are the canonical correlations between functions of ``x`` (uniform) and functions of ``x'``
    (distributed as :func:`sample_pairs` draws them), i.e. what CCA on the pairs of
    :func:`sample_pairs` estimates. The kernel ``p(y|x) / sqrt(rho'(y))`` has rank n + 1, so its
    singular values are those of an (n+1) x (n+1) matrix built by quadrature (Gauss-Legendre in x,
    trapezoid on the periodic y grid: spectrally accurate).

    Parameters
    ----------
    k : int, optional
        How many to return; default all ``n`` non-trivial ones.
    n : int
        Even kernel exponent (default 20).
    n_quad : int
        Gauss-Legendre points in x.
    n_grid : int
        Trapezoid points in y.

    Returns
    -------
    ndarray of float64, shape (k,)
        Non-trivial singular values, decreasing (the trivial 1 of the constant functions is excluded,
        as in :func:`mdkoop.estimation.cca`). For n = 20: 0.9296, 0.8820, 0.6987, 0.6426, ...
    """
    m, a = noise_coefficients(n)
    n_quad = positive_int(n_quad, "n_quad", 10)
    x, wx = _quadrature(n_quad)
    y = np.arange(positive_int(n_grid, "n_grid", 10)) / n_grid
    rho = _output_density(y, m, a, n_quad)
    if np.any(rho <= 0):  # cannot happen for the cos^n kernel; guards a wrong quadrature size
        raise InputError(f"the output density is not positive on the grid; increase n_quad (got {n_quad}).")
    # K(x, y) = sum_m phi_m(x) psi_m(y), weighted by the square roots of the quadrature weights
    phi = np.sqrt(wx)[:, None] * a[None, :] * np.exp(-2j * np.pi * logistic(x)[:, None] * m[None, :])
    psi = np.exp(2j * np.pi * y[:, None] * m[None, :]) / np.sqrt(rho * n_grid)[:, None]
    _, r1 = np.linalg.qr(phi)
    _, r2 = np.linalg.qr(psi)
    s = np.linalg.svd(r1 @ r2.T, compute_uv=False)
    s = s[1:]  # s[0] == 1: the constant functions
    if k is None:
        return s
    k = positive_int(k, "k (number of singular values)")
    if k > s.size:
        raise InputError(f"k={k} but the rank-{n + 1} kernel has only {s.size} non-trivial singular values; use k <= {s.size}.")
    return s[:k]


def sample_pairs(n: int, rng: np.random.Generator | int | None = None, n_kernel: int = N) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` independent pairs ``(x, x')`` with ``x ~ U[0, 1)`` and ``x' = F(x) + xi mod 1``.

    The noise ``xi`` on [-1/2, 1/2) with density proportional to ``cos(pi u)^n_kernel`` is drawn by
    rejection sampling.

    Parameters
    ----------
    n : int
        Number of pairs.
    rng : numpy.random.Generator or int or None
        Random generator (or seed).
    n_kernel : int
        Kernel exponent (default 20).

    Returns
    -------
    x, x_next : ndarray of float64, shape (n,)
        Points of [0, 1).
    """
    n = positive_int(n, "n (number of pairs)")
    rng = np.random.default_rng(rng)
    x = rng.uniform(size=n)
    xi = np.empty(0)
    while xi.size < n:
        u = rng.uniform(-0.5, 0.5, 2 * n)
        xi = np.concatenate([xi, u[rng.uniform(size=2 * n) < np.cos(np.pi * u) ** n_kernel]])
    return x, np.mod(logistic(x) + xi[:n], 1.0)


def fourier_features(x: np.ndarray, n_freq: int = N // 2) -> np.ndarray:
    """Periodic embedding of points of [0, 1): ``cos(2 pi j x)`` then ``sin(2 pi j x)``, j = 1..n_freq.

    The default ``n_freq = 10`` is the kernel's bandwidth, so every eigenfunction of the operator's
    range is a linear function of these features plus a constant.

    Parameters
    ----------
    x : array_like of float, shape (n,)
    n_freq : int

    Returns
    -------
    ndarray of float64, shape (n, 2 * n_freq)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(f"x must be a 1D array of points in [0, 1), got shape {x.shape}; flatten it first.")
    j = np.arange(1, positive_int(n_freq, "n_freq") + 1)
    return np.concatenate([np.cos(2 * np.pi * j * x[:, None]), np.sin(2 * np.pi * j * x[:, None])], axis=1)
