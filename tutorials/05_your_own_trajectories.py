# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 5. Your own GROMACS, AMBER or CHARMM trajectories
#
# `mdkoop prepare` (or `mdkoop.io.store.prepare`) reads any format that mdtraj or MDAnalysis
# reads, selects atoms, makes molecules whole across periodic boundaries, and writes a store:
# positions in nm as float32, one memory-mapped array per trajectory, `store.json` with the
# frame spacing, atoms and provenance.
#
# | engine | topology | trajectories | reader |
# |---|---|---|---|
# | GROMACS | `.gro`, `.pdb` (or `.tpr` with MDAnalysis) | `.xtc`, `.trr` | mdtraj / MDAnalysis |
# | AMBER | `.prmtop`/`.parm7` | `.nc`, `.dcd`, `.mdcrd` | MDAnalysis for NetCDF with prmtop |
# | CHARMM / NAMD / OpenMM | `.psf`, `.pdb` | `.dcd` | both |
#
# This tutorial uses small real trajectories from MDAnalysisTests when installed (`pip install
# MDAnalysisTests`), and a short `mdkoop simulate ala2` run otherwise.

# %%
import os
from pathlib import Path

import numpy as np

from mdkoop import KoopmanSVD
from mdkoop.io.store import TrajectoryStore, append, prepare

FAST = os.environ.get("MDKOOP_TUTORIAL_FAST") == "1"
WORK = Path(os.environ.get("MDKOOP_TUTORIAL_DIR", "tutorial_runs")) / "05_own"
WORK.mkdir(parents=True, exist_ok=True)

try:
    from MDAnalysisTests import datafiles as mdat
except ImportError:
    mdat = None

# %% [markdown]
# ## GROMACS: GRO + XTC (protein in water; keep the protein's C-alpha atoms)
# The selection language is the engine's (mdtraj here). The frame spacing is read from the XTC.

# %%
if mdat is not None:
    st = prepare(mdat.GRO, [mdat.XTC], WORK / "gromacs", select="protein and name CA", overwrite=True)
    print("GROMACS:", st)

# %% [markdown]
# ## CHARMM: PSF + DCD (adenylate kinase), with MDAnalysis as the reader
# DCD files of this kind store no useful time stamps: give the frame spacing yourself.

# %%
if mdat is not None:
    st = prepare(mdat.PSF, [mdat.DCD], WORK / "charmm", select="name CA", engine="mdanalysis",
                 timestep_ps=1.0, overwrite=True)
    print("CHARMM:", st)

# %% [markdown]
# ## AMBER: prmtop + NetCDF (a small peptide in water with a counter-ion)
# This small test file stores no usable time stamps, so mdkoop refuses to guess the frame
# spacing: pass it (here 1 ps, for illustration; use your run's `ntwx * dt`).

# %%
if mdat is not None:
    st = prepare(mdat.PRMncdf, [mdat.NCDF], WORK / "amber", select="protein and not name H*",
                 engine="mdanalysis", timestep_ps=1.0, overwrite=True)
    print("AMBER:", st, "atoms:", st.atom_names)

# %% [markdown]
# ## Several trajectories, appending later, striding
# Each file becomes one trajectory; lagged pairs never cross from one to the next. Here: two short
# alanine-dipeptide runs simulated with mdkoop itself (amber14 + GBn2, 300 K).

# %%
from mdkoop import simulate  # noqa: E402

ns = 0.02 if FAST else 0.2
runs = [simulate("ala2", ns, 300.0, WORK / f"ala2_{i}", seed=i, save_every_ps=0.2, threads=1, equilibrate_ps=1.0,
                 overwrite=True, progress=False) for i in range(2)]
store = prepare(runs[0].topology, [runs[0].trajectory], WORK / "ala2_store", select="not element H", overwrite=True)
store = append(store, [runs[1].trajectory])
print(store, "lengths:", store.trajectory_lengths.tolist())

# %% [markdown]
# ## Train, then see which process the slowest CV has found
# The slowest process of alanine dipeptide is the flip of phi into the alpha_L basin (phi > 0).
# At 300 K it happens about once per nanosecond or less, so these 2 x 0.2 ns almost never
# contain it: the tutorial prints the share of frames with phi > 0. What they do contain is the
# psi transition between the beta/PPII and alpha_R basins, and that is what CV 1 follows here
# (its correlation with cos psi is printed beside that with cos phi). To learn the phi flip,
# simulate tens of nanoseconds (`mdkoop simulate ala2 --ns 30`) and check that phi > 0 is visited.

# %%
model = KoopmanSVD(lagtime="1ps", n_modes=3, encoder="schnet", epochs=1 if FAST else 20, batch_size=64,
                   device="cpu", seed=0, n_atom_basis=16, n_interactions=2, n_rbf=16, cutoff=0.5,
                   val_fraction=0.0).fit(TrajectoryStore.open(WORK / "ala2_store")).fetch_model()
cv = np.concatenate(model.transform(store))[:, 0]
import mdtraj as md  # noqa: E402

trajs = [md.load(str(r.trajectory), top=str(r.topology)) for r in runs]
phi = np.concatenate([md.compute_phi(t)[1][:, 0] for t in trajs])
psi = np.concatenate([md.compute_psi(t)[1][:, 0] for t in trajs])
print(f"frames: {len(cv)}; share with phi > 0: {np.mean(phi > 0):.3f}")
print(f"corr(CV1, cos psi) = {np.corrcoef(cv, np.cos(psi))[0, 1]:+.2f}; corr(CV1, cos phi) = {np.corrcoef(cv, np.cos(phi))[0, 1]:+.2f}")

# %% [markdown]
# ## Which encoder? Let held-out data decide
# mdkoop offers SchNet (a graph network on the atoms) and two descriptor encoders: `"distances"`
# (pair distances of a selection, `name CA` by default) and `"torsions"` (sin/cos of the backbone
# phi/psi). Train each on one trajectory and score it on the other one, which it has never seen:
# the held-out VAMP-2 score (the constant included, at most `n_modes`) ranks them fairly. Pick the
# encoder with the higher score; `docs/encoders.md` has the measured table on CLN025.

# %%
train = prepare(runs[0].topology, [runs[0].trajectory], WORK / "ala2_train", select="not element H", overwrite=True)
test = prepare(runs[1].topology, [runs[1].trajectory], WORK / "ala2_test", select="not element H", overwrite=True)
candidates = {
    "schnet": dict(encoder="schnet", n_atom_basis=16, n_interactions=2, n_rbf=16, cutoff=0.5),
    "torsions": dict(encoder="torsions"),
}
held_out = {}
for name, opts in candidates.items():
    m = KoopmanSVD(lagtime="1ps", n_modes=3, epochs=1 if FAST else 10, batch_size=64, device="cpu", seed=0,
                   val_fraction=0.0, **opts).fit(train).fetch_model()
    held_out[name] = m.score(test, r=2)
    print(f"{name:9s} held-out VAMP-2 = {held_out[name]:.3f}   (training data: {m.score(train, r=2):.3f})")
print("choose:", max(held_out, key=held_out.get))
