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


def write_cln025_trajectories(cln025_pdb, out_dir, n_traj=2, n_frames=60, seed=0):
    """Short CLN025 'trajectories' with one slow coordinate.

    A slow AR(1) coordinate q_t (correlation 0.95 per frame, i.e. a 20-frame timescale) opens the hairpin:
    the C-terminal residues 6-10 move by 0.15 nm * q_t away from residues 1-5; every atom also jiggles with
    0.01 nm fast noise. Written as DCD files (10 ps per frame by convention); returns ``(paths, q)``.
    """
    import mdtraj as md

    ref = md.load(str(cln025_pdb))
    xyz0 = ref.xyz[0]
    res = np.array([a.residue.index for a in ref.topology.atoms])
    half = (res >= 5)[:, None]
    axis = xyz0[res >= 5].mean(0) - xyz0[res < 5].mean(0)
    axis = axis / np.linalg.norm(axis)
    rng = np.random.default_rng(seed)
    paths, qs = [], []
    for i in range(n_traj):
        q = np.empty(n_frames)
        q[0] = rng.standard_normal()
        for t in range(1, n_frames):
            q[t] = 0.95 * q[t - 1] + np.sqrt(1 - 0.95**2) * rng.standard_normal()
        x = xyz0[None] + 0.15 * q[:, None, None] * half[None] * axis + 0.01 * rng.standard_normal((n_frames, *xyz0.shape))
        p = out_dir / f"traj{i}.dcd"
        md.Trajectory(x.astype(np.float32), ref.topology).save_dcd(str(p))
        paths.append(p)
        qs.append(q)
    return paths, qs


@pytest.fixture(scope="session")
def cln025_store(tmp_path_factory, cln025_pdb):
    """A tiny real-atom store: 2 x 60 frames of CLN025 heavy atoms (97 atoms), 10 ps per frame."""
    from mdkoop.io.store import prepare

    d = tmp_path_factory.mktemp("cln025")
    paths, _ = write_cln025_trajectories(cln025_pdb, d)
    return prepare(cln025_pdb, paths, d / "store", select="protein and element != H", timestep_ps=10.0)
