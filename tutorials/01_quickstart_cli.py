# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 1. Quick start on the command line
#
# The whole job on the CLN025 sample that ships with mdkoop, one command per step:
#
# 1. `mdkoop data fetch cln025-sample` — put the sample into a *store* (nm, float32, memory-mapped);
# 2. `mdkoop fit` — train a SchNet encoder with the nested-LoRA objective;
# 3. `mdkoop analyze` — implied timescales vs lag, CK test, scores, `report.html`;
# 4. `mdkoop export` — the learned CVs as a PLUMED input.
#
# Run it as a script (`python tutorials/01_quickstart_cli.py`) or open it as a notebook with jupytext.
# In a terminal you would type the commands after `$`; here they run through `subprocess`.
# Set `MDKOOP_TUTORIAL_FAST=1` for a very short training run (a smoke run; the test suite runs the default size).

# %%
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

FAST = os.environ.get("MDKOOP_TUTORIAL_FAST") == "1"
WORK = Path(os.environ.get("MDKOOP_TUTORIAL_DIR", "tutorial_runs")) / "01_quickstart_cli"
WORK.mkdir(parents=True, exist_ok=True)


def mdkoop(*args: str) -> str:
    """Run `mdkoop ARGS` (the installed CLI) and return what it printed."""
    cmd = [sys.executable, "-c", "import sys; from mdkoop.cli.main import main; sys.exit(main())", *args]
    print("$ mdkoop", shlex.join(args))
    res = subprocess.run(cmd, capture_output=True, text=True)
    print(res.stdout)
    if res.returncode != 0:
        raise RuntimeError(f"mdkoop {args[0]} failed:\n{res.stderr}")
    return res.stdout


# %% [markdown]
# ## The datasets mdkoop knows
# `access` says whether a dataset downloads (`download`), must be requested (`on-request`) or ships
# with the package (`bundled`). `mdkoop data list --long` adds the citation and how to obtain it.

# %%
mdkoop("data", "list")

# %% [markdown]
# ## 1. Fetch the bundled sample into a store
# For the other datasets the same command downloads (with resume), verifies the checksums,
# extracts only the needed files and prepares the store.

# %%
mdkoop("data", "fetch", "cln025-sample", "--dest", str(WORK / "sample"), "--overwrite", "--no-progress")
store = WORK / "sample" / "store"
mdkoop("info", str(store))

# %% [markdown]
# ## 2. Fit
# The lag (20 ps here) should be longer than the fast vibrations and shorter than the processes
# of interest. `--modes 4` learns the constant plus three singular functions.

# %%
epochs = "1" if FAST else "10"
width = "16" if FAST else "32"
mdkoop("fit", str(store), "--lag", "20ps", "--modes", "4", "--epochs", epochs, "--batch-size", "128" if FAST else "32", "--val-fraction", "0",
       "--n-atom-basis", width, "--interactions", "2", "--n-rbf", "16", "--device", "cpu",
       "--out", str(WORK / "run"), "--overwrite", "--no-progress")

# %% [markdown]
# ## 3. Analyse
# Implied timescales at several lags, a Chapman–Kolmogorov test, VAMP scores and a self-contained
# `report.html`. With enough data the timescales level off once the lag is long enough (a Markovian
# description); the bundled sample is only 0.75 ns with a handful of folding events, so here they keep
# rising with the lag: it shows how to run the analysis, not a converged folding timescale. The folded reference
# structure colours the free-energy plot by RMSD.

# %%
from mdkoop.demo import sample_files  # noqa: E402

mdkoop("analyze", str(WORK / "run"), "--lags", "4ps", "10ps", "20ps", "40ps",
       "--reference", str(sample_files()["reference"]), "--n-bootstrap", "5" if FAST else "50",
       "--n-clusters", "10" if FAST else "20", "--overwrite", "--no-progress")
summary = json.loads((WORK / "run" / "analysis" / "summary.json").read_text())
print("timescales (ps):", summary["timescales_ps"])

# %% [markdown]
# ## 4. Export the CVs to PLUMED
# The directory holds `plumed.dat`, the TorchScript model(s) it loads, and a README with the units.
# PLUMED addresses atoms by their number in the simulated system. The sample holds heavy atoms only,
# so `--topology` gives the full CLN025 structure you would simulate: the model's atoms are matched
# onto it by residue and atom name (without it, mdkoop refuses rather than write wrong numbers).

# %%
from mdkoop.resources import resource_path  # noqa: E402

mdkoop("export", str(WORK / "run"), "--format", "plumed", "--out", str(WORK / "plumed"), "--overwrite",
       "--topology", str(resource_path("cln025.pdb")))
print((WORK / "plumed" / "plumed.dat").read_text())
