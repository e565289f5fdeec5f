"""Figures of RESULTS.md that combine several files or records: training, loader share, stability, GPU.

The training benchmark may be split over several ``training*.json`` files (partial invocations);
:func:`training_doc` combines them and recomputes the ratios as ``bench_training`` does.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from _results_base import (
    HERE,
    MET,
    NOT_MEASURED,
    NOT_MET,
    PY,
    REPORTED,
    Context,
    Row,
    at,
    dicts,
    fmt,
    full_or_quick,
    num,
    status_ge,
    status_le,
)

ATOMS = (("heavy", "heavy atoms (93)", "heavy atoms"), ("all", "all atoms (175)", "all atoms"))


def training_doc(ctx: Context) -> tuple[str | None, dict | None]:
    """The training result to report: ``(stem or label, document)``.

    ``training.json`` if present; else the runs of every non-quick ``training*.json`` combined
    (ratios recomputed); else the quick result.
    """
    if "training" in ctx.docs:
        return "training", ctx.docs["training"]
    cands = sorted(k for k in ctx.docs if k.startswith("training"))
    full = [k for k in cands if "quick" not in k]
    if len(full) <= 1:
        name = full[0] if full else cands[-1] if cands else None
        return name, ctx.docs.get(name)
    sys.path.insert(0, str(HERE))
    from bench_training import compute_ratios

    runs = [r for k in full for r in runs_of(ctx.docs[k])]
    newest = max(full, key=lambda k: str(at(ctx.docs[k], "machine", "utc", default="")))
    peaks = [p for k in full for p in (lambda p: p if isinstance(p, list) else [p] * isinstance(p, dict))(at(ctx.docs[k], "matmul_peak"))]
    doc = {"machine": at(ctx.docs[newest], "machine"), "merged_from": [f"{ctx.prefix}/{k}.json" for k in full],
           "matmul_peak": peaks, "runs": runs, "ratios": compute_ratios([r for r in runs if "thp" in r and "atoms" in r])}
    label = "+".join(full)
    ctx.merged[label] = doc
    return label, doc


def runs_of(doc: dict | None) -> list[dict]:
    """The run records of a training JSON."""
    return dicts(at(doc, "runs"))


def load_summary(runs: list[dict]) -> str:
    """Range of the 1-minute load average per pipeline, e.g. ``"1-min load avg lean 3.2-4.9, baseline 1.2-2.4"``."""
    parts = []
    for pipe in ("lean", "baseline"):
        la = [x for x in (num((r.get("load_avg") or [None])[0]) for r in runs if r.get("pipeline") == pipe
                          and isinstance(r.get("load_avg"), list)) if x is not None]
        parts += [f"{pipe} {min(la):.1f}-{max(la):.1f}"] if la else []
    return "1-min load avg " + ", ".join(parts) if parts else "load not recorded"


def _batches(r: dict) -> tuple:
    """(baseline batch, lean batch) of a ratio record (older files have a single ``batch``)."""
    return r.get("baseline_batch", r.get("batch")), r.get("lean_batch", r.get("batch"))


def _order(r: dict) -> tuple:
    return str(r.get("thp")), str(_batches(r))


def training_rows(ctx: Context) -> list[Row]:
    """Training pairs/s and peak RSS, lean ÷ official-style baseline, and FLOP use, per atom set."""
    name, doc = training_doc(ctx)
    name = name or "training"
    ratios, runs = dicts(at(doc, "ratios")), runs_of(doc)
    qnote = "quick run (small batch): not the full setting; run the full command" if "quick" in name else ""
    if at(doc, "merged_from"):
        merged = ", ".join(Path(str(m)).name for m in doc["merged_from"])
        qnote = f"merged from {merged} (separate invocations, same data; {load_summary(runs)}: compare pairs per CPU-s)"
    rows = []
    for atoms, label, _ in ATOMS:
        fig, goal = f"training pairs/s, mdkoop lean ÷ official-style schnetpack baseline, CLN025 {label}", "≥ 2x"
        sel = sorted((r for r in ratios if r.get("atoms") == atoms and num(r.get("speedup_pairs_per_s")) is not None), key=_order)
        if not sel:
            rows.append(ctx.missing(name, fig, goal, None if doc is None else f"no {atoms}-atom lean/baseline pair in {ctx.src(name)}"))
        for r in sel:
            (bb, lb), s = _batches(r), num(r["speedup_pairs_per_s"])
            m = f"{s:.2f}x wall ({fmt(num(r.get('speedup_pairs_per_cpu_s')))}x per CPU-s); lean batch {lb} vs baseline batch {bb}, THP={r.get('thp')}"
            extra = "baseline cannot run at the lean batch within the memory cap" if bb != lb else ""
            rows.append(ctx.row(name, fig, goal, m, status_ge(s, 2.0), "; ".join(x for x in (qnote, extra) if x)))
    for atoms, _, label in ATOMS:
        fig, goal = f"peak RSS at batch 384, lean ÷ baseline, CLN025 {label}", "≤ 1/4 = 0.25"
        sel = sorted((r for r in ratios if r.get("atoms") == atoms and _batches(r)[1] == 384
                      and num(r.get("memory_ratio_lean_over_baseline")) is not None), key=_order)
        failed = [r["error"] for r in runs if (r.get("pipeline"), r.get("atoms"), r.get("batch")) == ("baseline", atoms, 384) and r.get("error")]
        if not sel:
            why = f"baseline at batch 384: {failed[0]}" if failed else (
                None if doc is None else f"no {atoms}-atom lean run at batch 384 with a baseline in {ctx.src(name)}")
            rows.append(ctx.missing(name, fig, goal, why))
        for r in sel:
            bb, q = _batches(r)[0], num(r["memory_ratio_lean_over_baseline"])
            note = "" if bb == 384 else (f"baseline measured at batch {bb} (a batch-384 baseline would use more): the true ratio is lower"
                                         + (f"; baseline at 384: {failed[0]}" if failed else ""))
            rows.append(ctx.row(name, fig, goal, f"{q:.3f} (baseline batch {bb}, THP={r.get('thp')})", status_le(q, 0.25), note))
    peak = at(doc, "matmul_peak")
    gfl = [g for g in (num(at(p, "matmul_gflops")) for p in (peak if isinstance(peak, list) else [peak])) if g]
    for atoms, _, label in ATOMS:
        fig, goal = f"achieved GFLOP/s ÷ measured fp32 matmul peak, training step, CLN025 {label}", "no threshold: reported"
        sel = sorted((r for r in runs if r.get("atoms") == atoms and num(r.get("fraction_of_matmul_peak")) is not None),
                     key=lambda r: (str(r.get("pipeline")), str(r.get("batch")), str(r.get("thp"))))
        if not sel:
            rows.append(ctx.missing(name, fig, goal, None if doc is None else f"no {atoms}-atom run with FLOP counts"))
            continue
        parts = [f"{r.get('pipeline')} b{r.get('batch')} THP{r.get('thp')}: {100 * num(r['fraction_of_matmul_peak']):.1f}% "
                 f"({fmt(num(r.get('gflops_per_s')), 1)} GFLOP/s)" for r in sel]
        pk = f"peak {fmt(statistics.median(gfl), 1)} GFLOP/s (2048² fp32 mm)" if gfl else ""
        rows.append(ctx.row(name, fig, goal, "; ".join(parts), REPORTED, "; ".join(x for x in (pk, qnote) if x)))
    return rows


def loader_share_rows(ctx: Context) -> list[Row]:
    """The in-process loader's gather time as a share of the lean training step (two files)."""
    name, doc = "bench_loader", ctx.docs.get("bench_loader")
    fig, goal = "in-process `PairLoader` gather time ÷ lean training step (heavy atoms, batch 384)", "≤ 5% (data handling is 0–3% of the official step)"
    bps = num(at(doc, "pairloader_batches_per_s"))
    tname, tdoc = training_doc(ctx)
    steps = [s for s in (num(r.get("median_step_s")) for r in runs_of(tdoc) if (r.get("pipeline"), r.get("atoms"), r.get("batch"))
                         == ("lean", "heavy", at(doc, "batch_pairs", default=384))) if s]
    if bps is None:
        return [ctx.missing(name, fig, goal)]
    if not steps:
        why = "no lean heavy-atom training run at batch 384 in the training JSON" if tdoc else ctx.why_missing("training")
        return [Row(fig, goal, "—", NOT_MEASURED, ctx.command("training"), note=why)]
    share = (1.0 / bps) / min(steps)
    m = f"{100 * share:.2f}% ({1000 / bps:.1f} ms per batch vs {min(steps):.2f} s per step)"
    return [ctx.row(name, fig, goal, m, status_le(share, 0.05), f"step from {ctx.src(tname)} (fastest THP setting)")]


