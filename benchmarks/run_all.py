"""Run every mdkoop benchmark in sequence, then write ``benchmarks/RESULTS.md``.

Each script runs in its own subprocess (its output is streamed with a ``[name]`` prefix).
A script that fails or runs past its time limit is recorded (return code, last lines of
output) and the next one runs; the run log goes to ``<results>/run_all.json`` and
:mod:`make_results` turns the JSONs into the goal-vs-measured table.

Sizes: the full run (``make bench``) uses each script's reduced-repeat options so that the
whole suite stays well under an hour on 2 cores (estimated 25-35 min; the ten training
runs took 639 s together in ``results/training.json``, the stability sweep 225 s). ``--quick`` is a smoke run of
a few minutes (about 2 min measured); it writes to ``benchmarks/work/quick_results/``
(not under version control) so that it never overwrites the committed results.

Examples::

    .venv/bin/python benchmarks/run_all.py                 # full run (make bench)
    .venv/bin/python benchmarks/run_all.py --quick         # smoke run, minutes
    .venv/bin/python benchmarks/run_all.py --only graphs   # one script (repeatable)
    .venv/bin/python benchmarks/run_all.py --dry-run       # print the commands only
"""

from __future__ import annotations

import argparse
import collections
import datetime as _dt
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import command_line

from mdkoop.utils.files import atomic_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_RESULTS = HERE / "results"
QUICK_RESULTS = HERE / "work" / "quick_results"


@dataclass(frozen=True)
class Bench:
    """One benchmark script.

    Attributes
    ----------
    name : str
        Short name for ``--only``.
    script : str
        File name in ``benchmarks/``.
    result : str
        Stem of the JSON it writes (``<results>/<result>.json``).
    full : tuple of str
        Arguments of the full run.
    quick : tuple of str
        Arguments of the ``--quick`` smoke run.
    timeout_s : float
        Wall-clock limit of the full run (seconds); the quick run gets a quarter.
    quick_result : str
        Stem of the JSON the quick run writes (defaults to ``result``).
    """

    name: str
    script: str
    result: str
    full: tuple = ()
    quick: tuple = ()
    timeout_s: float = 900.0
    quick_result: str = field(default="")


BENCHES = (
    Bench(
        "prepare",
        "bench_prepare.py",
        "bench_prepare",
        ("--frames", "100", "--repeats", "3"),
        ("--frames", "20", "--repeats", "1"),
        900,
    ),
    Bench("graphs", "bench_graphs.py", "bench_graphs", ("--repeats", "5"), ("--repeats", "1"), 900),
    Bench(
        "loader",
        "bench_loader.py",
        "bench_loader",
        ("--frames", "20000", "--workers", "2", "--repeats", "3"),
        ("--frames", "4000", "--repeats", "1"),
        600,
    ),
    Bench("objectives", "bench_objectives.py", "objectives", ("--repeats", "15"), ("--quick",), 600),
    Bench(
        "training",
        "bench_training.py",
        "training",
        ("--configs", "heavy,all", "--thp", "0,1", "--out", "training"),
        ("--quick", "--thp", "1", "--steps", "2", "--out", "training_quick"),
        2700,
        "training_quick",
    ),
    Bench("stability", "bench_stability.py", "stability", (), ("--quick",), 1800, "stability_quick"),
    Bench("ground_truth", "bench_ground_truth.py", "ground_truth", (), ("--quick",), 900, "ground_truth_quick"),
    Bench(
        "inference",
        "bench_inference.py",
        "inference",
        ("--repeats", "3", "--frames", "512", "--single", "64"),
        ("--quick",),
        600,
        "inference_quick",
    ),
    Bench("openmm_step", "bench_openmm_step.py", "openmm_step", (), ("--quick",), 600, "openmm_step_quick"),
    Bench("threads", "bench_threads.py", "threads", (), ("--quick",), 1800, "threads_quick"),
    Bench("peers", "bench_peers.py", "peers", (), ("--quick",), 3000, "peers_quick"),
    Bench("lora_diagnosis", "diagnose_lora.py", "lora_diagnosis_cln025",
          ("--system", "cln025", "--only", "old defaults", "defaults, 20 epochs", "defaults, 20 epochs, --loss vamp2",
           "MLP on descriptors (defaults)"),
          ("--system", "rare", "--only", "MLP on descriptors (defaults)"), 3600, "lora_diagnosis_rare"),
    Bench("encoders", "bench_encoders.py", "encoders", ("--group", "references", "encoders", "--seeds", "0", "1", "2"),
          ("--group", "references", "--seeds", "0"), 3600),
)


def _utc() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def command_for(bench: Bench, quick: bool, python: str = sys.executable) -> list[str]:
    """The argv that runs ``bench`` (full or quick), with ``python`` as the interpreter."""
    return [python, str(HERE / bench.script), *(bench.quick if quick else bench.full)]


def display_command(bench: Bench, quick: bool, omp_threads: str | None = None) -> str:
    """The command as a user would type it from the repository root (for RESULTS.md).

    ``omp_threads`` (the ``OMP_NUM_THREADS`` the script ran with) is shown as a prefix.
    """
    return command_line(f"benchmarks/{bench.script}", bench.quick if quick else bench.full, omp_threads)


