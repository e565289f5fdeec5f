# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 4. Training on a GPU, and on several GPUs or nodes
#
# * `device="auto"` (the default) uses CUDA when PyTorch sees a GPU, else the CPU.
# * `precision="bf16-mixed"` speeds up the encoder on recent GPUs; the moments of the objective
#   are always accumulated in fp32/fp64, so the estimated singular values are not affected.
# * Several GPUs: `devices=N` (per node) and `num_nodes=M` run PyTorch Lightning DDP. The k×k
#   moment matrices are all-reduced across processes, so the loss equals the global-batch loss and
#   `batch_size` is the *global* batch.
# * `mdkoop simulate --platform CUDA` makes microseconds of CLN025 in minutes on a GPU.
#
# This script runs on a CPU-only machine too: it trains on whatever `auto` finds and prints the
# commands for multi-GPU runs.

# %%
import os
import time
from pathlib import Path

import torch

from mdkoop import KoopmanSVD
from mdkoop.demo import sample_files
from mdkoop.io.store import prepare

FAST = os.environ.get("MDKOOP_TUTORIAL_FAST") == "1"
WORK = Path(os.environ.get("MDKOOP_TUTORIAL_DIR", "tutorial_runs")) / "04_gpu"
WORK.mkdir(parents=True, exist_ok=True)

n_gpus = torch.cuda.device_count()
print(f"PyTorch {torch.__version__}; CUDA available: {torch.cuda.is_available()}; GPUs: {n_gpus}")
for i in range(n_gpus):
    print(f"  cuda:{i}: {torch.cuda.get_device_name(i)}")

# %% [markdown]
# ## One device, chosen automatically

# %%
files = sample_files()
store = prepare(files["topology"], [files["trajectory"]], WORK / "store", select="all", overwrite=True)
gpu = torch.cuda.is_available()
est = KoopmanSVD(lagtime="20ps", n_modes=4, encoder="schnet", device="auto",
                 precision="bf16-mixed" if gpu else "32",
                 epochs=1 if FAST else (50 if gpu else 5), batch_size=512 if gpu else 128,
                 n_atom_basis=16 if FAST else 64, n_interactions=2 if FAST else 3, seed=0)
t0 = time.perf_counter()
model = est.fit(store, run_dir=WORK / "run", overwrite=True).fetch_model()
print(f"trained on {'GPU' if gpu else 'CPU'} in {time.perf_counter() - t0:.1f} s; "
      f"timescales (ps): {model.timescales()[:3].round(1)}")

# %% [markdown]
# ## Several GPUs on one node
# From the command line (Lightning starts one process per GPU):
#
# ```bash
# mdkoop fit store/ --lag 1ns --modes 16 --devices 4 --batch-size 2048 --precision bf16-mixed --out run/
# ```
#
# ## Several nodes (SLURM)
# Lightning reads the SLURM environment; start one task per GPU:
#
# ```bash
# #!/bin/bash
# #SBATCH --nodes=2 --ntasks-per-node=4 --gpus-per-node=4
# srun mdkoop fit store/ --lag 1ns --modes 16 --devices 4 --num-nodes 2 --batch-size 4096 --out run/
# ```
#
# The run directory is written by rank 0; `--resume` continues an interrupted run from its last
# checkpoint.

# %%
for cmd in (
    "mdkoop fit STORE --lag 1ns --modes 16 --devices 4 --batch-size 2048 --precision bf16-mixed --out RUN",
    "srun mdkoop fit STORE --lag 1ns --modes 16 --devices 4 --num-nodes 2 --batch-size 4096 --out RUN",
    "mdkoop simulate cln025 --ns 1000 --temperature 340 --platform CUDA --atoms heavy --save-every 100 --out cln025_1us",
):
    print("$", cmd)
