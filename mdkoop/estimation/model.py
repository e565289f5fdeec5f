"""LinearKoopmanModel: the linear (post-training) Koopman model on learned features.

Pure numpy, float64, JSON-able. It is built from streaming moments of the
learned functions ``f(x_t)``, ``f(x_{t+tau})`` (shape (n, k-1), no constant),
and gives singular values/functions (CCA), eigenvalues/eigenfunctions (EDMD or
the reversible estimate), implied timescales, VAMP scores on other data, and a
deeptime ``CovarianceKoopmanModel``.

The constant function is handled by mean removal (deeptime's convention),
so ``singular_values`` and ``eigenvalues`` never contain the trivial 1, and
transforms never return the constant.
"""

from __future__ import annotations

import numpy as np

from mdkoop.errors import InputError, ModelFormatError
from mdkoop.estimation import decompositions as dec
from mdkoop.estimation.moments import MomentAccumulator, as_2d
from mdkoop.registry import parse_vamp_r

__all__ = ["LinearKoopmanModel", "vamp_score_from_coefficients"]

_FORMAT = "mdkoop.LinearKoopmanModel/1"


def vamp_score_from_coefficients(U: np.ndarray, V: np.ndarray, singular_values: np.ndarray,
                                 cov_00: np.ndarray, cov_0t: np.ndarray, cov_tt: np.ndarray, r="2",
                                 epsilon: float = 1e-6) -> float:
    """VAMP-r / VAMP-E score of singular functions ``U``, ``V`` on (test) covariances.

    Wu & Noé (2020), Eqs. (30) and (33), as in ``deeptime.decomposition.vamp_score``;
    the constant's contribution 1 is included.

    Parameters
    ----------
    U, V : ndarray (k, m)
        Left/right singular-function coefficients (mean-free convention).
    singular_values : ndarray (m,)
    cov_00, cov_0t, cov_tt : ndarray (k, k)
        Mean-free covariances of the data to score on.
    r : {1, 2, "E"} or float >= 1
    epsilon : float
        Cut-off of the inverse square roots.

    Returns
    -------
    float
    """
    key = parse_vamp_r(r, allow_real=True)
    if key == "E":
        K = np.diag(singular_values)
        score = np.trace(2.0 * K @ U.T @ cov_0t @ V - K @ U.T @ cov_00 @ U @ K @ V.T @ cov_tt @ V)
        return float(score + 1.0)
    rr = float(key)
    # whitening of the functions on these data: L^T (U^T C00 U) L = I on the non-singular part (the singular
    # values of L_f^T (U^T C0t V) L_g are those of the symmetric inverse square roots' product)
    try:
        A = dec.inv_sqrt_split(np.atleast_2d(U.T @ cov_00 @ U), epsilon).T
        C = dec.inv_sqrt_split(np.atleast_2d(V.T @ cov_tt @ V), epsilon)
    except InputError:  # the functions are constant on these data: only the constant's 1 is left
        return 1.0
    s = np.linalg.svd(A @ (U.T @ cov_0t @ V) @ C, compute_uv=False)
    return float(np.sum(s ** rr) + 1.0)


