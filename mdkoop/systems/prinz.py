"""Overdamped Langevin dynamics in the 1D four-well Prinz potential (kT = 1).

    V(x) = 4 (x^8 + 0.8 exp(-80 x^2) + 0.2 exp(-80 (x - 0.5)^2) + 0.5 exp(-40 (x + 0.5)^2))

the potential of :func:`deeptime.data.prinz_potential` (Prinz et al., J. Chem. Phys. 134, 174105, 2011).
The generator ``L = -V'(x) d/dx + kT d^2/dx^2`` (unit mass and friction) has eigenvalues
0, -1.199, -7.889, -15.36, -82.08 (the values of the nested-LoRA paper), computed here with the
square-root approximation (SqRA) on a fine grid; the implied timescales are ``t_i = -1 / lambda_i``.

Units: position and time are dimensionless (the potential's own units), not nm and ps.
:func:`simulate` saves a frame every :data:`DT_FRAME` = 0.005 time units; lags are given in frames.

Examples
--------
>>> from mdkoop.systems import prinz
>>> prinz.exact_timescales(3)                 # approx. [0.834, 0.1268, 0.0651] time units
>>> traj = prinz.simulate(120_000, seed=11)   # (120000,) float64, frames every 0.005
>>> prinz.msm_timescales(traj, lag=10, k=3)   # reference MSM at lag 0.05
"""

from __future__ import annotations

import numpy as np

from mdkoop.errors import InputError, LagError
from mdkoop.systems._checks import positive_int

__all__ = [
    "DT_FRAME",
    "PAPER_EIGENVALUES",
    "potential",
    "generator_eigenvalues",
    "exact_timescales",
    "simulate",
    "discretize",
    "msm_timescales",
]

#: Time between the frames written by :func:`simulate` (``n_steps * h`` = 50 * 1e-4), dimensionless.
DT_FRAME = 0.005
#: The leading generator eigenvalues quoted in the nested-LoRA paper (kT = 1).
PAPER_EIGENVALUES = np.array([0.0, -1.199, -7.889, -15.36, -82.08])


def potential(x: np.ndarray) -> np.ndarray:
    """The Prinz potential V(x) in units of kT.

    Parameters
    ----------
    x : array_like of float, any shape
        Positions (dimensionless).

    Returns
    -------
    ndarray of float64, same shape
    """
    x = np.asarray(x, dtype=np.float64)
    return 4 * (x ** 8 + 0.8 * np.exp(-80 * x ** 2) + 0.2 * np.exp(-80 * (x - 0.5) ** 2) + 0.5 * np.exp(-40 * (x + 0.5) ** 2))


def generator_eigenvalues(n: int = 2000, lo: float = -1.3, hi: float = 1.3, kT: float = 1.0, k: int = 6) -> np.ndarray:
    """Leading eigenvalues of the Langevin generator from the square-root approximation on a grid.

    SqRA: the rate from grid cell i to a neighbour j is ``kT / h^2 * exp(-(V_j - V_i) / (2 kT))``;
    the resulting tridiagonal rate matrix converges to the generator as the spacing h -> 0.

    Parameters
    ----------
    n : int
        Grid points on [lo, hi] (2000 gives the paper's values to < 0.2%).
    lo, hi : float
        Grid limits; the potential (x^8) confines the dynamics well inside [-1.3, 1.3].
    kT : float
        Thermal energy (1 in the paper and in :func:`simulate`).
    k : int
        Number of eigenvalues.

    Returns
    -------
    ndarray of float64, shape (k,)
        Eigenvalues (inverse time units), decreasing: 0, -1.199, -7.889, -15.36, -82.08, ...
    """
    from scipy.sparse import diags
    from scipy.sparse.linalg import eigs

    n = positive_int(n, "n (grid points)", 10)
    k = positive_int(k, "k (number of eigenvalues)")
    if k > n - 2:
        raise InputError(f"k={k} needs a grid of more than k + 2 points, got n={n}; increase n.")
    if not hi > lo or not kT > 0:
        raise InputError(f"need hi > lo and kT > 0, got lo={lo}, hi={hi}, kT={kT}.")
    x = np.linspace(lo, hi, n)
    h = x[1] - x[0]
    V = potential(x) / kT
    up = kT / h ** 2 * np.exp(-(V[1:] - V[:-1]) / 2)    # rate i -> i+1
    down = kT / h ** 2 * np.exp(-(V[:-1] - V[1:]) / 2)  # rate i+1 -> i
    diag = -np.concatenate([up, [0.0]]) - np.concatenate([[0.0], down])
    Q = diags([diag, up, down], [0, 1, -1]).tocsc()
    lam = eigs(Q, k=k, sigma=0.1, which="LM", return_eigenvectors=False).real
    return np.sort(lam)[::-1]


