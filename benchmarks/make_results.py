"""Write ``benchmarks/RESULTS.md``: goal vs measured for every benchmark figure.

Reads the JSON files the benchmark scripts wrote to ``benchmarks/results/`` (and the
``run_all.json`` log of :mod:`run_all`, when present) and renders one Markdown table with
one row per figure: figure, goal, measured value, status, the command that produces it,
and the machine/date line of the JSON it came from. A missing file or key never fails:
the row says ``not measured``, why, and the command to run.

Status values
-------------
``met``
    The measured value satisfies the goal.
``NOT met``
    Measured, and it falls short of the goal.
``not measured``
    No JSON (or not the needed key); the row gives the reason and the command.
``reported``
    The issues set no threshold for this figure (it informs a default or is asked for
    as a number only); the goal column says what it is for.

Run: ``.venv/bin/python benchmarks/make_results.py [--results DIR] [--out PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
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


# --------------------------------------------------------------------------- extractors
def prepare_rows(ctx: Context) -> list[Row]:
    """Rows of ``bench_prepare.json``: throughput ratio vs mdtraj.load, peak-RSS ratio 10x vs 1x."""
    name, doc = "bench_prepare", ctx.docs.get("bench_prepare")
    f1 = "`prepare` frames/s ÷ `mdtraj.load` frames/s (same XTC, 1,656 heavy atoms of 47,681)"
    g1 = "≥ 0.8 (issue 2)"
    f2 = "`prepare` peak RSS, 10x longer trajectory ÷ 1x"
    g2 = "≤ 1.2 (issue 2)"
    r = num(get(doc, "ratio_prepare_over_mdtraj_load"))
    rows = []
    if r is None:
        rows.append(ctx.missing(name, f1, g1))
    else:
        m = f"{r:.2f}x ({fmt(num(get(doc, 'prepare_frames_per_s')), 1)} vs {fmt(num(get(doc, 'mdtraj_load_frames_per_s')), 1)} frames/s, {get(doc, 'frames_1x', '?')} frames)"
        rows.append(ctx.row(name, f1, g1, m, status_ge(r, 0.8)))
    rss = get(doc, "peak_rss_bytes") or {}
    p1, p10 = num(get(rss, "prepare_1x")), num(get(rss, "prepare_10x"))
    q = num(get(doc, "rss_ratio_10x_over_1x"))
    if q is None and p1 and p10 is not None:
        q = p10 / p1
    if q is None:
        rows.append(ctx.missing(name, f2, g2))
    else:
        m = f"{q:.2f} ({fmt(p1 and p1 / 2**20, 0)} → {fmt(p10 and p10 / 2**20, 0)} MiB)"
        l1, l10 = num(get(rss, "mdtraj_load_1x")), num(get(rss, "mdtraj_load_10x"))
        note = f"plain mdtraj.load for contrast: {l10 / l1:.2f}x" if l1 and l10 is not None else ""
        rows.append(ctx.row(name, f2, g2, m, status_le(q, 1.2), note))
    return rows


def graphs_rows(ctx: Context) -> list[Row]:
    """Rows of ``bench_graphs.json``: batched radius graph vs schnetpack MatScipyNeighborList."""
    name, doc = "bench_graphs", ctx.docs.get("bench_graphs")
    rows = []
    for case, label in (("heavy", "heavy atoms"), ("all", "all atoms")):
        fig = f"batched radius graph graphs/s ÷ schnetpack `MatScipyNeighborList` per frame, CLN025 {label}, 2x384 frames"
        goal = "≥ 10x on CPU (issue 2)"
        c = get(doc, f"cases.{case}")
        r = num(get(c, "ratio_radius_graph_over_matscipy"))
        if r is None:
            rows.append(ctx.missing(name, fig, goal))
            continue
        m = (
            f"{r:.1f}x ({fmt(num(get(c, 'mdkoop_radius_graph_graphs_per_s')), 0)} vs "
            f"{fmt(num(get(c, 'schnetpack_matscipy_graphs_per_s')), 0)} graphs/s; "
            f"{get(c, 'n_atoms', '?')} atoms, {fmt(num(get(c, 'edges_per_graph')), 0)} edges/graph)"
        )
        rf = num(get(c, "ratio_frames_to_batch_over_matscipy"))
        note = f"frames→batch path: {rf:.1f}x" if rf is not None else ""
        rows.append(ctx.row(name, fig, goal, m, status_ge(r, 10.0), note))
    return rows


def _compute_ratios(runs: list[dict]) -> list[dict]:
    """Lean/baseline ratios of training runs, as ``bench_training.compute_ratios`` computes them."""
    sys.path.insert(0, str(HERE))
    from bench_training import compute_ratios

    return compute_ratios(runs)


def _training_doc(ctx: Context) -> tuple[str | None, dict | None]:
    """The training result to report.

    ``training.json`` (the full or merged result) if present; otherwise the runs of every
    other non-quick ``training*.json`` combined (partial invocations, ratios recomputed);
    otherwise the quick result. Returns (stem or label, document).
    """
    if "training" in ctx.docs:
        return "training", ctx.docs["training"]
    cands = sorted(k for k in ctx.docs if k.startswith("training"))
    full = [k for k in cands if "quick" not in k]
    if not full:
        return (cands[-1], ctx.docs[cands[-1]]) if cands else (None, None)
    if len(full) == 1:
        return full[0], ctx.docs[full[0]]
    runs = [r for k in full for r in _runs(ctx.docs[k])]
    newest = max(full, key=lambda k: str(get(ctx.docs[k], "machine.utc", "")))
    peaks = []
    for k in full:
        p = get(ctx.docs[k], "matmul_peak")
        peaks += p if isinstance(p, list) else [p] if isinstance(p, dict) else []
    doc = {
        "machine": get(ctx.docs[newest], "machine"),
        "merged_from": [f"{ctx.prefix}/{k}.json" for k in full],
        "matmul_peak": peaks,
        "runs": runs,
        "ratios": _compute_ratios([r for r in runs if "thp" in r and "atoms" in r]),
    }
    label = "+".join(full)
    ctx.merged[label] = doc
    return label, doc


def _runs(doc: dict | None) -> list[dict]:
    return [r for r in (get(doc, "runs") or []) if isinstance(r, dict)]


def loader_rows(ctx: Context) -> list[Row]:
    """Rows of ``bench_loader.json`` (and the lean training step for the loader's share of it)."""
    name, doc = "bench_loader", ctx.docs.get("bench_loader")
    rows = []
    fig1 = "DataLoader with worker processes ÷ in-process `PairLoader`, batches of 384 pairs/s"
    goal1 = "no threshold: decides the default (workers only if > 1.0x)"
    r = num(get(doc, "ratio_workers_over_pairloader"))
    if r is None:
        rows.append(ctx.missing(name, fig1, goal1))
    else:
        m = (
            f"{r:.2f}x ({fmt(num(get(doc, 'dataloader_workers_batches_per_s')), 1)} vs "
            f"{fmt(num(get(doc, 'pairloader_batches_per_s')), 1)} batches/s, {get(doc, 'workers', '?')} workers)"
        )
        note = "→ in-process loading (no workers) is the default" if r <= 1.0 else "workers help here"
        rows.append(ctx.row(name, fig1, goal1, m, REPORTED, note))
    fig2 = "in-process `PairLoader` gather time ÷ lean training step (heavy atoms, batch 384)"
    goal2 = "≤ 5% (issue 4: data handling is 0–3% of the official step)"
    bps = num(get(doc, "pairloader_batches_per_s"))
    tname, tdoc = _training_doc(ctx)
    steps = [
        num(r.get("median_step_s"))
        for r in _runs(tdoc)
        if r.get("pipeline") == "lean"
        and r.get("atoms") == "heavy"
        and r.get("batch") == get(doc, "batch_pairs", 384)
    ]
    steps = [s for s in steps if s]
    if bps is None:
        rows.append(ctx.missing(name, fig2, goal2))
    elif not steps:
        why = (
            "no lean heavy-atom training run at batch 384 in the training JSON"
            if tdoc
            else ctx.why_missing("training")
        )
        rows.append(Row(fig2, goal2, "—", NOT_MEASURED, ctx.command("training"), note=why))
    else:
        step = min(steps)
        share = (1.0 / bps) / step
        m = f"{100 * share:.2f}% ({1000 / bps:.1f} ms per batch vs {step:.2f} s per step)"
        row = ctx.row(
            name,
            fig2,
            goal2,
            m,
            status_le(share, 0.05),
            f"step from {ctx.src(tname)} (fastest THP setting)",
        )
        rows.append(row)
    return rows


def objective_rows(ctx: Context) -> list[Row]:
    """Rows of ``objectives.json``: unbiased-estimator cost ratio and LoRA vs VAMP-2 step time."""
    name, doc = "objectives", ctx.docs.get("objectives")
    rows = []
    fig = "unbiased ÷ biased LoRA step time (joint nesting), median over B∈{96,384,4096}, k∈{16,64}"
    goal = "< 1.2 → `unbiased=True` becomes the default (issue 3)"
    med = num(get(doc, "summary.median_unbiased_cost_ratio_cpu"))
    table = [r for r in (get(doc, "rows") or []) if isinstance(r, dict)]
    if med is None:
        vals = [num(r.get("unbiased_cost_ratio")) for r in table if r.get("device", "cpu") == "cpu"]
        vals = [v for v in vals if v is not None]
        med = statistics.median(vals) if vals else None
    if med is None:
        rows.append(ctx.missing(name, fig, goal))
    else:
        mx = num(get(doc, "summary.max_unbiased_cost_ratio_cpu"))
        m = f"{med:.2f}x (max {fmt(mx)}x)"
        note = "→ `unbiased=False` stays the default" if med >= 1.2 else "→ unbiased estimator is the default"
        rows.append(ctx.row(name, fig, goal, m, MET if med < 1.2 else NOT_MET, note))
    fig2 = "LoRA (joint) step time ÷ VAMP-2 step time, median over (B, k), CPU"
    goal2 = "≤ 1.0 (mdkoop's own goal: LoRA needs no matrix inverse)"
    ratios = [
        num(r.get("lora_joint_ms")) / num(r.get("vamp2_ms"))
        for r in table
        if r.get("device", "cpu") == "cpu" and num(r.get("lora_joint_ms")) and num(r.get("vamp2_ms"))
    ]
    if not ratios:
        rows.append(ctx.missing(name, fig2, goal2))
    else:
        m2 = statistics.median(ratios)
        rows.append(
            ctx.row(
                name,
                fig2,
                goal2,
                f"{m2:.2f}x (range {min(ratios):.2f}–{max(ratios):.2f})",
                status_le(m2, 1.0),
            )
        )
    return rows


def _ratio_batches(r: dict) -> tuple:
    """(baseline batch, lean batch) of a ratio record (older files have a single ``batch``)."""
    b = r.get("baseline_batch", r.get("batch"))
    return b, r.get("lean_batch", r.get("batch"))


def load_summary(runs: list[dict]) -> str:
    """Range of the 1-minute load average per pipeline, e.g. ``"1-min load avg lean 3.2-4.9, baseline 1.2-2.4"``."""
    parts = []
    for pipe in ("lean", "baseline"):
        la = [
            num(r["load_avg"][0])
            for r in runs
            if r.get("pipeline") == pipe and isinstance(r.get("load_avg"), list) and r["load_avg"]
        ]
        la = [x for x in la if x is not None]
        if la:
            parts.append(f"{pipe} {min(la):.1f}-{max(la):.1f}")
    return "1-min load avg " + ", ".join(parts) if parts else "load not recorded"


def training_rows(ctx: Context) -> list[Row]:
    """Rows of the training benchmark: pairs/s and memory vs the official-style baseline, FLOP use."""
    name, doc = _training_doc(ctx)
    name = name or "training"
    ratios = [r for r in (get(doc, "ratios") or []) if isinstance(r, dict)]
    runs = _runs(doc)
    quick = "quick" in name
    qnote = "quick run (small batch): not the issue's setting; run the full command" if quick else ""
    merged = get(doc, "merged_from")
    if isinstance(merged, list) and merged:
        qnote = (
            "merged from "
            + ", ".join(Path(str(m)).name for m in merged)
            + " (separate invocations, same data; "
            + load_summary(runs)
            + ": compare pairs per CPU-s)"
        )
    rows = []
    for atoms, label in (("heavy", "heavy atoms (93)"), ("all", "all atoms (175)")):
        fig = f"training pairs/s, mdkoop lean ÷ official-style schnetpack baseline, CLN025 {label}"
        goal = "≥ 2x (issue 4)"
        sel = [r for r in ratios if r.get("atoms") == atoms and num(r.get("speedup_pairs_per_s")) is not None]
        if not sel:
            why = None if doc is None else f"no {atoms}-atom lean/baseline pair in {ctx.src(name)}"
            rows.append(ctx.missing(name, fig, goal, why))
        for r in sorted(sel, key=lambda r: (str(r.get("thp")), str(_ratio_batches(r)))):
            bb, lb = _ratio_batches(r)
            s = num(r["speedup_pairs_per_s"])
            c = num(r.get("speedup_pairs_per_cpu_s"))
            m = f"{s:.2f}x wall ({fmt(c)}x per CPU-s); lean batch {lb} vs baseline batch {bb}, THP={r.get('thp')}"
            note = qnote
            if bb != lb:
                note = (
                    note + "; " if note else ""
                ) + "baseline cannot run at the lean batch within the memory cap"
            rows.append(ctx.row(name, fig, goal, m, status_ge(s, 2.0), note))
    for atoms, label in (("heavy", "heavy atoms"), ("all", "all atoms")):
        fig = f"peak RSS at batch 384, lean ÷ baseline, CLN025 {label}"
        goal = "≤ 1/4 = 0.25 (issue 4)"
        sel = [
            r
            for r in ratios
            if r.get("atoms") == atoms
            and _ratio_batches(r)[1] == 384
            and num(r.get("memory_ratio_lean_over_baseline")) is not None
        ]
        failed = [
            r
            for r in runs
            if r.get("pipeline") == "baseline"
            and r.get("atoms") == atoms
            and r.get("batch") == 384
            and r.get("error")
        ]
        if not sel:
            why = (
                None
                if doc is None
                else f"no {atoms}-atom lean run at batch 384 with a baseline in {ctx.src(name)}"
            )
            if failed:
                why = f"baseline at batch 384: {failed[0]['error']}"
            rows.append(ctx.missing(name, fig, goal, why))
        for r in sorted(sel, key=lambda r: (str(r.get("thp")), str(_ratio_batches(r)))):
            bb, _ = _ratio_batches(r)
            q = num(r["memory_ratio_lean_over_baseline"])
            m = f"{q:.3f} (baseline batch {bb}, THP={r.get('thp')})"
            note = ""
            if bb != 384:
                note = f"baseline measured at batch {bb} (a batch-384 baseline would use more): the true ratio is lower"
                if failed:
                    note += f"; baseline at 384: {failed[0]['error']}"
            rows.append(ctx.row(name, fig, goal, m, status_le(q, 0.25), note))
    peak = get(doc, "matmul_peak")
    peaks = peak if isinstance(peak, list) else [peak] if isinstance(peak, dict) else []
    gfl = [num(get(p, "matmul_gflops")) for p in peaks]
    gfl = [g for g in gfl if g]
    for atoms, label in (("heavy", "heavy atoms"), ("all", "all atoms")):
        fig = f"achieved GFLOP/s ÷ measured fp32 matmul peak, training step, CLN025 {label}"
        goal = "no threshold: reported (issue 4)"
        sel = [
            r for r in runs if r.get("atoms") == atoms and num(r.get("fraction_of_matmul_peak")) is not None
        ]
        if not sel:
            rows.append(
                ctx.missing(name, fig, goal, None if doc is None else f"no {atoms}-atom run with FLOP counts")
            )
            continue
        parts = [
            f"{r.get('pipeline')} b{r.get('batch')} THP{r.get('thp')}: {100 * num(r['fraction_of_matmul_peak']):.1f}% ({fmt(num(r.get('gflops_per_s')), 1)} GFLOP/s)"
            for r in sorted(
                sel, key=lambda r: (str(r.get("pipeline")), str(r.get("batch")), str(r.get("thp")))
            )
        ]
        pk = f"peak {fmt(statistics.median(gfl), 1)} GFLOP/s (2048² fp32 mm)" if gfl else ""
        rows.append(
            ctx.row(name, fig, goal, "; ".join(parts), REPORTED, "; ".join(x for x in (pk, qnote) if x))
        )
    return rows


def _stab_label(row: dict) -> str:
    return str(row.get("loss", "?"))


def _count(row: dict, key: str) -> int:
    return int(num(row.get(key)) or 0)


def stability_rows(ctx: Context) -> list[Row]:
    """Rows of ``stability.json``: NaN/divergence counts per loss, held-out VAMP-2 at the smallest batch."""
    name, doc = "stability", ctx.docs.get("stability")
    table = [r for r in (get(doc, "rows") or []) if isinstance(r, dict)]
    fig = "LoRA (joint, sequential, none): NaN + diverged runs over seeds × batch {16, 64, 384}"
    goal = "0 (issue 4: LoRA, under every nesting mode, never produces NaN or diverges)"
    if not table:
        return [ctx.missing(name, fig, goal)]
    rows = []
    lora = [r for r in table if _stab_label(r).startswith("lora")]
    if lora:
        nans = sum(_count(r, "nan") for r in lora)
        bad = sum(max(_count(r, "nan"), _count(r, "diverged")) for r in lora)
        total = sum(_count(r, "runs") for r in lora)
        m = f"{bad} of {total} runs ({nans} NaN, {sum(_count(r, 'diverged') for r in lora)} diverged)"
        rows.append(ctx.row(name, fig, goal, m, MET if nans == 0 and bad == 0 else NOT_MET))
    else:
        rows.append(ctx.missing(name, fig, goal, "no LoRA rows in the stability JSON"))
    for lab in sorted({_stab_label(r) for r in table if not _stab_label(r).startswith("lora")}):
        sel = [r for r in table if _stab_label(r) == lab]
        parts = [
            f"b{r.get('batch_size')}: {_count(r, 'nan')} NaN, {_count(r, 'diverged')} div / {r.get('runs')}"
            for r in sel
        ]
        rows.append(
            ctx.row(
                name,
                f"{lab}: NaN and diverged runs per batch size",
                "no threshold: recorded (issue 4)",
                "; ".join(parts),
                REPORTED,
            )
        )
    mx = get(doc, "max_vamp2", "?")
    small = min((r.get("batch_size") for r in table if isinstance(r.get("batch_size"), int)), default=None)
    parts = [
        f"{_stab_label(r)} {fmt(num(r.get('test_vamp2_median')))} (train {fmt(num(r.get('train_vamp2_median')))})"
        for r in table
        if r.get("batch_size") == small
    ]
    if parts:
        rows.append(
            ctx.row(
                name,
                f"held-out VAMP-2 of the learned features at batch {small}, median over seeds (max {mx})",
                "no threshold: reported (issue 8 §4: only held-out scores show small-batch failure)",
                "; ".join(parts),
                REPORTED,
                "every batch size, with min/max: the stability table below",
            )
        )
    return rows


def gpu_rows(ctx: Context) -> list[Row]:
    """CUDA figures the scripts add when a GPU is present; one ``not measured`` row otherwise."""
    rows = []
    for case, label in (("heavy", "heavy atoms"), ("all", "all atoms")):
        v = num(get(ctx.docs.get("bench_graphs"), f"cases.{case}.cuda_radius_graph_graphs_per_s"))
        if v is not None:
            gpu = get(ctx.docs["bench_graphs"], "machine.cuda")
            rows.append(
                ctx.row(
                    "bench_graphs",
                    f"GPU radius graphs/s, CLN025 {label} ({gpu})",
                    "no threshold: reported whenever a GPU is available (issues 4, 8)",
                    f"{v:.0f} graphs/s",
                    REPORTED,
                )
            )
    cuda = [
        r
        for r in (get(ctx.docs.get("objectives"), "rows") or [])
        if isinstance(r, dict) and r.get("device") == "cuda"
    ]
    ratios = [num(r.get("unbiased_cost_ratio")) for r in cuda]
    ratios = [x for x in ratios if x is not None]
    if ratios:
        rows.append(
            ctx.row(
                "objectives",
                "GPU unbiased ÷ biased LoRA step time (joint), median over (B, k)",
                "no threshold: reported (the CPU figure decides the default)",
                f"{statistics.median(ratios):.2f}x (per-shape times in the objectives table)",
                REPORTED,
            )
        )
    if not rows:
        rows.append(
            Row(
                "GPU figures: pairs/s in training, peak memory, utilisation; graph building and objectives on device",
                "reported whenever a GPU is available (issues 4, 8)",
                "—",
                NOT_MEASURED,
                f"{PY} benchmarks/run_all.py (on a machine with CUDA)",
                note="no GPU in any result file (none was lent in this session)",
            )
        )
    else:
        rows.append(
            Row(
                "GPU training pairs/s, peak memory and utilisation",
                "reported whenever a GPU is available (issue 4)",
                "—",
                NOT_MEASURED,
                "— (bench_training.py runs on the CPU only)",
                note="no GPU training benchmark script yet",
            )
        )
    return rows


def unmeasured_rows(ctx: Context) -> list[Row]:
    """Figures asked for by issue 8 section 5 that no script measures yet."""
    return [
        Row(
            "inference frames/s (transform of a trained model)",
            "no threshold set (issue 8 §5)",
            "—",
            NOT_MEASURED,
            "— (no benchmark script yet)",
            note="no benchmark script exists yet",
        ),
    ]


def build_rows(docs: dict, errors: dict | None = None, prefix: str = "results") -> list[Row]:
    """All rows of the results table, in a fixed order.

    Parameters
    ----------
    docs : dict
        Result stem -> parsed JSON (as returned by :func:`load_results`).
    errors : dict, optional
        Result stem -> why it could not be read.
    prefix : str
        How the results folder is named in the table (relative to RESULTS.md).

    Returns
    -------
    list of Row
    """
    ctx = Context(docs, errors, prefix)
    rows: list[Row] = []
    for extract in (
        prepare_rows,
        graphs_rows,
        loader_rows,
        objective_rows,
        training_rows,
        stability_rows,
        gpu_rows,
        unmeasured_rows,
    ):
        try:
            rows.extend(extract(ctx))
        except Exception as exc:  # noqa: BLE001 - an odd JSON must not hide the other rows
            rows.append(
                Row(
                    f"({extract.__name__})",
                    "—",
                    "—",
                    NOT_MEASURED,
                    f"{PY} benchmarks/run_all.py",
                    note=f"could not read the results: {exc.__class__.__name__}: {exc}",
                )
            )
    return rows


# --------------------------------------------------------------------------- rendering
STABILITY_TODO = """\
- **Stability table (§4, issue 4):** seeds × batch {16, 64, 384} × {LoRA (3 nestings), VAMP-1,
  VAMP-2, VAMP-E, DPNet}: NaN/divergence counts and held-out VAMP-2 of the learned features.
"""

NOT_YET = """\
## What issue 8 asks that is NOT measured yet

This table is **not** the complete validation of issue 8. Not measured by any script in
`benchmarks/` yet:

- **Ground truth (§1):** the logistic-map eigenvalue Hausdorff distance and the Prinz-potential
  implied-timescale errors exist as *tests* (`tests/objectives/test_logistic_map.py`, `tests/objectives/test_prinz.py`; measured
  values are quoted in the commit log), not yet as a benchmark writing JSON here.
- **Alanine dipeptide (§2):** 2 × ≥ 20 ns of `mdkoop simulate ala2`; slowest implied
  timescales vs a deeptime MSM on (φ, ψ) (goal: within 15 %); test VAMP-2 of the top 3
  functions vs deeptime TICA on heavy-atom pair distances and vs deeptime's VAMPNet with the
  same SchNet lobe and number of steps.
- **CLN025 (§3):** the same comparisons on CLN025.
<STABILITY>- **Inference frames/s (§5).**
- **GPU figures (§5, issue 4):** no GPU was lent in this session.
"""


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _training_runs_table(docs: dict, prefix: str) -> str:
    ctx = Context(docs, prefix=prefix)
    name, doc = _training_doc(ctx)
    runs = _runs(doc)
    if not runs:
        return ""
    src = ctx.src(name)
    lines = [
        f"### Training runs ({src})",
        "",
        "| pipeline | atoms | batch | THP | pairs/s | pairs per CPU-s | peak RSS (GiB) | load avg 1/5/15 min | error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        rss = num(r.get("peak_rss_bytes")) or num(r.get("peak_tree_rss_bytes"))
        la = r.get("load_avg")
        la = (
            "/".join(f"{x:.1f}" for x in la)
            if isinstance(la, list) and all(num(x) is not None for x in la)
            else "—"
        )
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    r.get("pipeline"),
                    r.get("atoms"),
                    r.get("batch"),
                    r.get("thp"),
                    fmt(num(r.get("pairs_per_s")), 1),
                    fmt(num(r.get("pairs_per_cpu_s")), 1),
                    fmt(rss and rss / 2**30, 2),
                    la,
                    r.get("error", ""),
                )
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def _objectives_table(doc: dict | None) -> str:
    table = [r for r in (get(doc, "rows") or []) if isinstance(r, dict)]
    if not table:
        return ""
    cols = [k[:-3] for k in table[0] if k.endswith("_ms")]
    lines = [
        "### Objective step times (results/objectives.json), ms, forward + backward on features (B, k)",
        "",
        "| device | B | k | " + " | ".join(cols) + " | unbiased/biased |",
        "|---|---|---|" + "---|" * (len(cols) + 1),
    ]
    for r in table:
        vals = [fmt(num(r.get(c + "_ms")), 2) for c in cols]
        lines.append(
            f"| {r.get('device', '?')} | {r.get('B', '?')} | {r.get('k', '?')} | "
            + " | ".join(vals)
            + f" | {fmt(num(r.get('unbiased_cost_ratio')))} |"
        )
    return "\n".join(lines) + "\n"


def _stability_table(doc: dict | None, prefix: str) -> str:
    table = [r for r in (get(doc, "rows") or []) if isinstance(r, dict)]
    if not table:
        return ""
    st = get(doc, "settings") or {}
    lines = [
        f"### Stability sweep ({prefix}/stability.json): {get(doc, 'system', '?')}",
        "",
        f"{st.get('seeds', '?')} seeds, {st.get('steps', '?')} gradient steps per run, "
        f"{st.get('n_modes', '?')} modes; held-out VAMP-2 on the second half of the trajectory "
        f"(max {get(doc, 'max_vamp2', '?')}).",
        "",
        "| loss | batch | runs | NaN | diverged | collapsed | test VAMP-2 median [min, max] | train VAMP-2 median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        lo, hi = fmt(num(r.get("test_vamp2_min")), 3), fmt(num(r.get("test_vamp2_max")), 3)
        cells = (
            r.get("loss"),
            r.get("batch_size"),
            r.get("runs"),
            r.get("nan"),
            r.get("diverged"),
            r.get("collapsed"),
            f"{fmt(num(r.get('test_vamp2_median')), 3)} [{lo}, {hi}]",
            fmt(num(r.get("train_vamp2_median")), 3),
        )
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return "\n".join(lines) + "\n"


def render(rows: list[Row], docs: dict, errors: dict | None = None, prefix: str = "results") -> str:
    """The Markdown text of RESULTS.md.

    Parameters
    ----------
    rows : list of Row
        From :func:`build_rows`.
    docs : dict
        Result stem -> parsed JSON (for the detail tables and the versions section).
    errors : dict, optional
        Result stem -> why it could not be read.
    prefix : str
        How the results folder is named (relative to the Markdown file).

    Returns
    -------
    str
    """
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    out = [
        "# mdkoop benchmark results: goal vs measured",
        "",
        "Generated by `benchmarks/make_results.py` from `benchmarks/results/*.json` "
        "(regenerate: `.venv/bin/python benchmarks/make_results.py`; run everything: `make bench`).",
        "",
        f"**Summary:** {counts[MET]} met, {counts[NOT_MET]} NOT met, {counts[NOT_MEASURED]} not measured, "
        f"{counts[REPORTED]} reported without a threshold.",
        "",
        "> **Shared CPU.** These runs were made on a 2-core machine shared with other jobs "
        "(seven engineers building and testing at the same time). Absolute throughputs are "
        "therefore noisy and pessimistic. Ratios are **within one run** wherever possible: both sides "
        "measured by the same script, interleaved or back to back, on the same data, and "
        "reported as medians over repeats. Load averages are not recorded in most JSONs; the "
        "training runs record them (see the training runs table), and also report pairs per "
        "CPU-second, which is robust to other load.",
        "",
    ]
    _, tdoc = _training_doc(Context(docs, prefix=prefix))
    if isinstance(get(tdoc, "merged_from"), list):
        out += [
            f"> **Training figures come from separate invocations** ({', '.join(get(tdoc, 'merged_from'))}): "
            f"lean and baseline did not run back to back ({load_summary(_runs(tdoc))}), so their "
            "wall-clock ratios carry the load difference; pairs per CPU-second is the fairer comparison.",
            "",
        ]
    out += [
        "| # | figure | goal | measured | status | command | machine / date | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        status = f"**{r.status}**" if r.status in (NOT_MET, NOT_MEASURED) else r.status
        src = f"{r.machine} ({r.source})" if r.source != "—" else "—"
        out.append(
            "| "
            + " | ".join(
                _cell(x) for x in (i, r.figure, r.goal, r.measured, status, f"`{r.command}`", src, r.note)
            )
            + " |"
        )
    todo = "" if get(docs.get("stability"), "rows") else STABILITY_TODO
    out += ["", NOT_YET.replace("<STABILITY>", todo)]
    details = [
        t
        for t in (
            _training_runs_table(docs, prefix),
            _objectives_table(docs.get("objectives")),
            _stability_table(docs.get("stability"), prefix),
        )
        if t
    ]
    if details:
        out += ["## Details", ""] + [t for d in details for t in (d, "")]
    out += ["## Machines and versions (per result file)", ""]
    for stem in sorted(docs):
        if stem == "run_all":
            continue
        out.append(
            f"- `{prefix}/{stem}.json`: {_cell(machine_line(docs[stem]))}; {_cell(versions_line(docs[stem]))}"
        )
    for stem, why in sorted((errors or {}).items()):
        out.append(f"- `{prefix}/{stem}.json`: {why}")
    log = docs.get("run_all")
    if isinstance(log, dict):
        out += [
            "",
            f"Last `run_all.py` run ({'quick' if log.get('quick') else 'full'}), started {log.get('started_utc', '?')}:",
            "",
        ]
        for rec in log.get("scripts") or []:
            if isinstance(rec, dict):
                rc = rec.get("rc")
                state = (
                    "ok"
                    if rc == 0
                    else f"skipped ({rec['skipped']})"
                    if rec.get("skipped")
                    else f"FAILED (rc={rc})"
                )
                out.append(
                    f"- {rec.get('name')}: {state}"
                    + (
                        ""
                        if rec.get("skipped")
                        else f", {fmt(num(rec.get('wall_s')), 0)} s: `{rec.get('command')}`"
                    )
                )
    return "\n".join(out) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def display_prefix(results: Path, out: Path) -> str:
    """How to name the results folder in the Markdown file at ``out``.

    Relative to the Markdown file's folder when the results lie below it (``results``,
    ``.``), else relative to the repository root, else the absolute path.
    """
    results, folder = results.resolve(), out.resolve().parent
    for base in (folder, HERE.parent):
        try:
            return results.relative_to(base).as_posix() or "."
        except ValueError:
            continue
    return results.as_posix()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: read the results folder, write the Markdown file."""
    ap = argparse.ArgumentParser(
        description="Write RESULTS.md (goal vs measured) from benchmarks/results/*.json."
    )
    ap.add_argument(
        "--results", type=Path, default=DEFAULT_RESULTS, help="folder of result JSONs (default: %(default)s)"
    )
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="Markdown file to write (default: %(default)s)"
    )
    args = ap.parse_args(argv)
    docs, errors = load_results(args.results)
    prefix = display_prefix(args.results, args.out)
    rows = build_rows(docs, errors, prefix)
    write_atomic(args.out, render(rows, docs, errors, prefix))
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    print(f"wrote {args.out}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
