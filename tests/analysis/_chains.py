"""Exactly solvable test data for the analysis tests: a reversible 4-state Markov chain."""

from __future__ import annotations

import numpy as np

#: Reversible (birth-death) chain with two metastable pairs {0,1} and {2,3}.
P4 = np.array(
    [
        [0.97, 0.03, 0.00, 0.00],
        [0.02, 0.96, 0.02, 0.00],
        [0.00, 0.02, 0.96, 0.02],
        [0.00, 0.00, 0.03, 0.97],
    ]
)


def exact_timescales(P: np.ndarray = P4, timestep_ps: float = 1.0) -> np.ndarray:
    """-dt / ln(lambda_i) for the non-unit eigenvalues of P, descending (ps)."""
    ev = np.sort(np.real(np.linalg.eigvals(P)))[::-1][1:]
    return -timestep_ps / np.log(ev)


def simulate(n_traj: int = 4, n_steps: int = 5000, P: np.ndarray = P4, seed: int = 0) -> list[np.ndarray]:
    """Discrete trajectories of the chain, int arrays (n_steps,), deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    cum = np.cumsum(P, axis=1)
    out = []
    for _ in range(n_traj):
        u = rng.random(n_steps)
        x = np.empty(n_steps, dtype=np.int64)
        x[0] = rng.integers(len(P))
        for t in range(1, n_steps):
            x[t] = min(int(np.searchsorted(cum[x[t - 1]], u[t], side="right")), len(P) - 1)
        out.append(x)
    return out


def indicator_features(dtrajs: list[np.ndarray], n_states: int = 4) -> list[np.ndarray]:
    """Indicators of the first n_states - 1 states: with the constant they span all functions of the state."""
    eye = np.eye(n_states)
    return [eye[d][:, : n_states - 1] for d in dtrajs]


def noisy_positions(dtrajs: list[np.ndarray], noise: float = 0.05, seed: int = 0) -> list[np.ndarray]:
    """2-D points near the state's centre (states on a line at x = 0, 1, 2, 3)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    return [centres[d] + noise * rng.standard_normal((len(d), 2)) for d in dtrajs]