def stability_name(docs: dict) -> str:
    """``stability`` if present, else ``stability_quick`` if present, else ``stability``."""
    return full_or_quick(docs, "stability")


def _count(row: dict, key: str) -> int:
    return int(num(row.get(key)) or 0)


def stability_rows(ctx: Context) -> list[Row]:
    """NaN/divergence counts per loss over seeds × batch sizes, and held-out VAMP-2 at the smallest batch."""
    name = stability_name(ctx.docs)
    doc = ctx.docs.get(name)
    table = dicts(at(doc, "rows"))
    fig = "LoRA (joint, sequential, none): NaN + diverged runs over seeds × batch {16, 64, 384}"
    goal = "0 (LoRA, under every nesting mode, never produces NaN or diverges)"
    if not table:
        return [ctx.missing(name, fig, goal)]
    loss = {id(r): str(r.get("loss", "?")) for r in table}
    lora = [r for r in table if loss[id(r)].startswith("lora")]
    if lora:
        nans, div = sum(_count(r, "nan") for r in lora), sum(_count(r, "diverged") for r in lora)
        bad = sum(max(_count(r, "nan"), _count(r, "diverged")) for r in lora)
        m = f"{bad} of {sum(_count(r, 'runs') for r in lora)} runs ({nans} NaN, {div} diverged)"
        definition = at(doc, "definitions", "diverged")
        note = ("quick smoke run (1 seed, few steps), not the full sweep; " * name.endswith("quick")
                + (f"diverged = {definition}" if definition else ""))
        rows = [ctx.row(name, fig, goal, m, MET if nans == 0 and bad == 0 else NOT_MET, note)]
    else:
        rows = [ctx.missing(name, fig, goal, "no LoRA rows in the stability JSON")]
    for lab in sorted({v for v in loss.values() if not v.startswith("lora")}):
        parts = [f"b{r.get('batch_size')}: {_count(r, 'nan')} NaN, {_count(r, 'diverged')} div / {r.get('runs')}"
                 for r in table if loss[id(r)] == lab]
        rows.append(ctx.row(name, f"{lab}: NaN and diverged runs per batch size", "no threshold: recorded", "; ".join(parts), REPORTED))
    small = min((r.get("batch_size") for r in table if isinstance(r.get("batch_size"), int)), default=None)

    def objective(r):  # VAMP losses are minus the batch score: the saturated batch objective beside the real scores
        v = num(r.get("last_batch_loss_median"))
        return f"; last-batch VAMP objective {fmt(-v)}" if v is not None and loss[id(r)].startswith("vamp") else ""

    parts = [f"{loss[id(r)]} {fmt(num(r.get('test_vamp2_median')))} (all training pairs {fmt(num(r.get('train_vamp2_median')))}"
             f"{objective(r)})" for r in table if r.get("batch_size") == small]
    if parts:
        rows.append(ctx.row(name, f"held-out VAMP-2 of the learned features at batch {small}, median over seeds "
                                  f"(max {at(doc, 'max_vamp2', default='?')})",
                            "no threshold: reported (only held-out scores show small-batch failure)", "; ".join(parts), REPORTED,
                            "every batch size, with min/max: the stability table below"))
    return rows


