"""Known answer 4: overdamped Langevin dynamics in deeptime's 1D four-well Prinz potential (kT = 1)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from mdkoop.nn.mlp import MLPEncoder
from tests.objectives._fit import fit_pairs, linear_model

EXACT = np.array([0.0, -1.199, -7.889, -15.36, -82.08])
DT_FRAME = 0.005  # time between saved frames (n_steps * h)
LAG = 10          # frames -> tau = 0.05


def _potential(x):
    return 4 * (x ** 8 + 0.8 * np.exp(-80 * x ** 2) + 0.2 * np.exp(-80 * (x - 0.5) ** 2) + 0.5 * np.exp(-40 * (x + 0.5) ** 2))


def generator_eigenvalues(n=2000, lo=-1.3, hi=1.3, kT=1.0):
    """Eigenvalues of L = -V' d/dx + kT d^2/dx^2 from the square-root approximation on a fine grid (SqRA)."""
    from scipy.sparse import diags
    from scipy.sparse.linalg import eigs

    x = np.linspace(lo, hi, n)
    h = x[1] - x[0]
    V = _potential(x) / kT
    up = kT / h ** 2 * np.exp(-(V[1:] - V[:-1]) / 2)    # rate i -> i+1
    down = kT / h ** 2 * np.exp(-(V[:-1] - V[1:]) / 2)  # rate i+1 -> i
    diag = -np.concatenate([up, [0.0]]) - np.concatenate([[0.0], down])
    Q = diags([diag, up, down], [0, 1, -1]).tocsc()
    lam = eigs(Q, k=6, sigma=0.1, which="LM", return_eigenvectors=False).real
    return np.sort(lam)[::-1]


def test_fine_grid_generator_eigenvalues_match_the_paper():
    lam = generator_eigenvalues()
    np.testing.assert_allclose(lam[:5], EXACT, rtol=2e-3, atol=1e-3)


@functools.lru_cache(maxsize=1)
def prinz_trajectory(n_frames=120_000, seed=11) -> np.ndarray:
    """Overdamped Langevin trajectory in the Prinz potential, (n_frames,) float64, frames every ``DT_FRAME``."""
    from deeptime.data import prinz_potential

    system = prinz_potential(h=1e-4, n_steps=50)  # frames every 0.005 time units
    traj = system.trajectory(np.array([[0.0]]), n_frames, seed=seed)[:, 0]
    traj.setflags(write=False)  # cached: shared between tests
    return traj


def msm_timescales(traj, k=3, n_bins=150) -> np.ndarray:
    """Leading ``k`` implied timescales (time units) of a fine-grid reversible MSM at lag ``LAG`` on ``traj``."""
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import MaximumLikelihoodMSM

    edges = np.linspace(traj.min(), traj.max(), n_bins + 1)
    dtraj = np.clip(np.digitize(traj, edges) - 1, 0, n_bins - 1)
    counts = TransitionCountEstimator(LAG, "sliding").fit_fetch(dtraj).submodel_largest()
    msm = MaximumLikelihoodMSM(reversible=True).fit_fetch(counts)
    return msm.timescales(k) * DT_FRAME


@pytest.mark.slow
def test_learned_timescales_match_a_fine_msm_on_the_same_data():
    traj = prinz_trajectory()
    ref_ts = msm_timescales(traj)
    # the reference itself is close to the exact generator timescales (sanity of data and lag)
    np.testing.assert_allclose(ref_ts, -1 / EXACT[1:4], rtol=0.15)
    # learned: shared-lobe MLP, joint nested LoRA, reversible estimate
    torch.manual_seed(0)
    x = traj[:, None]
    enc = MLPEncoder(1, 4, hidden=(32, 32), activation="tanh").set_standardization(x)
    fit_pairs(enc, x[:-LAG], x[LAG:], epochs=8, batch_size=1000, lr=5e-3, nesting="joint")
    model = linear_model(enc, x[:-LAG], x[LAG:], LAG, timestep=DT_FRAME, reversible=True)
    ts = model.timescales(3)
    np.testing.assert_allclose(ts, ref_ts, rtol=0.05)
