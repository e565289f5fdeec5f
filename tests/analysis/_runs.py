"""Tiny fitted runs for the analysis and CLI tests (built once per session by fixtures).

The trajectories are the real folded CLN025 structure (mdkoop/resources/cln025.pdb) switching between
two conformations by a 2-state Markov chain: "folded" (the PDB) and "open" (the C-terminal half
pulled 0.4 nm away from the N-terminal half), plus 0.01 nm thermal noise. They are written as DCD files with mdtraj, prepared
into a store of the 10 CA atoms (10 ps per frame) and fitted with a small SchNet for a few epochs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: 2-state chain: mean residence 1/0.04 = 25 frames (250 ps) folded and 1/0.05 = 20 frames open.
P2 = np.array([[0.96, 0.04], [0.05, 0.95]])
TIMESTEP_PS = 10.0


def two_state_frames(pdb: Path, n_traj: int = 3, n_frames: int = 400, seed: int = 0):
    """mdtraj Trajectories (one per trajectory) and their state sequences."""
    import mdtraj as md

    ref = md.load(str(pdb))
    rng = np.random.default_rng(seed)
    xyz0 = ref.xyz[0]
    res = np.array([a.residue.index for a in ref.topology.atoms])
    c_term = res >= 5
    axis = xyz0[c_term].mean(0) - xyz0[~c_term].mean(0)
    axis /= np.linalg.norm(axis)
    shift = np.where(c_term[:, None], 0.4 * axis[None, :], 0.0).astype(np.float32)  # pull the halves apart
    cum = np.cumsum(P2, axis=1)
    out, states = [], []
    for _ in range(n_traj):
        s = np.empty(n_frames, dtype=np.int64)
        s[0] = rng.integers(2)
        u = rng.random(n_frames)
        for t in range(1, n_frames):
            s[t] = int(np.searchsorted(cum[s[t - 1]], u[t], side="right"))
        xyz = xyz0[None] + s[:, None, None] * shift[None] + 0.01 * rng.standard_normal((n_frames, *xyz0.shape))
        t = md.Trajectory(xyz.astype(np.float32), ref.topology,
                          time=np.arange(n_frames) * TIMESTEP_PS)
        out.append(t)
        states.append(s)
    return out, states


def write_dcds(pdb: Path, directory: Path, **kw) -> tuple[list[Path], list[np.ndarray]]:
    """Write the two-state trajectories as DCD files; return paths and state sequences."""
    trajs, states = two_state_frames(pdb, **kw)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, t in enumerate(trajs):
        p = directory / f"traj{i}.dcd"
        t.save_dcd(str(p))
        paths.append(p)
    return paths, states


def make_store(pdb: Path, directory: Path, **kw):
    """A store of the CA atoms of the two-state trajectories (10 ps per frame)."""
    from mdkoop.io.store import prepare

    paths, states = write_dcds(pdb, directory / "dcd", **kw)
    store = prepare(pdb, paths, directory / "store", select="name CA", timestep_ps=TIMESTEP_PS)
    return store, paths, states


def fit_run(store, run_dir: Path, lag: int = 2, n_modes: int = 3, epochs: int = 3):
    """Fit a small SchNet run directory on ``store``; return the fetched model."""
    from mdkoop.training.estimator import KoopmanSVD

    est = KoopmanSVD(lagtime=lag, n_modes=n_modes, encoder="schnet", epochs=epochs, batch_size=128, lr=1e-2,
                     device="cpu", seed=0, val_fraction=0.2, n_atom_basis=16, n_interactions=1,
                     n_rbf=8, cutoff=1.0, patience=0, pooling="sum")
    est.fit(store, run_dir=run_dir)
    return est.fetch_model()


_CACHE: dict = {}


def fitted_run(tmp_path_factory):
    """Build (once per session) the store, DCD files and a fitted run directory.

    Returns
    -------
    dict with keys ``dir``, ``store``, ``dcd`` (list of paths), ``states`` (list of (T,) int), ``run`` (path),
    ``model`` (the fetched model), ``pdb``.
    """
    if "run" not in _CACHE:
        from mdkoop.resources import resource_path

        pdb = resource_path("cln025.pdb")
        d = tmp_path_factory.mktemp("analysis_run")
        store, dcd, states = make_store(pdb, d)
        model = fit_run(store, d / "run", epochs=5)
        _CACHE["run"] = {"dir": d, "store": store, "dcd": dcd, "states": states, "run": d / "run", "model": model,
                         "pdb": pdb}
    return _CACHE["run"]


def held_out_store(tmp_path_factory):
    """A second, independent store of the same system (different seed) for test scores."""
    if "test_store" not in _CACHE:
        from mdkoop.resources import resource_path

        d = tmp_path_factory.mktemp("analysis_test_store")
        store, _, _ = make_store(resource_path("cln025.pdb"), d, n_traj=2, n_frames=300, seed=7)
        _CACHE["test_store"] = store
    return _CACHE["test_store"]
