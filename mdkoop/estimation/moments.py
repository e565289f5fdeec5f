"""Streaming float64 moments of instantaneous and time-lagged features.

The accumulator keeps weighted means and *mean-free* co-moment matrices and
merges batches with the pairwise update of Chan et al. (numerically stable,
independent of batch order up to round-off). Features are the learned
functions (n, k-1) without the constant; the constant is handled by the mean
(deeptime's ``remove_data_mean`` convention). :meth:`MomentAccumulator.uncentered`
returns the equivalent uncentered moments of ``[1, features]`` if needed.
"""

from __future__ import annotations

import numpy as np

from mdkoop.errors import InputError

__all__ = ["MomentAccumulator", "as_2d"]


def as_2d(a, name: str) -> np.ndarray:
    """``a`` (array or tensor) as a float64 array of shape (T, k) (1-D -> one column), checked to be finite.

    Raises
    ------
    InputError
        Named by ``name``, for another shape or non-finite values.
    """
    try:
        import torch

        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputError(f"{name} must be a (n, k) feature array; got shape {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains NaN or infinite values; check the encoder outputs / input features.")
    return a


class MomentAccumulator:
    """Streaming weighted moments of pairs ``(x_t, x_{t+tau})`` in float64.

    Parameters
    ----------
    k : int, optional
        Feature dimension (checked against the data when given).

    Attributes
    ----------
    n : float
        Total weight (the number of pairs when unweighted).
    n_pairs : int
        Number of pairs seen.
    mean_x, mean_y : ndarray (k,)
        Weighted means of instantaneous / time-lagged features.
    cov_00, cov_0t, cov_tt : ndarray (k, k)
        Mean-free covariances ``E[(x-mu_x)(x-mu_x)^T]``, ``E[(x-mu_x)(y-mu_y)^T]``,
        ``E[(y-mu_y)(y-mu_y)^T]`` normalised by the total weight (no Bessel correction),
        i.e. deeptime's ``Covariance(remove_data_mean=True, bessels_correction=False)``.
    """

    def __init__(self, k: int | None = None):
        self.k = k
        self.n = 0.0
        self.n_pairs = 0
        self._mx = self._my = None
        self._Cxx = self._Cxy = self._Cyy = None

    def partial_fit(self, x, y, weights=None) -> MomentAccumulator:
        """Add a batch of pairs.

        Parameters
        ----------
        x, y : array-like (n, k) (numpy or torch)
            Instantaneous and time-lagged features of the same ``n`` pairs.
        weights : array-like (n,), optional
            Non-negative per-pair weights.

        Returns
        -------
        self
        """
        x, y = as_2d(x, "x (instantaneous features)"), as_2d(y, "y (time-lagged features)")
        if x.shape != y.shape:
            raise InputError(f"x and y must have the same shape; got {x.shape} and {y.shape}.")
        if self.k is None:
            self.k = x.shape[1]
        elif x.shape[1] != self.k:
            raise InputError(f"feature dimension changed from {self.k} to {x.shape[1]} between batches.")
        if x.shape[0] == 0:
            return self
        if weights is None:
            w = np.ones(x.shape[0])
        else:
            w = np.asarray(weights, dtype=np.float64).reshape(-1)
            if w.shape[0] != x.shape[0] or np.any(w < 0) or not np.all(np.isfinite(w)):
                raise InputError(f"weights must be {x.shape[0]} finite non-negative numbers (one per pair).")
        nb = w.sum()
        if nb <= 0:
            return self
        mx, my = w @ x / nb, w @ y / nb
        xc, yc = x - mx, y - my
        xw = xc * w[:, None]
        Cxx, Cxy, Cyy = xw.T @ xc, xw.T @ yc, (yc * w[:, None]).T @ yc
        if self._mx is None:
            self.n, self._mx, self._my, self._Cxx, self._Cxy, self._Cyy = nb, mx, my, Cxx, Cxy, Cyy
        else:
            na, n = self.n, self.n + nb
            dx, dy = mx - self._mx, my - self._my
            f = na * nb / n
            self._Cxx = self._Cxx + Cxx + f * np.outer(dx, dx)
            self._Cxy = self._Cxy + Cxy + f * np.outer(dx, dy)
            self._Cyy = self._Cyy + Cyy + f * np.outer(dy, dy)
            self._mx = self._mx + dx * nb / n
            self._my = self._my + dy * nb / n
            self.n = n
        self.n_pairs += x.shape[0]
        return self

    def _check(self):
        if self._mx is None:
            raise InputError("no data: call partial_fit with at least one non-empty batch of pairs first.")

    @property
    def mean_x(self) -> np.ndarray:
        self._check()
        return self._mx.copy()

    @property
    def mean_y(self) -> np.ndarray:
        self._check()
        return self._my.copy()

    @property
    def cov_00(self) -> np.ndarray:
        self._check()
        return self._Cxx / self.n

    @property
    def cov_0t(self) -> np.ndarray:
        self._check()
        return self._Cxy / self.n

    @property
    def cov_tt(self) -> np.ndarray:
        self._check()
        return self._Cyy / self.n

    def uncentered(self, constant: bool = True):
        """Uncentered second moments, optionally of ``[1, features]`` (constant in column 0).

        Returns
        -------
        M_00, M_0t, M_tt : ndarray (k+1, k+1) with ``constant`` (else (k, k))
            ``E[phi(x) phi(x)^T]``, ``E[phi(x) phi(y)^T]``, ``E[phi(y) phi(y)^T]``.
        """
        mx, my = self.mean_x, self.mean_y
        M00 = self.cov_00 + np.outer(mx, mx)
        M0t = self.cov_0t + np.outer(mx, my)
        Mtt = self.cov_tt + np.outer(my, my)
        if not constant:
            return M00, M0t, Mtt

        def pad(M, a, b):
            out = np.empty((M.shape[0] + 1, M.shape[1] + 1))
            out[0, 0], out[0, 1:], out[1:, 0], out[1:, 1:] = 1.0, b, a, M
            return out

        return pad(M00, mx, mx), pad(M0t, mx, my), pad(Mtt, my, my)

    def symmetrized(self):
        """Reversible (time-symmetrised) mean and covariances.

        Uses the mean ``mu = (mu_x + mu_y)/2`` and
        ``C0 = (E[x x^T] + E[y y^T])/2 - mu mu^T``, ``Ct = (E[x y^T] + E[y x^T])/2 - mu mu^T``
        (deeptime's ``Covariance(reversible=True)`` convention).

        Returns
        -------
        mean : ndarray (k,)
        C0, Ct : ndarray (k, k), symmetric
        """
        M00, M0t, Mtt = self.uncentered(constant=False)
        mu = 0.5 * (self.mean_x + self.mean_y)
        C0 = 0.5 * (M00 + Mtt) - np.outer(mu, mu)
        Ct = 0.5 * (M0t + M0t.T) - np.outer(mu, mu)
        return mu, 0.5 * (C0 + C0.T), Ct

    def to_deeptime(self, lagtime: int | None = None, reversible: bool = False):
        """The moments as a ``deeptime.covariance.CovarianceModel`` (mean-free, no Bessel correction).

        Parameters
        ----------
        lagtime : int, optional
            Lag time in frames.
        reversible : bool
            Use the symmetrised estimate (:meth:`symmetrized`).
        """
        from deeptime.covariance import CovarianceModel

        if reversible:
            mu, C0, Ct = self.symmetrized()
            return CovarianceModel(cov_00=C0, cov_0t=Ct, cov_tt=C0, mean_0=mu, mean_t=mu, bessels_correction=False,
                                   symmetrized=True, lagtime=lagtime, data_mean_removed=True)
        return CovarianceModel(cov_00=self.cov_00, cov_0t=self.cov_0t, cov_tt=self.cov_tt, mean_0=self.mean_x,
                               mean_t=self.mean_y, bessels_correction=False, lagtime=lagtime, data_mean_removed=True)
