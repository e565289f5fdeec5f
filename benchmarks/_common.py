"""Shared helpers for the benchmark scripts in ``benchmarks/``.

Every benchmark reports medians over repeats and ratios against a baseline
measured in the same run, and writes one JSON file to ``benchmarks/results/``.

Typical use::

    from _common import median_time, peak_rss_subprocess, write_result

    t = median_time(lambda: work(), repeats=5, warmup=1)
    rss = peak_rss_subprocess("import numpy as np; x = np.ones(10**7)")
    write_result("bench_name", {"seconds": t["median_s"], "rss_bytes": rss})
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mdkoop.utils.files import atomic_file

__all__ = ["RESULTS_DIR", "median_time", "interleaved_times", "peak_rss_subprocess", "machine_info", "command_line", "invocation", "write_result"]

#: Where every benchmark writes its JSON (``MDKOOP_BENCH_RESULTS_DIR`` overrides it, e.g. for
#: ``run_all.py --quick`` smoke runs that must not overwrite the committed results).
RESULTS_DIR = Path(os.environ.get("MDKOOP_BENCH_RESULTS_DIR") or Path(__file__).resolve().parent / "results")


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> dict:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls.

    Parameters
    ----------
    fn : callable
        Called with no arguments; its return value is ignored.
    repeats : int
        Number of timed calls (>= 1).
    warmup : int
        Number of untimed calls first (caches, lazy imports, allocator warm-up).

    Returns
    -------
    dict
        ``median_s``, ``min_s``, ``max_s`` (seconds, wall clock) and ``times_s`` (all repeats).
    """
    for _ in range(max(0, warmup)):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "times_s": times}


def interleaved_times(fns: list[Callable[[], object]], repeats: int = 5) -> list[dict]:
    """Time several callables in alternation (A, B, A, B, ...) and summarise each as :func:`median_time` does.

    Alternating makes a ratio robust against slow drifts in machine load (shared machines).
    No warm-up is done here: call each function once before if needed.
    """
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(max(1, repeats)):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return [{"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t), "times_s": t} for t in times]


_RSS_SNIPPET = """
import resource, sys
code = sys.argv[1]
exec(compile(code, "<bench>", "exec"), {"__name__": "__bench__"})
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_subprocess(code: str, env: dict | None = None, timeout: float = 1800) -> int:
    """Run Python ``code`` in a fresh interpreter and return its peak resident set size.

    A fresh process per measurement makes peaks comparable (nothing is inherited
    from earlier work in the benchmark process).

    Parameters
    ----------
    code : str
        Python source to execute.
    env : dict, optional
        Extra environment variables.
    timeout : float
        Seconds before the child is killed.

    Returns
    -------
    int
        Peak RSS in bytes (``ru_maxrss`` of the child, Linux reports KiB).
    """
    full_env = dict(os.environ)
    full_env.setdefault("OMP_NUM_THREADS", "1")
    if env:
        full_env.update(env)
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SNIPPET, code],
        capture_output=True, text=True, env=full_env, timeout=timeout, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed (rc={out.returncode}):\n{out.stderr[-4000:]}")
    for line in out.stdout.splitlines()[::-1]:
        if line.startswith("PEAK_RSS_KB"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"benchmark child printed no peak RSS:\n{out.stdout[-2000:]}")


def machine_info() -> dict:
    """Machine and library versions, recorded next to every result."""
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    for mod in ("numpy", "torch", "mdtraj", "MDAnalysis", "torch_geometric", "schnetpack", "mdkoop"):
        try:
            m = __import__(mod)
            info[mod] = getattr(m, "__version__", "?")
        except Exception:  # noqa: BLE001 - a missing optional library is just recorded
            info[mod] = None
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001
        pass
    return info


def command_line(script: str, args=(), omp_threads: str | None = None) -> str:
    """``[OMP_NUM_THREADS=N] .venv/bin/python SCRIPT ARGS...``, as a user types it from the repository root."""
    prefix = f"OMP_NUM_THREADS={shlex.quote(omp_threads)} " if omp_threads else ""
    return prefix + shlex.join([".venv/bin/python", script, *args])


def invocation() -> str:
    """The command line that runs this benchmark, as RESULTS.md shows it (paths from the repository root)."""
    script = Path(sys.argv[0]).resolve()
    root = Path(__file__).resolve().parents[1]
    script = script.relative_to(root) if script.is_relative_to(root) else script
    return command_line(script.as_posix(), sys.argv[1:], os.environ.get("OMP_NUM_THREADS"))


def write_result(name: str, result: dict) -> Path:
    """Write ``result`` (plus :func:`machine_info` and the :func:`invocation`) to ``benchmarks/results/<name>.json``.

    A ``command`` in ``result`` replaces the invocation. The file is written under a temporary
    name and renamed. Returns its path.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"benchmark": name, "machine": machine_info(), "command": invocation(), **result}
    with atomic_file(path) as fh:
        fh.write(json.dumps(payload, indent=2, sort_keys=False, default=float) + "\n")
    print(f"wrote {path}")
    return path