class LinearKoopmanModel:
    """Koopman model on learned features (singular and eigen decompositions).

    Parameters
    ----------
    mean_0, mean_t : ndarray (k,)
        Feature means over instantaneous / time-lagged frames.
    cov_00, cov_0t, cov_tt : ndarray (k, k)
        Mean-free covariances (no Bessel correction).
    lagtime : int
        Lag time in frames.
    timestep : float
        Time between frames (ps by mdkoop's convention); timescales are in these units.
    reversible : bool
        Use the time-symmetrised estimate (equilibrium MD, real spectrum; default).
        Otherwise CCA uses the raw covariances and eigenvalues come from EDMD.
    epsilon : float
        Whitening cut-off.
    n : float
        Total weight of the pairs (for metadata).

    Attributes
    ----------
    singular_values : ndarray (r,)
        Descending, trivial 1 excluded.
    eigenvalues : ndarray (r,)
        By decreasing modulus, trivial 1 excluded (real when reversible).
    """

    def __init__(self, mean_0, mean_t, cov_00, cov_0t, cov_tt, lagtime: int, timestep: float = 1.0,
                 reversible: bool = True, epsilon: float = 1e-6, n: float = 0.0):
        self.mean_0 = np.asarray(mean_0, dtype=np.float64).reshape(-1)
        self.mean_t = np.asarray(mean_t, dtype=np.float64).reshape(-1)
        self.cov_00 = np.asarray(cov_00, dtype=np.float64)
        self.cov_0t = np.asarray(cov_0t, dtype=np.float64)
        self.cov_tt = np.asarray(cov_tt, dtype=np.float64)
        k = self.mean_0.shape[0]
        for name, C in (("cov_00", self.cov_00), ("cov_0t", self.cov_0t), ("cov_tt", self.cov_tt)):
            if C.shape != (k, k):
                raise InputError(f"{name} must have shape ({k}, {k}); got {C.shape}.")
        if int(lagtime) != lagtime or lagtime < 1:
            raise InputError(f"lagtime must be a positive integer number of frames; got {lagtime!r}.")
        if not timestep > 0:
            raise InputError(f"timestep must be positive; got {timestep!r}.")
        self.lagtime = int(lagtime)
        self.timestep = float(timestep)
        self.reversible = bool(reversible)
        self.epsilon = float(epsilon)
        self.n = float(n)
        self._decompose()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_moments(cls, moments: MomentAccumulator, lagtime: int, timestep: float = 1.0, reversible: bool = True,
                     epsilon: float = 1e-6) -> LinearKoopmanModel:
        """Build from a filled :class:`MomentAccumulator`."""
        return cls(moments.mean_x, moments.mean_y, moments.cov_00, moments.cov_0t, moments.cov_tt, lagtime=lagtime,
                   timestep=timestep, reversible=reversible, epsilon=epsilon, n=moments.n)

    @classmethod
    def from_features(cls, x, y, lagtime: int, timestep: float = 1.0, reversible: bool = True,
                      epsilon: float = 1e-6, weights=None) -> LinearKoopmanModel:
        """Build from feature pairs ``x`` = f(x_t), ``y`` = f(x_{t+tau}), each (n, k)."""
        acc = MomentAccumulator().partial_fit(x, y, weights)
        return cls.from_moments(acc, lagtime, timestep=timestep, reversible=reversible, epsilon=epsilon)

    def _decompose(self):
        if self.reversible:
            M00 = self.cov_00 + np.outer(self.mean_0, self.mean_0)
            Mtt = self.cov_tt + np.outer(self.mean_t, self.mean_t)
            M0t = self.cov_0t + np.outer(self.mean_0, self.mean_t)
            mu = 0.5 * (self.mean_0 + self.mean_t)
            C0 = 0.5 * (M00 + Mtt) - np.outer(mu, mu)
            C0 = 0.5 * (C0 + C0.T)
            Ct = 0.5 * (M0t + M0t.T) - np.outer(mu, mu)
            self._mu0 = self._mut = mu
            self._C = (C0, Ct, C0)
            self._eig = dec.reversible(mu, C0, Ct, self.epsilon)
        else:
            self._mu0, self._mut = self.mean_0, self.mean_t
            self._C = (self.cov_00, self.cov_0t, self.cov_tt)
            self._eig = dec.edmd(self.cov_00, self.cov_0t, self.mean_0, self.mean_t, self.epsilon)
        self._cca = dec.cca(*self._C, epsilon=self.epsilon)

    # ------------------------------------------------------------------ spectra
    @property
    def n_features(self) -> int:
        """Number of learned input functions k."""
        return self.mean_0.shape[0]

    @property
    def singular_values(self) -> np.ndarray:
        """Singular values (r,), descending, trivial 1 excluded."""
        return self._cca.singular_values.copy()

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues (r,), by decreasing modulus, trivial 1 excluded."""
        return self._eig.eigenvalues.copy()

    @property
    def lagtime_time(self) -> float:
        """Lag time in time units (``lagtime * timestep``)."""
        return self.lagtime * self.timestep

    def timescales(self, k: int | None = None) -> np.ndarray:
        """Implied timescales ``-lagtime * timestep / ln|lambda_i|`` (k,), slowest first, constant excluded."""
        return dec.implied_timescales(self._eig.eigenvalues[:k], self.lagtime, self.timestep)

    # ------------------------------------------------------------------ transforms
    def _resolve(self, kind: str, side: str | None):
        if kind not in ("singular", "eigen"):
            raise InputError(f"kind must be 'singular' or 'eigen'; got {kind!r}.")
        if side is None:
            side = "left" if kind == "singular" else "right"
        if side not in ("left", "right"):
            raise InputError(f"side must be 'left' or 'right'; got {side!r}.")
        return side

    def linear_map(self, kind: str = "singular", k: int | None = None, side: str | None = None):
        """Affine map from learned features to singular or eigen functions.

        ``transform_features(F, kind, k, side) == F @ W + b``.

        Parameters
        ----------
        kind : {"singular", "eigen"}
        k : int, optional
            Number of functions (slowest first); default all.
        side : {"left", "right"}, optional
            ``singular``: left = functions of ``x_t`` (default), right = of ``x_{t+tau}``.
            ``eigen``: right = Koopman eigenfunctions (default; the usual CVs),
            left = eigenfunctions of the adjoint (transfer) operator.

        Returns
        -------
        W : ndarray (n_features, k) float64
        b : ndarray (k,) float64

        Notes
        -----
        Complex eigenvalues (possible only when ``reversible=False``) come in
        conjugate pairs; for such a pair the two columns are the real and the
        imaginary part of the eigenfunction of the eigenvalue with positive
        imaginary part (a real basis of the same invariant subspace), so W and
        b are always real. The reversible estimate has real eigenfunctions.
        """
        side = self._resolve(kind, side)
        if kind == "singular":
            C = self._cca.left if side == "left" else self._cca.right
            mu = self._mu0 if side == "left" else self._mut
            W = C.copy()
            b = -mu @ W
        else:
            e = self._eig
            C = e.right if side == "right" else e.left
            off = e.right_offset if side == "right" else np.zeros(C.shape[1])
            W, b = self._realify(C, off, e.eigenvalues)
            b = b - e.mean @ W
        if k is not None:
            if int(k) < 1 or int(k) > W.shape[1]:
                raise InputError(f"k must be between 1 and {W.shape[1]}; got {k}.")
            W, b = W[:, : int(k)], b[: int(k)]
        return np.ascontiguousarray(W, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64)

    @staticmethod
    def _realify(C, off, lam):
        if not np.iscomplexobj(C) and not np.iscomplexobj(lam):
            return np.real(C).astype(np.float64), np.real(off).astype(np.float64)
        W = np.empty(C.shape, dtype=np.float64)
        b = np.empty(C.shape[1], dtype=np.float64)
        i = 0
        while i < C.shape[1]:
            if abs(np.imag(lam[i])) > 1e-12 and i + 1 < C.shape[1]:
                W[:, i], W[:, i + 1] = C[:, i].real, C[:, i].imag
                b[i], b[i + 1] = np.real(off[i]), np.imag(off[i])
                i += 2
            else:
                W[:, i], b[i] = np.real(C[:, i]), np.real(off[i])
                i += 1
        return W, b

    def transform_features(self, F, kind: str = "singular", k: int | None = None,
                           side: str | None = None) -> np.ndarray:
        """Singular or eigen functions of learned features.

        Parameters
        ----------
        F : array-like (n, n_features)
            Learned functions of frames.
        kind, k, side
            See :meth:`linear_map`.

        Returns
        -------
        ndarray (n, k) float64
            Slowest first; the constant is never returned.
        """
        F = as_2d(F, "F (learned features)")
        if F.shape[1] != self.n_features:
            raise InputError(f"F must have {self.n_features} columns (the learned functions); got {F.shape[1]}.")
        W, b = self.linear_map(kind, k, side)
        return F @ W + b

    # ------------------------------------------------------------------ scores
    def score_features(self, F0, F1, r="2", epsilon: float = 1e-6, weights=None) -> float:
        """VAMP-r or VAMP-E score of this model on other feature pairs (e.g. test trajectories).

        Equals ``CovarianceKoopmanModel.score(r, test_model=VAMP().fit(test).fetch_model())``
        of deeptime (constant included).

        Parameters
        ----------
        F0, F1 : array-like (n, n_features)
            Features at ``x_t`` and ``x_{t+tau}`` of the test pairs.
        r : {1, 2, "E"}
        epsilon : float
        weights : array-like (n,), optional

        Returns
        -------
        float
        """
        acc = MomentAccumulator(self.n_features).partial_fit(F0, F1, weights)
        return self.score_moments(acc, r=r, epsilon=epsilon)

    def score_moments(self, moments: MomentAccumulator, r="2", epsilon: float = 1e-6) -> float:
        """Like :meth:`score_features` from a filled :class:`MomentAccumulator` (streaming test data)."""
        return vamp_score_from_coefficients(self._cca.left, self._cca.right, self._cca.singular_values[: self._dim()],
                                            moments.cov_00, moments.cov_0t, moments.cov_tt, r=r, epsilon=epsilon)

    def _dim(self) -> int:
        return self._cca.left.shape[1]

    # ------------------------------------------------------------------ deeptime
    def to_deeptime(self):
        """Convert to ``deeptime.decomposition.CovarianceKoopmanModel``.

        The model acts on the learned features (identity observables);
        ``lagtime`` is in frames. With ``reversible=True`` the covariances are
        the symmetrised ones, so deeptime's singular-value ``timescales()``
        equal :meth:`timescales` (in frames).

        Returns
        -------
        deeptime.decomposition.CovarianceKoopmanModel
        """
        from deeptime.covariance import CovarianceModel
        from deeptime.decomposition import CovarianceKoopmanModel

        C00, C0t, Ctt = self._C
        cov = CovarianceModel(cov_00=C00, cov_0t=C0t, cov_tt=Ctt, mean_0=self._mu0, mean_t=self._mut,
                              bessels_correction=False, symmetrized=self.reversible, lagtime=self.lagtime,
                              data_mean_removed=True)
        c = self._cca
        return CovarianceKoopmanModel(c.left, c.singular_values, c.right, cov=cov, rank_0=c.rank_0, rank_t=c.rank_t,
                                      dim=c.left.shape[1], epsilon=self.epsilon)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        """JSON-able dict (plain lists and numbers) from which :meth:`from_dict` rebuilds the model."""
        return {
            "format": _FORMAT,
            "mean_0": self.mean_0.tolist(),
            "mean_t": self.mean_t.tolist(),
            "cov_00": self.cov_00.tolist(),
            "cov_0t": self.cov_0t.tolist(),
            "cov_tt": self.cov_tt.tolist(),
            "lagtime": self.lagtime,
            "timestep": self.timestep,
            "reversible": self.reversible,
            "epsilon": self.epsilon,
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LinearKoopmanModel:
        """Rebuild from :meth:`to_dict` output."""
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ModelFormatError(
                f"not a LinearKoopmanModel dict (format {d.get('format') if isinstance(d, dict) else None!r}, "
                f"expected {_FORMAT!r}); the model file may be from another version or corrupted."
            )
        try:
            return cls(d["mean_0"], d["mean_t"], d["cov_00"], d["cov_0t"], d["cov_tt"], lagtime=d["lagtime"],
                       timestep=d["timestep"], reversible=d["reversible"], epsilon=d["epsilon"], n=d.get("n", 0.0))
        except KeyError as exc:
            raise ModelFormatError(f"LinearKoopmanModel dict lacks the field {exc}; the model file is incomplete.") from None

    def __repr__(self) -> str:
        return (f"LinearKoopmanModel(n_features={self.n_features}, lagtime={self.lagtime}, timestep={self.timestep}, "
                f"reversible={self.reversible}, singular_values={np.round(self.singular_values[:5], 4).tolist()})")
