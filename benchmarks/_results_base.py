"""Shared pieces of :mod:`make_results`: the Row record, status values, JSON helpers, commands.

Status values
-------------
``met``
    The measured value satisfies the goal.
``NOT met``
    Measured, and it falls short of the goal.
``not measured``
    No JSON (or not the needed key); the row gives the reason and the command.
``reported``
    No threshold is set for this figure (it informs a default or is asked for
    as a number only); the goal column says what it is for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results"
DEFAULT_OUT = HERE / "RESULTS.md"

MET, NOT_MET, NOT_MEASURED, REPORTED = "met", "NOT met", "not measured", "reported"
STATUSES = (MET, NOT_MET, NOT_MEASURED, REPORTED)

PY = ".venv/bin/python"
#: The command that produces each result file (as :mod:`run_all` runs it in a full run).
COMMANDS = {
    "bench_prepare": f"{PY} benchmarks/bench_prepare.py --frames 100 --repeats 3",
    "bench_graphs": f"{PY} benchmarks/bench_graphs.py --repeats 5",
    "bench_loader": f"{PY} benchmarks/bench_loader.py --frames 20000 --workers 2 --repeats 3",
    "objectives": f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_objectives.py --repeats 15",
    "training": f"{PY} benchmarks/bench_training.py --configs heavy,all --thp 0,1 --out training",
    "stability": f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_stability.py",
    "ground_truth": f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_ground_truth.py",
    "inference": f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_inference.py --repeats 3 --frames 512 --single 64",
    "peers": f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_peers.py",
    "lora_diagnosis_cln025": f"OMP_NUM_THREADS=2 {PY} benchmarks/diagnose_lora.py --system cln025",
    "encoders": f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_encoders.py --group references encoders --seeds 0 1 2; "
                f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_encoders.py --group schnet receptive --seeds 0 --epochs 20",
    "ground_truth_quick": f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_ground_truth.py --quick",
    "inference_quick": f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_inference.py --quick",
    "peers_quick": f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_peers.py --quick",
    "threads": f"{PY} benchmarks/bench_threads.py",
    "threads_quick": f"{PY} benchmarks/bench_threads.py --quick",
    "openmm_step": f"{PY} benchmarks/bench_openmm_step.py",
    "openmm_step_quick": f"{PY} benchmarks/bench_openmm_step.py --quick",
}


def _n(seq) -> int | None:
    return len(seq) if isinstance(seq, list) and seq else None


def command_from_doc(name: str, doc: dict | None) -> str | None:
    """Rebuild the command line of a result file from the options it records.

    Parameters
    ----------
    name : str
        Result stem (``bench_prepare``, ``bench_graphs``, ``bench_loader``, ``objectives``,
        ``training*``).
    doc : dict or None
        The parsed JSON.

    Returns
    -------
    str or None
        The command, or ``None`` when the file does not record enough (or is a merge of
        several invocations).
    """
    if not isinstance(doc, dict):
        return None
    args: list[str] = []
    if name == "bench_prepare":
        frames, reps = get(doc, "frames_1x"), _n(get(doc, "times_s.prepare.times_s"))
        args = [f"--frames {frames}"] * (frames is not None) + [f"--repeats {reps}"] * (reps is not None)
    elif name == "bench_graphs":
        reps = _n(get(doc, "cases.heavy.times_s.radius_graph.times_s"))
        args = [f"--repeats {reps}"] * (reps is not None)
    elif name == "bench_loader":
        frames, workers = get(doc, "store_frames"), get(doc, "workers")
        reps = _n(get(doc, "times_s.pairloader.times_s"))
        args = [f"--frames {frames}"] * (frames is not None) + [f"--workers {workers}"] * (
            workers is not None
        )
        args += [f"--repeats {reps}"] * (reps is not None)
    elif name == "objectives":
        reps = get(doc, "repeats")
        args = [f"--repeats {reps}"] * (reps is not None)
    elif name.startswith("training") and not get(doc, "merged_from"):
        runs = [
            r
            for r in (get(doc, "runs") or [])
            if isinstance(r, dict) and r.get("pipeline") in ("lean", "baseline")
        ]
        if not runs:
            return None
        thps = ",".join(sorted({str(r.get("thp")) for r in runs}))
        steps = sorted({str(r.get("steps")) for r in runs if "steps" in r})
        threads = sorted({str(r.get("threads")) for r in runs if "threads" in r})
        batches = {r.get("batch") for r in runs}
        pipelines = {r.get("pipeline") for r in runs}
        atoms = sorted({str(r.get("atoms")) for r in runs}, reverse=True)
        if batches == {32}:
            args = ["--quick"]
        elif pipelines == {"lean"}:
            args = ["--configs lean384"]
        elif pipelines == {"baseline"}:
            args = ["--configs " + ",".join(f"{a}-base" for a in atoms)]
        else:
            args = ["--configs " + ",".join(atoms)]
        args.append(f"--thp {thps}")
        args += [f"--steps {steps[0]}"] * (len(steps) == 1) + [f"--threads {threads[0]}"] * (
            len(threads) == 1
        )
        args.append(f"--out {name}")
    else:
        return None
    script = {"objectives": "bench_objectives"}.get(
        name, "bench_training" if name.startswith("training") else name
    )
    omp = get(doc, "machine.omp_num_threads")
    return " ".join([f"OMP_NUM_THREADS={omp}"] * bool(omp) + [PY, f"benchmarks/{script}.py", *args])


@dataclass
class Row:
    """One figure of the results table.

    Attributes
    ----------
    figure : str
        What is measured.
    goal : str
        The goal (or, for ``reported`` rows, what the number is for).
    measured : str
        The measured value(s), formatted; ``"—"`` when not measured.
    status : str
        One of :data:`STATUSES`.
    command : str
        Shell command that produces the JSON behind this row.
    source : str
        Result file name, or ``"—"``.
    machine : str
        Short machine/versions/date line of that JSON, or ``"—"``.
    note : str
        Reason when not measured, caveats otherwise.
    """

    figure: str
    goal: str
    measured: str
    status: str
    command: str
    source: str = "—"
    machine: str = "—"
    note: str = ""


# --------------------------------------------------------------------------- small helpers
def load_results(results_dir: Path) -> tuple[dict, dict]:
    """Read every ``*.json`` in ``results_dir``.

    Parameters
    ----------
    results_dir : Path
        Folder of result JSONs.

    Returns
    -------
    docs : dict
        File stem -> parsed JSON object (only files that parse to a dict).
    errors : dict
        File stem -> why it could not be read.
    """
    docs, errors = {}, {}
    if not results_dir.is_dir():
        return docs, errors
    for path in sorted(results_dir.glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            errors[path.stem] = f"unreadable JSON ({exc.__class__.__name__}: {exc})"
            continue
        if isinstance(doc, dict):
            docs[path.stem] = doc
        else:
            errors[path.stem] = "JSON is not an object"
    return docs, errors


def full_or_quick(docs: dict, full: str) -> str:
    """``full`` if that result exists, else ``<full>_quick`` if that exists (a smoke run), else ``full``."""
    quick = f"{full}_quick"
    return quick if full not in docs and quick in docs else full


def get(doc: dict | None, dotted: str, default=None):
    """``doc["a"]["b"]...`` for ``dotted = "a.b..."``; ``default`` if any level is missing."""
    cur = doc
    for key in dotted.split("."):
        if not isinstance(cur, dict) or key not in cur:
            return default
        cur = cur[key]
    return cur


def num(value) -> float | None:
    """``value`` as a finite float, else ``None`` (tolerates strings, None, NaN)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if x == x and abs(x) != float("inf") else None


