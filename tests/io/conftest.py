"""Fixtures for the io tests: real CLN025 frames written to trajectory files, and prepared stores."""

from __future__ import annotations

import numpy as np
import pytest


def make_cln025_traj(cln025_pdb, n_frames=6, noise=0.01, seed=0, box_nm=3.0):
    """An mdtraj Trajectory of ``n_frames`` perturbed copies of the real CLN025 structure (nm), 10 ps apart."""
    import mdtraj as md

    ref = md.load(str(cln025_pdb))
    rng = np.random.default_rng(seed)
    xyz = ref.xyz[0][None] + noise * rng.standard_normal((n_frames, ref.n_atoms, 3)).astype(np.float32)
    t = md.Trajectory(xyz.astype(np.float32), ref.topology, time=np.arange(n_frames) * 10.0)
    t.unitcell_vectors = np.tile(np.eye(3, dtype=np.float32) * box_nm, (n_frames, 1, 1))
    return t


@pytest.fixture(scope="session")
def cln_files(tmp_path_factory, cln025_pdb):
    """Two CLN025 XTC trajectories (7 and 5 frames, 10 ps spacing) and their mdtraj Trajectories."""
    d = tmp_path_factory.mktemp("cln")
    t1 = make_cln025_traj(cln025_pdb, 7, seed=1)
    t2 = make_cln025_traj(cln025_pdb, 5, seed=2)
    t2.time = t2.time + 1000.0
    p1, p2 = d / "a.xtc", d / "b.xtc"
    t1.save_xtc(str(p1))
    t2.save_xtc(str(p2))
    return {"dir": d, "xtc": [p1, p2], "traj": [t1, t2]}


@pytest.fixture(scope="session")
def cln_store(tmp_path_factory, cln025_pdb, cln_files):
    """A store of the two CLN025 trajectories (default selection: 93 heavy atoms)."""
    from mdkoop.io.store import prepare

    out = tmp_path_factory.mktemp("stores") / "cln"
    return prepare(cln025_pdb, cln_files["xtc"], out)


def leftovers(directory):
    """Names in ``directory`` that look like temporary outputs."""
    return sorted(p.name for p in directory.iterdir() if ".tmp" in p.name or ".old" in p.name)
