"""The 300 K alanine-dipeptide data set with a rare slow process (φ flip into α_L), shared by the benchmarks.

Two independent ``mdkoop simulate ala2 --temperature 300 --ns 30 --save-every 1`` runs (seeds 1 and 2),
simulated into ``benchmarks/work/ala2/ns30_T300_seed{1,2}`` when missing and reused afterwards; heavy-atom
stores beside them. Run 1 trains, run 2 tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bench_peers import WORK, _dihedral_grid, ensure_ala2, msm_timescales, prepare_store

__all__ = ["NS", "TEMPERATURE", "ala2_300k_stores", "rare_basin_stores", "dihedrals", "dihedral_msm", "phi_crossings"]

NS = 30.0
TEMPERATURE = 300.0
GRID = 20


def ala2_300k_stores(ns: float = NS):
    """``(train_store, test_store, [run dirs])``: heavy-atom stores (nm) of the seed-1 and seed-2 runs."""
    dirs = ensure_ala2(ns, (1, 2), TEMPERATURE)
    stores = []
    for d, s in zip(dirs, (1, 2)):
        out = WORK / "rare" / f"store_ns{ns:g}_T{TEMPERATURE:g}_seed{s}"
        if (out / "store.json").is_file():
            from mdkoop.io.store import TrajectoryStore

            stores.append(TrajectoryStore.open(out))
        else:
            stores.append(prepare_store(d / "topology.pdb", d / "trajectory.xtc", out, "not element H"))
    return stores[0], stores[1], dirs


def dihedrals(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Backbone (φ, ψ) in radians of a simulated run, each shape (n_frames,)."""
    import mdtraj as md

    t = md.load(str(Path(run_dir) / "trajectory.xtc"), top=str(Path(run_dir) / "topology.pdb"))
    return md.compute_phi(t)[1][:, 0], md.compute_psi(t)[1][:, 0]


def phi_crossings(run_dir: Path) -> dict:
    """Entries into φ > 0 (α_L), counted with a dead zone (φ > 0.5 rad to enter, φ < -0.5 rad to leave)."""
    phi, _ = dihedrals(run_dir)
    inside, entries = False, 0
    for a in phi:
        if not inside and 0.5 < a < 2.5:
            inside, entries = True, entries + 1
        elif inside and a < -0.5:
            inside = False
    return {"entries_phi_positive": entries, "fraction_phi_positive": float(np.mean((phi > 0) & (phi < 2.5)))}


def dihedral_msm(run_dirs: list[Path], lag: int, k: int = 3, bayes: int = 0) -> dict:
    """Reversible MSM on a GRID x GRID (φ, ψ) grid of all runs: timescales in ps (1 ps frames)."""
    dtrajs = [_dihedral_grid(*dihedrals(d), GRID) for d in run_dirs]
    return msm_timescales(dtrajs, lag, 1.0, k, bayes=bayes)


def rare_basin_stores():
    """``(train_store, test_store)``: the four-atom rare-basin molecule, two independent simulations."""
    from mdkoop.io.store import TrajectoryStore
    from mdkoop.systems import rare_basin

    stores = []
    for seed in (0, 1):
        out = WORK / "rare" / f"molecule_seed{seed}"
        if (out / "store.json").is_file():
            stores.append(TrajectoryStore.open(out))
        else:
            stores.append(rare_basin.molecule_store(out, n_walkers=20, n_frames=4000, seed=seed))
    return stores[0], stores[1]


#: the shared CLN025 runs (390 K, amber99sb-ildn + OBC, 5 ps frames); never bundled with the package
CLN025_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "cln025_390K_obc"


def cln025_shared_stores():
    """``(train_store, test_store)`` of the shared CLN025 runs: heavy atoms (nm), 5 ps frames.

    Train: the first 8 ns of ``s11``. Test: three trajectories, the last 8 ns of ``s11``, ``s12`` and ``s13``.
    """
    import mdtraj as md

    from mdkoop.io.store import TrajectoryStore, prepare

    base = WORK / "cln025_shared"
    train, test = base / "store_train", base / "store_test"
    if (train / "store.json").is_file() and (test / "store.json").is_file():
        return TrajectoryStore.open(train), TrajectoryStore.open(test)
    base.mkdir(parents=True, exist_ok=True)
    top = CLN025_SHARED / "s11" / "topology.pdb"
    s11 = md.load(str(CLN025_SHARED / "s11" / "traj.xtc"), top=str(top))
    half = s11.n_frames // 2
    s11[:half].save_xtc(str(base / "s11_first.xtc"))
    s11[half:].save_xtc(str(base / "s11_second.xtc"))
    tr = prepare(str(top), [str(base / "s11_first.xtc")], train, select="not element H", timestep_ps=5.0,
                 overwrite=True)
    te = prepare(str(top), [str(base / "s11_second.xtc"), str(CLN025_SHARED / "s12" / "traj.xtc"),
                            str(CLN025_SHARED / "s13" / "traj.xtc")], test, select="not element H",
                 timestep_ps=5.0, overwrite=True)
    return tr, te