def fmt(x: float | None, digits: int = 2) -> str:
    """Format a number with ``digits`` decimals, ``"—"`` for ``None``."""
    return "—" if x is None else f"{x:.{digits}f}"


def status_ge(x: float | None, goal: float) -> str:
    """``met`` if ``x >= goal``, ``NOT met`` if smaller, ``not measured`` if ``x`` is None."""
    return NOT_MEASURED if x is None else (MET if x >= goal else NOT_MET)


def status_le(x: float | None, goal: float) -> str:
    """``met`` if ``x <= goal``, ``NOT met`` if larger, ``not measured`` if ``x`` is None."""
    return NOT_MEASURED if x is None else (MET if x <= goal else NOT_MET)


def machine_line(doc: dict | None) -> str:
    """Short machine line of a result JSON: CPUs, threads, torch, GPU, UTC date."""
    m = get(doc, "machine")
    if not isinstance(m, dict):
        return "—"
    gpu = m.get("cuda") or "no GPU"
    thr = m.get("torch_threads", m.get("omp_num_threads", "?"))
    run_thr = sorted(
        {str(r.get("threads")) for r in (get(doc, "runs") or []) if isinstance(r, dict) and "threads" in r}
    )
    if run_thr:
        thr = ",".join(run_thr)
    return (
        f"{m.get('cpu_count', '?')} CPU, {thr} thr, torch {m.get('torch', '?')}, {gpu}, {m.get('utc', '?')}"
    )