def gpu_rows(ctx: Context) -> list[Row]:
    """CUDA figures the scripts add when a GPU is present; one ``not measured`` row otherwise."""
    rows = []
    for case, _, label in ATOMS:
        v = num(at(ctx.docs.get("bench_graphs"), "cases", case, "cuda_radius_graph_graphs_per_s"))
        if v is not None:
            gpu = at(ctx.docs["bench_graphs"], "machine", "cuda")
            rows.append(ctx.row("bench_graphs", f"GPU radius graphs/s, CLN025 {label} ({gpu})",
                                "no threshold: reported whenever a GPU is available", f"{v:.0f} graphs/s", REPORTED))
    ratios = [x for x in (num(r.get("unbiased_cost_ratio")) for r in dicts(at(ctx.docs.get("objectives"), "rows"))
                          if r.get("device") == "cuda") if x is not None]
    if ratios:
        rows.append(ctx.row("objectives", "GPU unbiased ÷ biased LoRA step time (joint), median over (B, k)",
                            "no threshold: reported (the CPU figure decides the default)",
                            f"{statistics.median(ratios):.2f}x (per-shape times in the objectives table)", REPORTED))
    if not rows:
        return [Row("GPU figures: pairs/s in training, peak memory, utilisation; graph building and objectives on device",
                    "reported whenever a GPU is available", "—", NOT_MEASURED, f"{PY} benchmarks/run_all.py (on a machine with CUDA)",
                    note="no GPU in any result file (none was lent in this session)")]
    return rows + [Row("GPU training pairs/s, peak memory and utilisation", "reported whenever a GPU is available", "—",
                       NOT_MEASURED, "— (bench_training.py runs on the CPU only)", note="no GPU training benchmark script yet")]
