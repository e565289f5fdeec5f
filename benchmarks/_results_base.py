"""Shared pieces of :mod:`make_results`: the Row record, statuses, JSON access, commands, Context.

Statuses: ``met`` (the measured value satisfies the goal), ``NOT met`` (it falls short),
``not measured`` (no JSON or not the needed key; the row gives the reason and the command) and
``reported`` (no threshold is set; the goal column says what the number is for).
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
_ENC = f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_encoders.py"
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
    "encoders": f"{_ENC} --group references encoders --seeds 0 1 2; {_ENC} --group schnet receptive --seeds 0 --epochs 20; "
                f"{_ENC} --group converged regularised --seeds 0",
    "threads": f"{PY} benchmarks/bench_threads.py",
    "openmm_step": f"{PY} benchmarks/bench_openmm_step.py",
}
COMMANDS.update({f"{k}_quick": f"{COMMANDS[k]} --quick" for k in ("ground_truth", "peers", "threads", "openmm_step")})
COMMANDS["inference_quick"] = f"OMP_NUM_THREADS=1 {PY} benchmarks/bench_inference.py --quick"


@dataclass
class Row:
    """One figure of the results table: what, the goal, the measured value(s), the status, and provenance.

    ``command`` produces the JSON behind the row, ``source`` names that JSON (``"—"`` if none),
    ``machine`` is its short machine/date line and ``note`` the reason when not measured, or caveats.
    """

    figure: str
    goal: str
    measured: str
    status: str
    command: str
    source: str = "—"
    machine: str = "—"
    note: str = ""


def load_results(results_dir: Path) -> tuple[dict, dict]:
    """``(docs, errors)``: file stem -> parsed JSON object, and file stem -> why it could not be read."""
    docs, errors = {}, {}
    for path in sorted(results_dir.glob("*.json")) if results_dir.is_dir() else ():
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


def at(doc, *keys, default=None):
    """``doc[k1][k2]...``; ``default`` where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(doc, dict) or key not in doc:
            return default
        doc = doc[key]
    return doc


def dicts(seq) -> list[dict]:
    """The mappings in ``seq`` (a JSON list), ``[]`` when it is not a list."""
    return [x for x in seq if isinstance(x, dict)] if isinstance(seq, list) else []


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
    m = at(doc, "machine")
    if not isinstance(m, dict):
        return "—"
    thr = m.get("torch_threads", m.get("omp_num_threads", "?"))
    run_thr = sorted({str(r["threads"]) for r in dicts(at(doc, "runs")) if "threads" in r})
    thr = ",".join(run_thr) if run_thr else thr
    return f"{m.get('cpu_count', '?')} CPU, {thr} thr, torch {m.get('torch', '?')}, {m.get('cuda') or 'no GPU'}, {m.get('utc', '?')}"


def versions_line(doc: dict | None) -> str:
    """Full versions line of a result JSON (python, numpy, torch, mdtraj, ..., platform)."""
    m = at(doc, "machine")
    if not isinstance(m, dict):
        return "—"
    keys = ("python", "numpy", "torch", "mdtraj", "MDAnalysis", "torch_geometric", "schnetpack", "mdkoop")
    return ", ".join(f"{k} {m[k]}" for k in keys if k in m) + f"; {m.get('platform', '?')}"


class Context:
    """The result documents plus the run log, with per-file commands and missing-file reasons."""

    def __init__(self, docs: dict, errors: dict | None = None, prefix: str = "results"):
        self.docs, self.errors, self.prefix = docs, errors or {}, prefix
        self.log = docs.get("run_all") if isinstance(docs.get("run_all"), dict) else None
        self.merged: dict = {}

    def _log_records(self, name: str) -> list[dict]:
        return [r for r in dicts(at(self.log, "scripts")) if r.get("result") == name]

    def command(self, name: str) -> str:
        """The command that produced ``name``: from the last run_all log when that run wrote the file,
        else the one the JSON records (``_common.invocation``), else the documented one."""
        doc = self.docs.get(name)
        utc = str(at(doc, "machine", "utc", default=""))
        for rec in self._log_records(name):
            if rec.get("command") and (doc is None or utc >= str(rec.get("started_utc", ""))):
                return str(rec["command"])
        fallback = COMMANDS["training"] if name.startswith("training") and "quick" not in name else None
        recorded = at(doc, "command") if not at(doc, "merged_from") else None
        return recorded or fallback or COMMANDS.get(name, f"{PY} benchmarks/run_all.py")

    def why_missing(self, name: str) -> str:
        """Why result ``name`` has no usable JSON."""
        if name in self.errors:
            return f"{self.prefix}/{name}.json: {self.errors[name]}"
        for rec in self._log_records(name):
            if rec.get("rc") not in (0, None):
                tail = [x.strip() for x in str(rec.get("error_tail", "")).splitlines() if x.strip()]
                return f"the script failed in the last run_all (rc={rec.get('rc')}): {' / '.join(tail[-2:])}"
        return f"{self.prefix}/{name}.json does not exist: run the command"

    def missing(self, name: str, figure: str, goal: str, why: str | None = None) -> Row:
        """A ``not measured`` row for ``figure`` of result ``name``."""
        return Row(figure, goal, "—", NOT_MEASURED, self.command(name), note=why or self.why_missing(name))

    def row(self, name: str, figure: str, goal: str, measured: str, status: str, note: str = "") -> Row:
        """A measured row backed by result ``name``."""
        doc = self.docs.get(name, self.merged.get(name))
        return Row(figure, goal, measured, status, self.command(name), self.src(name), machine_line(doc), note)

    def src(self, name: str) -> str:
        """Path(s) of the result file(s) behind ``name``, as shown in RESULTS.md."""
        if name in self.merged:
            return " + ".join(at(self.merged[name], "merged_from") or [])
        return f"{self.prefix}/{name}.json"
