"""Shared pieces of :mod:`make_results`: the Row and Figure records, statuses, JSON access, commands, Context.

Statuses: ``met`` (the measured value satisfies the goal), ``NOT met`` (it falls short),
``not measured`` (no JSON or not the needed key; the row gives the reason and the command) and
``reported`` (no threshold is set; the goal column says what the number is for).
"""

from __future__ import annotations

import json
import operator
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import run_all

HERE = Path(__file__).resolve().parent
MET, NOT_MET, NOT_MEASURED, REPORTED = "met", "NOT met", "not measured", "reported"
STATUSES = (MET, NOT_MET, NOT_MEASURED, REPORTED)
PY = ".venv/bin/python"
RUN_ALL = f"{PY} benchmarks/run_all.py"

#: The command that writes each result file, as :mod:`run_all` runs it (its one owner).
COMMANDS = {b.result: run_all.display_command(b, False, "1") for b in run_all.BENCHES}
COMMANDS.update({b.quick_result: run_all.display_command(b, True, "1") for b in run_all.BENCHES if b.quick_result})


@dataclass
class Row:
    """One row of the results table: figure, goal, measured value, status and provenance.

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
    return f"{full}_quick" if full not in docs and f"{full}_quick" in docs else full


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


def machine_line(doc: dict | None) -> str:
    """Short machine line of a result JSON: CPUs, threads, torch, GPU, UTC date."""
    m = at(doc, "machine")
    if not isinstance(m, dict):
        return "—"
    run_thr = sorted({str(r["threads"]) for r in dicts(at(doc, "runs")) if "threads" in r})
    thr = ",".join(run_thr) if run_thr else m.get("torch_threads", m.get("omp_num_threads", "?"))
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

    def _log_records(self, name: str) -> list[dict]:
        return [r for r in dicts(at(self.log, "scripts")) if r.get("result") == name]

    def command(self, name: str) -> str:
        """The command that produced ``name``: from the last run_all log when that run wrote the file,
        else the one the JSON records (``_common.invocation``), else the one :mod:`run_all` runs."""
        doc = self.docs.get(name)
        utc = str(at(doc, "machine", "utc", default=""))
        for rec in self._log_records(name):
            if rec.get("command") and (doc is None or utc >= str(rec.get("started_utc", ""))):
                return str(rec["command"])
        return (at(doc, "command") if not at(doc, "merged_from") else None) or COMMANDS.get(name, RUN_ALL)

    def why_missing(self, name: str) -> str:
        """Why result ``name`` has no usable JSON."""
        if name in self.errors:
            return f"{self.prefix}/{name}.json: {self.errors[name]}"
        for rec in self._log_records(name):
            if rec.get("rc") not in (0, None):
                tail = [x.strip() for x in str(rec.get("error_tail", "")).splitlines() if x.strip()]
                return f"the script failed in the last run_all (rc={rec.get('rc')}): {' / '.join(tail[-2:])}"
        parts = [k for k in sorted(self.docs) if name == "training" and k.startswith("training_") and "quick" not in k]
        return (f"{self.prefix}/{name}.json does not exist: run the command" if not parts else
                f"{self.prefix}/{name}.json does not exist; combine the partial runs {', '.join(parts)} into it with "
                f"`{PY} benchmarks/bench_training.py --merge <their paths> --out training`")

    def missing(self, name: str, figure: str, goal: str, why: str | None = None) -> Row:
        """A ``not measured`` row for ``figure`` of result ``name``."""
        return Row(figure, goal, "—", NOT_MEASURED, self.command(name), note=why or self.why_missing(name))

    def row(self, name: str, figure: str, goal: str, measured: str, status: str, note: str = "") -> Row:
        """A measured row backed by result ``name``."""
        return Row(figure, goal, measured, status, self.command(name), self.src(name), machine_line(self.docs.get(name)), note)

    def src(self, name: str) -> str:
        """Path of the result file behind ``name``, as shown in RESULTS.md."""
        return f"{self.prefix}/{name}.json"


# ----------------------------------------------------------------------------- declared figures

READ_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, ZeroDivisionError, statistics.StatisticsError)
OPS = {">=": operator.ge, "<=": operator.le, "<": operator.lt}
QUICK = "quick smoke run (fewer data, seeds or repeats), not the full benchmark; "


@dataclass(frozen=True)
class Figure:
    """One row (or one row per item of ``each``) of the results table.

    ``figure``, ``goal`` and ``note`` are texts or functions of the item (``figure`` and ``goal``
    must accept ``None``: the row's text when nothing is measured). ``measured`` gives the
    measured text and ``value`` the number that ``rule`` judges: ``(op, threshold)`` with op one
    of ``>=``, ``<=``, ``<``, or a function of the item giving one; no rule: the figure is
    reported. An ``optional`` figure gives no row, rather than a ``not measured`` one, when its
    data are missing; ``why(doc, src)`` says what is missing when the document exists.
    ``source`` is a result stem or a function ``ctx -> (name, doc)``.
    """

    source: Any
    figure: Any
    goal: Any
    measured: Callable[[Any], str | None]
    value: Callable[[Any], float | None] | None = None
    rule: Any = None
    note: Any = ""
    each: Callable[[Any], list] | None = None
    optional: bool = False
    why: Callable[[dict, str], str] | None = None

    def rows(self, ctx: Context) -> list[Row]:
        name = None if callable(self.source) else full_or_quick(ctx.docs, self.source)
        name, doc = self.source(ctx) if name is None else (name, ctx.docs.get(name))
        items = (read(lambda: list(self.each(doc)), []) if self.each else [doc]) or [None]
        rows = [self._row(ctx, name, doc, item) for item in items]
        return [r for r in rows if r is not None]

    def _row(self, ctx: Context, name: str, doc, item) -> Row | None:
        try:
            measured = self.measured(item) if doc is not None else None
            rule = self.rule(item) if callable(self.rule) else self.rule
            value = num(self.value(item)) if self.value else None
        except READ_ERRORS:
            measured = None
        if measured is None:
            why = read(lambda: self.why(doc, ctx.src(name))) if self.why and doc is not None else None
            return None if self.optional else ctx.missing(name, as_text(self.figure, item), as_text(self.goal, item), why)
        status = REPORTED if rule is None else NOT_MEASURED if value is None else MET if OPS[rule[0]](value, rule[1]) else NOT_MET
        note = QUICK * name.endswith("_quick") + read(lambda: as_text(self.note, item), "")
        return ctx.row(name, as_text(self.figure, item), as_text(self.goal, item), measured, status, note.rstrip("; "))


def rows_of(figures: list[Figure], ctx: Context) -> list[Row]:
    """The rows of ``figures``, in order."""
    return [row for fig in figures for row in fig.rows(ctx)]


def read(fn, default=None):
    """``fn()``, or ``default`` when reading the JSON fails (a key, type or value error)."""
    try:
        return fn()
    except READ_ERRORS:
        return default


def as_text(value, item) -> str:
    """``value(item)`` when ``value`` is a function, else ``value`` (a figure's texts may be either)."""
    return value(item) if callable(value) else value


def median(values) -> float:
    """Median of the finite numbers in ``values`` (``StatisticsError`` when there are none)."""
    vals = [v for v in (num(x) for x in values) if v is not None]
    return statistics.median(vals)


def cases(*cases):
    """``each`` over fixed cases: items ``(doc, key, label)``."""
    return lambda d: [(d, k, label) for k, label in cases]


def case_doc(item) -> dict:
    """The ``cases[key]`` record of a :func:`cases` item."""
    d, key, _ = item
    return d["cases"][key]
