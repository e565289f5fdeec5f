"""Known answer 4: overdamped Langevin dynamics in deeptime's 1D four-well Prinz potential (kT = 1).

The system (potential, SqRA generator spectrum, simulation, reference MSM) is :mod:`mdkoop.systems.prinz`.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from mdkoop.nn.mlp import MLPEncoder
from mdkoop.systems import prinz
from mdkoop.systems.prinz import DT_FRAME, generator_eigenvalues
from mdkoop.testing import fit_pairs, linear_model

EXACT = prinz.PAPER_EIGENVALUES  # 0, -1.199, -7.889, -15.36, -82.08
LAG = 10  # frames -> tau = 0.05


def test_fine_grid_generator_eigenvalues_match_the_paper():
    lam = generator_eigenvalues()
    np.testing.assert_allclose(lam[:5], EXACT, rtol=2e-3, atol=1e-3)


@functools.lru_cache(maxsize=1)
def prinz_trajectory(n_frames=120_000, seed=11) -> np.ndarray:
    """:func:`mdkoop.systems.prinz.simulate`, cached read-only: shared between tests."""
    traj = prinz.simulate(n_frames, seed=seed)
    traj.setflags(write=False)
    return traj


def msm_timescales(traj, k=3, n_bins=150) -> np.ndarray:
    """Leading ``k`` implied timescales (time units) of the fine-grid reference MSM at lag ``LAG``."""
    return prinz.msm_timescales(traj, lag=LAG, k=k, n_bins=n_bins, dt=DT_FRAME)


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