def run_one(bench: Bench, quick: bool, env: dict, timeout_s: float) -> dict:
    """Run one benchmark script in a subprocess, streaming its output.

    Parameters
    ----------
    bench : Bench
        The script to run.
    quick : bool
        Use the quick arguments.
    env : dict
        Environment of the child.
    timeout_s : float
        Wall-clock limit (seconds); past it the child's process group is killed.

    Returns
    -------
    dict
        ``name``, ``script``, ``result``, ``command``, ``started_utc``, ``wall_s``, ``rc``
        (``None`` never; 124 on timeout) and, on failure, ``error_tail`` (last output lines).
    """
    argv = command_for(bench, quick)
    rec = {
        "name": bench.name,
        "script": bench.script,
        "result": (bench.quick_result or bench.result) if quick else bench.result,
        "command": display_command(bench, quick, env.get("OMP_NUM_THREADS")),
        "started_utc": _utc(),
    }
    tail: collections.deque = collections.deque(maxlen=40)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
    )
    timed_out = threading.Event()

    def _kill():
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the child started above, nothing else
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout_s, _kill)
    timer.daemon = True
    timer.start()
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            print(f"  [{bench.name}] {line}", flush=True)
        rc = proc.wait()
    except KeyboardInterrupt:
        _kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
    rec["wall_s"] = round(time.perf_counter() - t0, 1)
    rec["rc"] = 124 if timed_out.is_set() else rc
    if rec["rc"] != 0:
        why = f"timed out after {timeout_s:.0f} s" if timed_out.is_set() else f"exit status {rc}"
        rec["error_tail"] = "\n".join([*tail, why])
    return rec


def _write_log(path: Path, log: dict) -> None:
    with atomic_file(path) as fh:
        fh.write(json.dumps(log, indent=2) + "\n")


def select(names: list[str] | None) -> list[Bench]:
    """The benchmarks named in ``names`` (all when empty), in suite order; unknown names exit."""
    if not names:
        return list(BENCHES)
    wanted = {n.strip() for item in names for n in item.split(",") if n.strip()}
    known = {b.name for b in BENCHES}
    unknown = sorted(wanted - known)
    if unknown:
        raise SystemExit(
            f"run_all.py: unknown benchmark {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
        )
    return [b for b in BENCHES if b.name in wanted]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description="Run the mdkoop benchmarks in sequence, then write RESULTS.md (goal vs measured).",
        epilog="benchmarks: " + ", ".join(f"{b.name} ({b.script})" for b in BENCHES),
    )
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run of a few minutes; results go to {QUICK_RESULTS.relative_to(ROOT)}/")
    ap.add_argument("--only", action="append", metavar="NAME", help="run only this benchmark (repeatable or comma list)")
    ap.add_argument("--results", type=Path, default=None, help="results folder (default: benchmarks/results, or the quick folder)")
    ap.add_argument("--out", type=Path, default=None,
                    help="Markdown file (default: benchmarks/RESULTS.md, or <results>/RESULTS.md for --quick)")
    ap.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every script's time limit")
    ap.add_argument("--dry-run", action="store_true", help="print the commands and exit")
    return ap


def _previous_records(log_path: Path) -> dict:
    """The records of the last run log, by benchmark name (kept for the benchmarks ``--only`` leaves out)."""
    try:
        return {r["name"]: r for r in json.loads(log_path.read_text()).get("scripts", []) if isinstance(r, dict)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _run_or_skip(i: int, n: int, b: Bench, quick: bool, env: dict, limit: float) -> dict:
    """Run one benchmark (or record why it was skipped), printing its state."""
    print(f"[{i}/{n}] {b.name}: {display_command(b, quick, env.get('OMP_NUM_THREADS'))} (limit {limit:.0f} s)", flush=True)
    if not (HERE / b.script).is_file():
        print(f"[{i}/{n}] {b.name}: skipped ({b.script} is not in this checkout)", flush=True)
        return {"name": b.name, "script": b.script, "result": b.result, "rc": None,
                "skipped": f"{b.script} is not in this checkout", "started_utc": _utc()}
    rec = run_one(b, quick, env, limit)
    state = "ok" if rec["rc"] == 0 else f"FAILED (rc={rec['rc']})"
    print(f"[{i}/{n}] {b.name}: {state} in {rec['wall_s']:.0f} s", flush=True)
    return rec


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    args = _parser().parse_args(argv)
    benches = select(args.only)
    results = (args.results or (QUICK_RESULTS if args.quick else DEFAULT_RESULTS)).resolve()
    out = (args.out or (results / "RESULTS.md" if args.quick else HERE / "RESULTS.md")).resolve()
    if args.dry_run:
        for b in benches:
            print(display_command(b, args.quick))
        print(shlex.join([".venv/bin/python", "benchmarks/make_results.py", "--results", str(results), "--out", str(out)]))
        return 0

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["MDKOOP_BENCH_RESULTS_DIR"] = str(results)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    log_path = results / "run_all.json"
    log = {"started_utc": _utc(), "quick": args.quick, "results": str(results), "scripts": []}
    t_all = time.perf_counter()
    records = _previous_records(log_path) if args.only else {}
    for i, b in enumerate(benches, 1):
        limit = b.timeout_s * args.timeout_scale * (0.25 if args.quick else 1.0)
        records[b.name] = _run_or_skip(i, len(benches), b, args.quick, env, limit)
        log["scripts"] = [records[x.name] for x in BENCHES if x.name in records]
        log["total_wall_s"] = round(time.perf_counter() - t_all, 1)
        _write_log(log_path, log)

    print(f"make_results: {results} -> {out}", flush=True)
    sys.path.insert(0, str(HERE))
    import make_results

    rc = make_results.main(["--results", str(results), "--out", str(out)])
    failed = [r["name"] for r in log["scripts"] if r["name"] in {b.name for b in benches} and r["rc"] not in (0, None)]
    total = time.perf_counter() - t_all
    if failed:
        print(f"done in {total / 60:.1f} min; FAILED: {', '.join(failed)} (see {log_path})", flush=True)
        return 1
    print(f"done in {total / 60:.1f} min; all {len(benches)} benchmarks ran", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