def versions_line(doc: dict | None) -> str:
    """Full versions line of a result JSON (python, numpy, torch, mdtraj, ..., platform)."""
    m = get(doc, "machine")
    if not isinstance(m, dict):
        return "—"
    keys = ("python", "numpy", "torch", "mdtraj", "MDAnalysis", "torch_geometric", "schnetpack", "mdkoop")
    parts = [f"{k} {m.get(k)}" for k in keys if k in m]
    return ", ".join(parts) + f"; {m.get('platform', '?')}"


class Context:
    """The result documents plus the run log, with per-file commands and missing-file reasons."""

    def __init__(self, docs: dict, errors: dict | None = None, prefix: str = "results"):
        self.docs = docs
        self.prefix = prefix
        self.errors = errors or {}
        self.log = docs.get("run_all") if isinstance(docs.get("run_all"), dict) else None
        self.merged: dict = {}

    def command(self, name: str) -> str:
        """The command that produced ``name``.

        From the last run_all log when that run wrote the file (the file is not older than
        the run), else rebuilt from the options the JSON records, else the documented one.
        """
        doc = self.docs.get(name)
        utc = str(get(doc, "machine.utc", ""))
        for rec in get(self.log, "scripts") or []:
            if isinstance(rec, dict) and rec.get("result") == name and rec.get("command"):
                if doc is None or utc >= str(rec.get("started_utc", "")):
                    return str(rec["command"])
        derived = command_from_doc(name, doc)
        if derived:
            return derived
        if name.startswith("training") and "quick" not in name:
            return COMMANDS["training"]
        return COMMANDS.get(name, f"{PY} benchmarks/run_all.py")

    def why_missing(self, name: str) -> str:
        """Why result ``name`` has no usable JSON."""
        if name in self.errors:
            return f"{self.prefix}/{name}.json: {self.errors[name]}"
        for rec in get(self.log, "scripts") or []:
            if isinstance(rec, dict) and rec.get("result") == name and rec.get("rc") not in (0, None):
                tail = [x.strip() for x in str(rec.get("error_tail", "")).strip().splitlines() if x.strip()]
                last = " / ".join(tail[-2:])  # the script's last output line, then how it ended
                return f"the script failed in the last run_all (rc={rec.get('rc')}): {last}"
        return f"{self.prefix}/{name}.json does not exist: run the command"

    def missing(self, name: str, figure: str, goal: str, why: str | None = None) -> Row:
        """A ``not measured`` row for ``figure`` of result ``name``."""
        return Row(figure, goal, "—", NOT_MEASURED, self.command(name), note=why or self.why_missing(name))

    def row(self, name: str, figure: str, goal: str, measured: str, status: str, note: str = "") -> Row:
        """A measured row backed by result ``name``."""
        doc = self.docs.get(name, self.merged.get(name))
        return Row(
            figure, goal, measured, status, self.command(name), self.src(name), machine_line(doc), note
        )

    def src(self, name: str) -> str:
        """Path(s) of the result file(s) behind ``name``, as shown in RESULTS.md."""
        if name in self.merged:
            return " + ".join(get(self.merged[name], "merged_from") or [])
        return f"{self.prefix}/{name}.json"
