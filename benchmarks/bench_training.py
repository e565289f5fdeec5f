"""Training throughput and peak memory: mdkoop's lean SchNet pipeline vs the official-style baseline.

One optimisation step = both lobes forward on a batch of time-lagged pairs, the LoRA
loss (``mdkoop.objectives.losses.make_loss("lora")``, 16 modes -> 15 learned functions),
backward, Adam step. Data: CLN025 (the bundled real folded structure, 93 heavy atoms or
all 175 atoms) with a seeded AR(1) thermal-like perturbation (0.02 nm) per frame, so
that neighbour lists differ per frame as in MD.

* ``lean``: frames in memory -> ``PairLoader`` -> mdkoop radius graph on the device ->
  ``KoopmanLobes(SchNetEncoder(implementation="lean"))`` (shared lobe, one pass over 2B frames).
* ``baseline``: see ``baseline_schnetpack.py`` (ASE db, per-frame MatScipy neighbour lists in
  2 DataLoader workers, schnetpack SchNet + Atomwise, one pass per lobe).

Every configuration runs in its own subprocess (fresh allocator, peak RSS from
``ru_maxrss``) under a memory cap: ``RLIMIT_AS`` plus a watchdog that kills the process
tree when its resident memory exceeds ``--cap-gb``. Both allocator settings
(``THP_MEM_ALLOC_ENABLE`` 0 and 1) can be measured; variants are compared only under
the same setting. Medians over the timed steps after warm-up.

Usage::

    python benchmarks/bench_training.py --quick                    # batch 32, minutes
    python benchmarks/bench_training.py --configs heavy            # heavy atoms, batch 384
    python benchmarks/bench_training.py --configs heavy,all --thp 0,1

Threads: ``--threads`` (default 1) torch/OpenMP threads per run, the same for every
variant. On a shared, oversubscribed machine 2 OpenMP threads spin-wait at every
parallel region and the wall times become meaningless (measured here: 7-12 s CPU for
a step that takes 0.5 s CPU single-threaded); use ``--threads 2`` only on an idle
machine. Each run also records the CPU seconds per step (process + DataLoader workers),
``pairs_per_cpu_s``, which is robust to other load on the machine.

FLOPs: matmul FLOPs of one step of the *same* model without recomputation, counted by
``torch.utils.flop_counter.FlopCounterMode`` at batch 8 and scaled per pair; the peak is
the median GFLOP/s of a 2048x2048 fp32 ``torch.mm`` with the same thread count, measured
in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

N_MODES = 16
LAG = 1
NOISE_NM = 0.02


# --------------------------------------------------------------------------- data
def cln025(heavy: bool, n_frames: int, seed: int = 0):
    """Atomic numbers (n,) and frames (n_frames, n, 3) float32 nm: AR(1)-perturbed real CLN025."""
    import mdtraj as md
    import numpy as np

    from mdkoop.resources import resource_path

    traj = md.load(str(resource_path("cln025.pdb")))
    idx = traj.topology.select("not element H") if heavy else np.arange(traj.n_atoms)
    z = np.array([traj.topology.atom(int(i)).element.atomic_number for i in idx], dtype=np.int64)
    x0 = traj.xyz[0, idx].astype(np.float64)
    rng = np.random.default_rng(seed)
    e = np.zeros_like(x0)
    frames = np.empty((n_frames,) + x0.shape, dtype=np.float32)
    a = 0.9
    for t in range(n_frames):
        e = a * e + np.sqrt(1 - a * a) * NOISE_NM * rng.standard_normal(x0.shape)
        frames[t] = x0 + e
    return z, frames


# --------------------------------------------------------------------------- worker side
def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its live children (DataLoader workers)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for c in me.children(recursive=True):
        try:
            total += sum(c.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def _run_steps(step, n_warmup: int, n_steps: int):
    """Run warm-up + timed steps; return (wall seconds, CPU seconds) of the timed steps."""
    times, cpus = [], []
    for k in range(n_warmup + n_steps):
        c0 = _cpu_s()
        t0 = time.perf_counter()
        loss = step()
        dt = time.perf_counter() - t0
        dc = _cpu_s() - c0
        if k >= n_warmup:
            times.append(dt)
            cpus.append(dc)
        tag = "(warm-up) " if k < n_warmup else ""
        print(
            f"  step {k} {tag}{dt:.2f} s wall, {dc:.2f} s CPU, loss {loss:.4g}", file=sys.stderr, flush=True
        )
    return times, cpus


def worker_lean(spec: dict) -> dict:
    import numpy as np
    import torch

    from mdkoop.data.loader import PairLoader
    from mdkoop.nn import KoopmanLobes, SchNetEncoder
    from mdkoop.objectives.losses import make_loss

    B, n_w, n_s = spec["batch"], spec["warmup"], spec["steps"]
    z, frames = cln025(spec["atoms"] == "heavy", B * (n_w + n_s) + LAG + 1)
    pairs = np.stack([np.arange(len(frames) - LAG), np.arange(LAG, len(frames))], axis=1)
    loader = PairLoader(frames, pairs, batch_size=B, shuffle=True, seed=0, drop_last=True)
    torch.manual_seed(0)
    enc = SchNetEncoder(
        N_MODES - 1, z, edge_chunk=spec.get("edge_chunk", 1 << 14), checkpoint=spec.get("checkpoint", True)
    )
    lobes = KoopmanLobes(enc).train()
    loss_fn = make_loss("lora")
    opt = torch.optim.Adam(lobes.parameters(), lr=1e-3)
    it = iter(loader)

    def step():
        x_t, x_tau = next(it)
        f, g = lobes(x_t, x_tau)
        loss = loss_fn(f, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    times, cpus = _run_steps(step, n_w, n_s)
    return {"step_times_s": times, "step_cpu_s": cpus, "peak_rss_kb": _rss_kb(), "load_avg": os.getloadavg()}


def worker_baseline(spec: dict) -> dict:
    import numpy as np
    import torch
    from baseline_schnetpack import BaselineLobe, build_ase_db, make_loader

    from mdkoop.objectives.losses import make_loss

    B, n_w, n_s = spec["batch"], spec["warmup"], spec["steps"]
    z, frames = cln025(spec["atoms"] == "heavy", B * (n_w + n_s) + LAG + 1)
    pairs = np.stack([np.arange(len(frames) - LAG), np.arange(LAG, len(frames))], axis=1)
    with tempfile.TemporaryDirectory(prefix="mdkoop-bench-") as tmp:
        db = build_ase_db(Path(tmp) / "frames.db", z, frames)
        loader = make_loader(db, pairs, B, num_workers=spec.get("workers", 2))
        torch.manual_seed(0)
        model = BaselineLobe(N_MODES - 1).train()
        loss_fn = make_loss("lora")
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        it = iter(loader)

        def step(it=it):
            b_t, b_tau = next(it)
            f = model(b_t)
            g = model(b_tau)
            loss = loss_fn(f, g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return float(loss.detach())

        times, cpus = _run_steps(step, n_w, n_s)
        del it, loader
    return {"step_times_s": times, "step_cpu_s": cpus, "peak_rss_kb": _rss_kb(), "load_avg": os.getloadavg()}


def worker_flops(spec: dict) -> dict:
    """Matmul FLOPs per training pair (no recomputation), and edges per frame."""
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from mdkoop.data.graphs import radius_graph
    from mdkoop.nn import KoopmanLobes, SchNetEncoder
    from mdkoop.objectives.losses import make_loss

    B = 8
    z, frames = cln025(spec["atoms"] == "heavy", 2 * B + 1)
    x = torch.from_numpy(frames)
    enc = SchNetEncoder(N_MODES - 1, z, checkpoint=False)
    lobes = KoopmanLobes(enc).train()
    with FlopCounterMode(display=False) as fc:
        f, g = lobes(x[:B], x[B : 2 * B])
        make_loss("lora")(f, g).backward()
    edges = radius_graph(x, 0.6).shape[1] / len(x)
    return {
        "flops_per_pair": fc.get_total_flops() / B,
        "edges_per_frame": float(edges),
        "n_atoms": int(np.size(z)),
    }


def worker_matmul_peak(spec: dict) -> dict:
    import torch

    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    rates = []
    for _ in range(7):
        t0 = time.perf_counter()
        a @ b
        rates.append(2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return {"matmul_gflops": statistics.median(rates), "matmul_gflops_all": rates}


WORKERS = {
    "lean": worker_lean,
    "baseline": worker_baseline,
    "flops": worker_flops,
    "peak": worker_matmul_peak,
}


def worker_main(spec: dict) -> None:
    import torch

    torch.set_num_threads(spec.get("threads", 2))
    res = WORKERS[spec["pipeline"]](spec)
    print("RESULT " + json.dumps(res), flush=True)


# --------------------------------------------------------------------------- driver side
def _tree_rss(pid: int) -> int:
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_config(spec: dict, thp: int, cap_gb: float, timeout_s: float) -> dict:
    """Run one configuration in a capped subprocess; return its result dict (or an error record)."""
    import psutil

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(spec.get("threads", 2))
    env["THP_MEM_ALLOC_ENABLE"] = str(thp)
    cap = int(cap_gb * 2**30)

    def limit():
        as_cap = cap + 8 * 2**30  # address space > resident: torch reserves virtual memory
        resource.setrlimit(resource.RLIMIT_AS, (as_cap, as_cap))

    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    t0 = time.time()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, env=env, preexec_fn=limit
    )
    peak_tree = [0]
    killed = [False]

    def watch():
        while proc.poll() is None:
            rss = _tree_rss(proc.pid)
            peak_tree[0] = max(peak_tree[0], rss)
            if rss > cap:
                killed[0] = True
                for q in psutil.Process(proc.pid).children(recursive=True):
                    q.kill()
                proc.kill()
                return
            time.sleep(0.1)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return {**spec, "thp": thp, "error": f"timed out after {timeout_s:.0f} s"}
    th.join(1)
    rec = {**spec, "thp": thp, "wall_s": time.time() - t0, "peak_tree_rss_bytes": peak_tree[0]}
    if killed[0]:
        rec["error"] = f"killed: resident memory exceeded the {cap_gb} GB cap"
        return rec
    for line in out.splitlines()[::-1]:
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
            rec.update(res)
            if "step_times_s" in res:
                med = statistics.median(res["step_times_s"])
                rec["median_step_s"] = med
                rec["pairs_per_s"] = spec["batch"] / med
                rec["peak_rss_bytes"] = res["peak_rss_kb"] * 1024
                rec["median_step_cpu_s"] = statistics.median(res["step_cpu_s"])
                rec["pairs_per_cpu_s"] = spec["batch"] / rec["median_step_cpu_s"]
            return rec
    rec["error"] = f"worker failed (rc={proc.returncode})"
    return rec


CONFIGS = {
    # name: list of (pipeline, atoms, batch)
    "quick": [("lean", "heavy", 32), ("baseline", "heavy", 32)],
    "heavy": [("lean", "heavy", 384), ("baseline", "heavy", 384)],
    "all": [("lean", "all", 384), ("lean", "all", 192), ("baseline", "all", 192)],
    "heavy-base": [("baseline", "heavy", 384)],
    "all-base": [("baseline", "all", 192)],
    "lean384": [("lean", "heavy", 384), ("lean", "all", 384), ("lean", "all", 192)],
}


def compute_ratios(records: list) -> list:
    """Lean / baseline ratios (pairs/s, pairs per CPU-s, peak RSS) per atoms, batch and THP setting.

    Each baseline run is compared with the lean run at the same batch, and also with the lean
    run at batch 384 (the paper's batch) when the baseline had to run at a smaller batch.
    """
    ratios = []
    for thp in sorted({r["thp"] for r in records}):
        for atoms in ("heavy", "all"):
            sel = [r for r in records if r["atoms"] == atoms and r["thp"] == thp and "pairs_per_s" in r]
            lean = {r["batch"]: r for r in sel if r["pipeline"] == "lean"}
            for rb in (r for r in sel if r["pipeline"] == "baseline"):
                b = rb["batch"]
                for lb in sorted({b, 384}):
                    rl = lean.get(lb)
                    if rl is None:
                        continue
                    ratios.append(
                        {
                            "atoms": atoms,
                            "thp": thp,
                            "baseline_batch": b,
                            "lean_batch": lb,
                            "speedup_pairs_per_s": rl["pairs_per_s"] / rb["pairs_per_s"],
                            "speedup_pairs_per_cpu_s": rl["pairs_per_cpu_s"] / rb["pairs_per_cpu_s"],
                            "memory_ratio_lean_over_baseline": rl["peak_rss_bytes"] / rb["peak_rss_bytes"],
                        }
                    )
    return ratios


def merge(paths: list, out: str) -> int:
    """Combine result files of separate invocations (same data, same machine) into one."""
    from _common import write_result

    docs = [json.loads(Path(p).read_text()) for p in paths]
    records = [r for d in docs for r in d["runs"]]
    flops = {}
    for d in docs:
        flops.update(d.get("flops", {}))
    write_result(
        out,
        {
            "description": docs[0].get("description", ""),
            "machine": max((d.get("machine") or {} for d in docs), key=lambda m: str(m.get("utc", ""))),  # where it ran
            "merged_from": [str(p) for p in paths],
            "n_modes": N_MODES,
            "lag_frames": LAG,
            "cutoff_nm": 0.6,
            "matmul_peak": [d["matmul_peak"] for d in docs if "matmul_peak" in d],
            "flops": flops,
            "runs": records,
            "ratios": compute_ratios(records),
        },
    )
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument(
        "--configs",
        default="heavy,all",
        help="comma list of: quick, heavy, all, lean384, heavy-base, all-base",
    )
    ap.add_argument("--quick", action="store_true", help="same as --configs quick")
    ap.add_argument("--thp", default="0,1", help="THP_MEM_ALLOC_ENABLE values to measure (comma list)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cap-gb", type=float, default=16.0)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--edge-chunk", type=int, default=1 << 14)
    ap.add_argument("--no-checkpoint", action="store_true")
    ap.add_argument("--out", default="training", help="result name (benchmarks/results/<out>.json)")
    ap.add_argument("--merge", nargs="+", help="merge these result JSON files into --out and exit")
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    if args.worker:
        worker_main(json.loads(args.worker))
        return 0
    from _common import write_result

    names = ["quick"] if args.quick else [c.strip() for c in args.configs.split(",") if c.strip()]
    thps = [int(v) for v in args.thp.split(",")]
    common = {"threads": args.threads, "warmup": args.warmup, "steps": args.steps}
    records = []
    peak = run_config({"pipeline": "peak", "threads": args.threads}, thps[0], 4.0, 300)
    flops = {}
    for atoms in sorted({a for n in names for _, a, _ in CONFIGS[n]}):
        flops[atoms] = run_config(
            {"pipeline": "flops", "atoms": atoms, "threads": args.threads}, thps[0], 8.0, 600
        )
    for name in names:
        for pipeline, atoms, batch in CONFIGS[name]:
            for thp in thps:
                spec = {"pipeline": pipeline, "atoms": atoms, "batch": batch, **common}
                if pipeline == "lean":
                    spec.update(edge_chunk=args.edge_chunk, checkpoint=not args.no_checkpoint)
                print(f"== {pipeline} {atoms} batch {batch} THP={thp}", file=sys.stderr, flush=True)
                rec = run_config(spec, thp, args.cap_gb, args.timeout)
                fpp = flops[atoms].get("flops_per_pair")
                if "pairs_per_s" in rec and fpp:
                    rec["gflops_per_s"] = rec["pairs_per_s"] * fpp / 1e9
                    rec["fraction_of_matmul_peak"] = rec["gflops_per_s"] / peak["matmul_gflops"]
                print(
                    json.dumps({k: v for k, v in rec.items() if k != "step_times_s"}),
                    file=sys.stderr,
                    flush=True,
                )
                records.append(rec)
    ratios = compute_ratios(records)
    write_result(
        args.out,
        {
            "description": "one training step (both lobes, LoRA loss, backward, Adam) on CLN025; medians after warm-up",
            "n_modes": N_MODES,
            "lag_frames": LAG,
            "cutoff_nm": 0.6,
            "matmul_peak": peak,
            "flops": flops,
            "runs": records,
            "ratios": ratios,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