def exact_timescales(k: int = 3, **kwargs) -> np.ndarray:
    """The ``k`` slowest implied timescales ``-1 / lambda_i`` of the generator (i = 1..k).

    Parameters
    ----------
    k : int
        Number of timescales (the stationary eigenvalue 0 is skipped).
    **kwargs
        Passed to :func:`generator_eigenvalues` (``n``, ``lo``, ``hi``, ``kT``).

    Returns
    -------
    ndarray of float64, shape (k,)
        Timescales in (dimensionless) time units, decreasing: about 0.834, 0.127, 0.0651, 0.0122.
    """
    k = positive_int(k, "k (number of timescales)")
    lam = generator_eigenvalues(k=k + 1, **kwargs)
    return -1.0 / lam[1:k + 1]


def simulate(n_frames: int, seed: int = 0, x0: float = 0.0, h: float = 1e-4, n_steps: int = 50) -> np.ndarray:
    """One overdamped Langevin trajectory in the Prinz potential (kT = 1), with deeptime's integrator.

    Parameters
    ----------
    n_frames : int
        Number of saved frames.
    seed : int
        Random seed (same seed, same trajectory).
    x0 : float
        Starting position.
    h : float
        Integration time step (dimensionless).
    n_steps : int
        Integration steps between saved frames; frames are ``h * n_steps`` apart
        (default 0.005 = :data:`DT_FRAME`).

    Returns
    -------
    ndarray of float64, shape (n_frames,)
        Positions, frames ``h * n_steps`` time units apart.
    """
    from deeptime.data import prinz_potential

    n_frames = positive_int(n_frames, "n_frames", 2)
    n_steps = positive_int(n_steps, "n_steps")
    if not h > 0:
        raise InputError(f"h (integration step) must be > 0, got {h}.")
    system = prinz_potential(h=h, n_steps=n_steps)
    return np.ascontiguousarray(system.trajectory(np.array([[float(x0)]]), n_frames, seed=int(seed))[:, 0])


def discretize(traj: np.ndarray, n_bins: int = 150) -> np.ndarray:
    """Assign positions to ``n_bins`` equal-width bins spanning the trajectory's range.

    Parameters
    ----------
    traj : array_like of float, shape (n_frames,)
    n_bins : int

    Returns
    -------
    ndarray of int64, shape (n_frames,)
        Bin indices 0 .. n_bins - 1.
    """
    traj = np.asarray(traj, dtype=np.float64)
    if traj.ndim == 2 and traj.shape[1] == 1:
        traj = traj[:, 0]
    if traj.ndim != 1 or traj.size < 2 or not np.all(np.isfinite(traj)):
        raise InputError(f"traj must be a finite 1D array of positions (n_frames,), got shape {traj.shape}.")
    n_bins = positive_int(n_bins, "n_bins", 2)
    edges = np.linspace(traj.min(), traj.max(), n_bins + 1)
    return np.clip(np.digitize(traj, edges) - 1, 0, n_bins - 1).astype(np.int64)


def msm_timescales(traj: np.ndarray, lag: int = 10, k: int = 3, n_bins: int = 150, dt: float = DT_FRAME) -> np.ndarray:
    """Implied timescales of a fine-grid reversible MSM (deeptime) on a trajectory: the reference.

    Counts are sliding-window transitions at ``lag`` frames on the largest connected set; the MSM is
    deeptime's reversible maximum-likelihood estimate. Like every MSM it is lag-limited: at lag 0.05
    its timescales lie within ~10% of the exact ones (:func:`exact_timescales`), not closer.

    Parameters
    ----------
    traj : array_like of float, shape (n_frames,)
        Positions, frames ``dt`` apart (e.g. from :func:`simulate`).
    lag : int
        Lag time in frames.
    k : int
        Number of timescales.
    n_bins : int
        Equal-width bins over the trajectory's range.
    dt : float
        Time between frames (dimensionless time units).

    Returns
    -------
    ndarray of float64, shape (k,)
        Implied timescales in time units (``lag * dt / -ln|lambda_i|``), decreasing.
    """
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import MaximumLikelihoodMSM

    dtraj = discretize(traj, n_bins)
    lag = positive_int(lag, "lag (frames)")
    k = positive_int(k, "k (number of timescales)")
    if lag >= dtraj.size:
        raise LagError(f"lag={lag} frames leaves no pair in a trajectory of {dtraj.size} frames; use a shorter lag.")
    counts = TransitionCountEstimator(lag, "sliding").fit_fetch(dtraj).submodel_largest()
    if counts.n_states <= k:
        raise InputError(f"the MSM has only {counts.n_states} connected states, fewer than k + 1 = {k + 1}; "
                         "use more bins or a longer trajectory.")
    msm = MaximumLikelihoodMSM(reversible=True).fit_fetch(counts)
    return msm.timescales(k) * dt
