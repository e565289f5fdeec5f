"""Fixtures for the trainer tests: small real-ish data sets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

#: 3-state reversible Markov chain (detailed balance w.r.t. pi) used by the array tests
P3 = np.array([[0.990, 0.008, 0.002],
               [0.008, 0.984, 0.008],
               [0.002, 0.008, 0.990]])
CENTRES = np.array([[-2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])


def markov_chain_2d(n_traj=3, length=3000, seed=0, noise=0.35):
    """Trajectories of the 3-state chain ``P3`` embedded in 2-D with Gaussian noise.

    Returns ``(trajs, states)``: lists of (T, 2) float32 arrays and (T,) int state sequences.
    """
    rng = np.random.default_rng(seed)
    cum = np.cumsum(P3, 1)
    trajs, states = [], []
    for _ in range(n_traj):
        s = np.empty(length, dtype=np.int64)
        s[0] = rng.integers(3)
        u = rng.random(length)
        for t in range(1, length):
            s[t] = int(np.searchsorted(cum[s[t - 1]], u[t]))
        x = CENTRES[s] + noise * rng.standard_normal((length, 2))
        trajs.append(x.astype(np.float32))
        states.append(s)
    return trajs, states


@pytest.fixture(scope="session")
def chain_data():
    return markov_chain_2d()


def write_cln025_trajectories(cln025_pdb, out_dir, n_traj=2, n_frames=40, seed=0):
    """Short CLN025 'trajectories': an Ornstein-Uhlenbeck jiggle of every atom around the folded structure.

    Time-correlated (relaxation ~ 5 frames), 0.01 nm amplitude; written as DCD files. Returns the paths.
    """
    import mdtraj as md

    ref = md.load(str(cln025_pdb))
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n_traj):
        x = np.empty((n_frames, ref.n_atoms, 3), dtype=np.float32)
        d = np.zeros((ref.n_atoms, 3))
        for t in range(n_frames):
            d = 0.8 * d + 0.006 * rng.standard_normal(d.shape)
            x[t] = ref.xyz[0] + d
        traj = md.Trajectory(x, ref.topology, time=np.arange(n_frames) * 10.0)
        p = out_dir / f"traj{i}.dcd"
        traj.save_dcd(str(p))
        paths.append(p)
    return paths


@pytest.fixture(scope="session")
def cln025_store(tmp_path_factory, cln025_pdb):
    """A tiny real-atom store: 2 x 40 frames of CLN025 heavy atoms (93 atoms), 10 ps per frame."""
    from mdkoop.io.store import prepare

    d = tmp_path_factory.mktemp("cln025")
    paths = write_cln025_trajectories(cln025_pdb, d)
    return prepare(cln025_pdb, paths, d / "store", select="protein and element != H", timestep_ps=10.0)
