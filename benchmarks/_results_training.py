"""Training-benchmark figures for :mod:`make_results`: lean vs official-style baseline."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from _results_base import (
    HERE,
    REPORTED,
    Context,
    Row,
    fmt,
    get,
    num,
    status_ge,
    status_le,
)


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
    qnote = "quick run (small batch): not the full setting; run the full command" if quick else ""
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
        goal = "≥ 2x"
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
        goal = "≤ 1/4 = 0.25"
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
        goal = "no threshold: reported"
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
