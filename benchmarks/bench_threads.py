"""Training throughput with and without competing load, for mdkoop's thread default and alternatives.

The problem this guards against: torch's OpenMP threads spin-wait at every barrier, so when another
process shares the cores a training run collapses (measured 10-40x on 2 cores). mdkoop's policy
(``mdkoop.utils.threads``): OpenMP told not to spin (``OMP_WAIT_POLICY=PASSIVE``, set before torch starts)
and as many threads as the process may use.

Each configuration trains the same short CLN025 fit (bundled sample, 97 heavy atoms, SchNet defaults,
batch 64) through the real CLI in a fresh subprocess, idle and with ``--load`` busy processes (pure
Python spin loops, one per core by default) running beside it. The figure is the median per-step
pairs/s that the fit logs in ``metrics.csv`` (first step dropped), median over ``--repeats`` runs; the
runs of all configurations are interleaved so that drifts in machine load hit them alike.

Configurations:
- ``torch default``: torch imported before mdkoop (so mdkoop cannot set the OpenMP environment) with
  torch's default thread count: what mdkoop did before the policy;
- ``mdkoop default``: ``mdkoop fit`` as a user runs it;
- ``--threads 1`` (and half the cores, on machines with more than 2) with the policy.

Goal: under load, the default keeps at least half of its idle pairs/s.

    .venv/bin/python benchmarks/bench_threads.py              # full: 5 repeats
    .venv/bin/python benchmarks/bench_threads.py --quick      # 1 repeat
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402

FIT = ["--lag", "20ps", "--modes", "4", "--epochs", "1", "--batch-size", "64", "--val-fraction", "0",
       "--schedule", "cosine", "--no-progress", "--seed", "0"]
OLD_DEFAULT = "import sys, torch; from mdkoop.cli.main import main; sys.exit(main(sys.argv[1:]))"


def configurations(cores: int) -> dict[str, list[str]]:
    """name -> command prefix (the fit arguments follow). ``--threads N`` is left out where N is the default."""
    py = sys.executable
    out = {
        "torch default": [py, "-c", OLD_DEFAULT, "fit"],
        "mdkoop default": [py, "-m", "mdkoop", "fit"],
        "--threads 1": [py, "-m", "mdkoop", "fit", "--threads", "1"],
    }
    if cores > 2:
        out[f"--threads {cores // 2}"] = [py, "-m", "mdkoop", "fit", "--threads", str(cores // 2)]
    return out


def clean_env() -> dict:
    """The environment of a user who set nothing about threads."""
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "GOMP_SPINCOUNT"):
        env.pop(k, None)
    return env


def make_store(work: Path) -> Path:
    from mdkoop.io.store import prepare
    from mdkoop.resources import resource_path

    sample = resource_path("sample")
    store = work / "store"
    if not store.is_dir():
        prepare(sample / "topology.pdb", [sample / "trajectory.xtc"], store, select="all")
    return store


def pairs_per_s(metrics: Path) -> float:
    """Median per-step training pairs/s logged by the fit (the first step, with its warm-up, dropped)."""
    rows = [r for r in csv.DictReader(open(metrics)) if r.get("pairs_per_s")]
    values = [float(r["pairs_per_s"]) for r in rows[1:]] or [float(r["pairs_per_s"]) for r in rows]
    return statistics.median(values)


def one_fit(prefix: list[str], store: Path, work: Path, timeout: float) -> float:
    out = Path(tempfile.mkdtemp(dir=work)) / "run"
    try:
        r = subprocess.run([*prefix, str(store), *FIT, "--out", str(out)], env=clean_env(), capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(prefix[-3:])} failed: {r.stderr[-800:]}")
        return pairs_per_s(out / "metrics.csv")
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def start_load(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def measure(repeats: int, n_load: int, work: Path, timeout: float) -> dict:
    from mdkoop.utils.threads import available_cores

    cores = available_cores()
    configs = configurations(cores)
    store = make_store(work)
    res: dict = {name: {"idle": [], "loaded": []} for name in configs}
    for rep in range(repeats):
        for condition in ("idle", "loaded"):
            load = start_load(n_load) if condition == "loaded" else []
            try:
                time.sleep(0.5 if load else 0)
                for name, prefix in configs.items():
                    v = one_fit(prefix, store, work, timeout)
                    res[name][condition].append(v)
                    print(f"[{rep + 1}/{repeats}] {condition:6s} {name:15s} {v:8.1f} pairs/s", flush=True)
            finally:
                stop_load(load)
    table = {}
    for name, d in res.items():
        idle, loaded = statistics.median(d["idle"]), statistics.median(d["loaded"])
        table[name] = {"idle_pairs_per_s": idle, "loaded_pairs_per_s": loaded, "loaded_over_idle": loaded / idle,
                       "idle_runs": d["idle"], "loaded_runs": d["loaded"]}
    return {"cores": cores, "n_load_processes": n_load, "repeats": repeats, "configurations": table}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--load", type=int, default=None, help="busy competing processes (default: one per core)")
    ap.add_argument("--quick", action="store_true", help="1 repeat")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per fit")
    args = ap.parse_args(argv)
    from mdkoop.utils.threads import available_cores

    n_load = args.load if args.load is not None else available_cores()
    repeats = 1 if args.quick else args.repeats
    with tempfile.TemporaryDirectory(prefix="mdkoop-bench-threads-") as d:
        t0 = time.perf_counter()
        result = measure(repeats, n_load, Path(d), args.timeout)
        result["wall_s"] = time.perf_counter() - t0
    d = result["configurations"]["mdkoop default"]
    result["goal"] = {"what": "mdkoop default under load >= 0.5 x its idle pairs/s", "value": d["loaded_over_idle"],
                      "met": d["loaded_over_idle"] >= 0.5}
    result["fit_arguments"] = FIT
    write_result("threads", result)
    for name, v in result["configurations"].items():
        print(f"{name:15s} idle {v['idle_pairs_per_s']:8.1f}  loaded {v['loaded_pairs_per_s']:8.1f} pairs/s  "
              f"ratio {v['loaded_over_idle']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
