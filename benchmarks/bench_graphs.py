"""Batched radius graphs (mdkoop) vs schnetpack's per-frame MatScipyNeighborList.

Frames: 2 x 384 perturbed copies of the real CLN025 structure (mdkoop/resources/cln025.pdb),
once with the 97 heavy atoms and once with all 175 atoms; cutoff 0.6 nm. Both sides run
single-threaded on the CPU (``torch.set_num_threads(1)``); a CUDA timing is added when a GPU exists.

Writes ``benchmarks/results/bench_graphs.json``. Goal: mdkoop graphs/s >= 10x the baseline.

Run: ``.venv/bin/python benchmarks/bench_graphs.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_time, write_result  # noqa: E402

BATCH = 384
CUTOFF = 0.6


def make_frames(which: str, n_frames: int, seed: int = 0):
    """Perturbed CLN025 frames (nm) and atomic numbers: ``which`` is 'heavy' or 'all'."""
    import mdtraj as md

    from mdkoop.resources import resource_path

    t = md.load(str(resource_path("cln025.pdb")))
    idx = t.topology.select("not element H") if which == "heavy" else np.arange(t.n_atoms)
    rng = np.random.default_rng(seed)
    xyz = t.xyz[0, idx][None] + 0.02 * rng.standard_normal((n_frames, len(idx), 3))
    z = np.array([t.topology.atom(int(i)).element.atomic_number for i in idx])
    return torch.tensor(xyz, dtype=torch.float32), torch.tensor(z)


def matscipy_graphs(pos: torch.Tensor, z: torch.Tensor, nl, props) -> int:
    """Per-frame neighbour lists with schnetpack's transform (the baseline). Returns the edge count."""
    n_edges = 0
    cell = torch.zeros(1, 3, 3, dtype=torch.float64)
    pbc = torch.zeros(3, dtype=torch.bool)
    for b in range(pos.shape[0]):
        inputs = {props.Z: z, props.R: pos[b].double(), props.cell: cell, props.pbc: pbc}
        out = nl(inputs)
        n_edges += int(out[props.idx_i].shape[0])
    return n_edges


def run_case(which: str, repeats: int, nl, props) -> dict:
    """Time one atom set ('heavy' or 'all') for both implementations."""
    from mdkoop.data.graphs import _radius_graph_dense, frames_to_batch, radius_graph

    pos, z = make_frames(which, 2 * BATCH)
    x_t, x_tau = pos[:BATCH], pos[BATCH:]

    # same edges as the baseline (undirected neighbour pairs, both directions)
    e = radius_graph(pos, CUTOFF)
    n_base = matscipy_graphs(pos[:8], z, nl, props)
    assert n_base == int(radius_graph(pos[:8], CUTOFF).shape[1]), "edge counts differ from matscipy"

    ours = median_time(lambda: (radius_graph(x_t, CUTOFF), radius_graph(x_tau, CUTOFF)), repeats=repeats)
    batch = median_time(lambda: (frames_to_batch(x_t, z, CUTOFF), frames_to_batch(x_tau, z, CUTOFF)),
                        repeats=repeats)
    dense = median_time(lambda: (_radius_graph_dense(x_t, CUTOFF), _radius_graph_dense(x_tau, CUTOFF)),
                        repeats=max(1, repeats // 2))
    base = median_time(lambda: matscipy_graphs(pos, z, nl, props), repeats=max(1, repeats // 2), warmup=0)
    n = 2 * BATCH
    case = {
        "n_atoms": int(pos.shape[1]),
        "edges_per_graph": float(e.shape[1]) / n,
        "mdkoop_radius_graph_graphs_per_s": n / ours["median_s"],
        "mdkoop_frames_to_batch_graphs_per_s": n / batch["median_s"],
        "dense_exact_previous_graphs_per_s": n / dense["median_s"],
        "schnetpack_matscipy_graphs_per_s": n / base["median_s"],
        "ratio_radius_graph_over_matscipy": base["median_s"] / ours["median_s"],
        "ratio_frames_to_batch_over_matscipy": base["median_s"] / batch["median_s"],
        "speedup_over_previous_dense": dense["median_s"] / ours["median_s"],
        "times_s": {"radius_graph": ours, "frames_to_batch": batch, "dense": dense, "matscipy": base},
    }
    if torch.cuda.is_available():
        pc = pos.cuda()
        radius_graph(pc, CUTOFF)

        def gpu():
            radius_graph(pc[:BATCH], CUTOFF)
            radius_graph(pc[BATCH:], CUTOFF)
            torch.cuda.synchronize()

        case["cuda_radius_graph_graphs_per_s"] = n / median_time(gpu, repeats=repeats)["median_s"]
    print(f"{which:5s} n={case['n_atoms']:3d}: radius_graph {case['mdkoop_radius_graph_graphs_per_s']:8.0f} g/s, "
          f"frames_to_batch {case['mdkoop_frames_to_batch_graphs_per_s']:8.0f} g/s, "
          f"matscipy {case['schnetpack_matscipy_graphs_per_s']:6.0f} g/s -> "
          f"x{case['ratio_radius_graph_over_matscipy']:.1f} (batch x{case['ratio_frames_to_batch_over_matscipy']:.1f})")
    return case


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    from mdkoop._compat import import_schnetpack

    spk = import_schnetpack()
    nl = spk.transform.MatScipyNeighborList(cutoff=CUTOFF)
    props = spk.properties
    results = {"cutoff_nm": CUTOFF, "frames": 2 * BATCH, "threads": 1, "cases": {}}
    for which in ("heavy", "all"):
        results["cases"][which] = run_case(which, args.repeats, nl, props)
    results["goal"] = "radius_graph graphs/s >= 10x schnetpack MatScipyNeighborList per frame"
    results["goal_met"] = all(c["ratio_radius_graph_over_matscipy"] >= 10 for c in results["cases"].values())
    write_result("bench_graphs", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
