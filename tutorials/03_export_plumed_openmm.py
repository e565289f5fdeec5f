# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 3. Exporting a CV to PLUMED and OpenMM, and biasing with it
#
# A fitted model's CVs are exported as TorchScript modules that take raw positions (nm) of the
# whole system and select the model's atoms themselves. Three formats:
#
# * `torchscript` — `cv.pt` for your own code;
# * `plumed` — `plumed.dat` with `PYTORCH_MODEL` (PLUMED built with libtorch);
# * `openmm` — one `cv_<c>.pt` per CV for openmm-torch's `TorchForce`, plus helpers that make a
#   `CustomCVForce` or metadynamics `BiasVariable`s from them, and `cvs_restraint.pt`: harmonic
#   restraints on every CV from a single model evaluation per step (umbrella sampling, steered MD).
#
# PLUMED and OpenMM address atoms by their number in the *simulated* system. The bundled sample
# holds heavy atoms only, so its numbering (1..97) is not that of a CLN025 simulation with
# hydrogens: mdkoop refuses such an export unless you give the simulation's topology, and
# `topology=` (`--topology` on the command line) renumbers the model's atoms onto it.
#
# We train a small model on the bundled sample, export it, check that the exported module gives
# the same CVs as `model.transform`, and, if openmm-torch is installed, run a short well-tempered
# metadynamics of CLN025 biased along CV 1.

# %%
import os
from pathlib import Path

import mdtraj as md
import numpy as np
import torch

from mdkoop import KoopmanSVD
from mdkoop.demo import sample_files
from mdkoop.export import export_model, read_metadata
from mdkoop.io.store import prepare

FAST = os.environ.get("MDKOOP_TUTORIAL_FAST") == "1"
WORK = Path(os.environ.get("MDKOOP_TUTORIAL_DIR", "tutorial_runs")) / "03_export"
WORK.mkdir(parents=True, exist_ok=True)

files = sample_files()
store = prepare(files["topology"], [files["trajectory"]], WORK / "store", select="all", overwrite=True)
model = KoopmanSVD(lagtime="20ps", n_modes=3, encoder="schnet", epochs=1 if FAST else 10,
                   batch_size=128 if FAST else 32, val_fraction=0.0,
                   device="cpu", seed=0, n_atom_basis=16 if FAST else 32, n_interactions=2, n_rbf=16,
                   ).fit(store, run_dir=WORK / "run", overwrite=True).fetch_model()

# %% [markdown]
# ## PLUMED

# %%
from mdkoop.resources import resource_path  # noqa: E402

plumed_dir = export_model(model, WORK / "plumed", format="plumed", topology=resource_path("cln025.pdb"), overwrite=True)
print(sorted(p.name for p in plumed_dir.iterdir()))
print((plumed_dir / "plumed.dat").read_text())

# %% [markdown]
# ## TorchScript: same numbers as `model.transform`
# The module takes positions in nm, shape (n_frames, n_atoms_of_the_system, 3).

# %%
ts_dir = export_model(model, WORK / "torchscript", format="torchscript", overwrite=True)
pt_file = next(ts_dir.glob("*.pt"))
meta = read_metadata(pt_file)
print(pt_file.name, "metadata keys:", sorted(meta))
module = torch.jit.load(str(pt_file))
traj = md.load(str(files["trajectory"]), top=str(files["topology"]))[:50]
with torch.no_grad():
    cv_exported = module(torch.tensor(traj.xyz)).numpy()
cv_model = model.transform(store)[0][:50]
print("max |exported - transform| =", float(np.abs(cv_exported[:, : cv_model.shape[1]] - cv_model).max()))

# %% [markdown]
# ## OpenMM: bias CLN025 along CV 1
# The exported CV reads the positions of the *simulated* system. The sample holds heavy atoms only,
# so `topology=` renumbers the model's atoms onto the full CLN025 system (matched by residue and
# atom name) before exporting (`mdkoop export --topology` on the command line).
# openmm-torch (`conda install -c conda-forge openmm-torch`) is needed to evaluate TorchScript
# inside OpenMM.

# %%
openmm_dir = export_model(model, WORK / "openmm", format="openmm", topology=resource_path("cln025.pdb"), overwrite=True)
print((openmm_dir / "README.md").read_text()[:1500])
try:
    import openmmtorch  # noqa: F401

    HAVE_OPENMM_TORCH = True
except ImportError:
    HAVE_OPENMM_TORCH = False
    print("openmm-torch is not installed: skipping the biased simulation.")

# %%
if HAVE_OPENMM_TORCH:
    import openmm
    import openmm.app as app
    import openmm.unit as unit
    from openmm.app.metadynamics import Metadynamics

    from mdkoop.export.openmm import make_bias_variables

    pdb = app.PDBFile(str(resource_path("cln025.pdb")))
    ff = app.ForceField("amber14-all.xml", "implicit/gbn2.xml")
    system = ff.createSystem(pdb.topology, nonbondedMethod=app.CutoffNonPeriodic, nonbondedCutoff=1.2 * unit.nanometer,
                             constraints=app.HBonds, hydrogenMass=4 * unit.amu)
    variables = make_bias_variables(openmm_dir)[:1]
    meta_d = Metadynamics(system, variables, 425 * unit.kelvin, biasFactor=8, height=1.0 * unit.kilojoules_per_mole,
                          frequency=250)
    integ = openmm.LangevinMiddleIntegrator(425 * unit.kelvin, 1 / unit.picosecond, 0.004 * unit.picoseconds)
    sim = app.Simulation(pdb.topology, system, integ, openmm.Platform.getPlatformByName("CPU"))
    sim.context.setPositions(pdb.positions)
    sim.minimizeEnergy(maxIterations=200)
    meta_d.step(sim, 500 if FAST else 25_000)
    print("CV 1 after biasing:", meta_d.getCollectiveVariables(sim))
