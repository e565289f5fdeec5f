"""Extractors of :mod:`make_results`: one small function per result JSON, each returning table rows."""

from __future__ import annotations

import statistics

from _results_base import (
    MET,
    NOT_MEASURED,
    NOT_MET,
    PY,
    REPORTED,
    Context,
    Row,
    fmt,
    full_or_quick,
    get,
    num,
    status_ge,
    status_le,
)
from _results_encoders import encoder_rows
from _results_ground_truth import ground_truth_rows
from _results_inference import inference_rows
from _results_lora import lora_diagnosis_rows
from _results_peers import peers_rows
from _results_threads import openmm_step_rows, threads_rows
from _results_training import _runs, _training_doc, training_rows


# --------------------------------------------------------------------------- extractors
def prepare_rows(ctx: Context) -> list[Row]:
    """Rows of ``bench_prepare.json``: throughput ratio vs mdtraj.load, peak-RSS ratio 10x vs 1x."""
    name, doc = "bench_prepare", ctx.docs.get("bench_prepare")
    f1 = "`prepare` frames/s ÷ `mdtraj.load` frames/s (same XTC, 1,656 heavy atoms of 47,681)"
    g1 = "≥ 0.8"
    f2 = "`prepare` peak RSS, 10x longer trajectory ÷ 1x"
    g2 = "≤ 1.2"
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
        goal = "≥ 10x on CPU"
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
    goal2 = "≤ 5% (data handling is 0–3% of the official step)"
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
    goal = "< 1.2 → `unbiased=True` becomes the default"
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


def _stab_label(row: dict) -> str:
    return str(row.get("loss", "?"))


def _count(row: dict, key: str) -> int:
    return int(num(row.get(key)) or 0)


def stability_name(docs: dict) -> str:
    """``stability`` if present, else ``stability_quick`` if present, else ``stability``."""
    return full_or_quick(docs, "stability")


def stability_rows(ctx: Context) -> list[Row]:
    """Rows of ``stability.json``: NaN/divergence counts per loss, held-out VAMP-2 at the smallest batch."""
    name = stability_name(ctx.docs)
    doc = ctx.docs.get(name)
    table = [r for r in (get(doc, "rows") or []) if isinstance(r, dict)]
    fig = "LoRA (joint, sequential, none): NaN + diverged runs over seeds × batch {16, 64, 384}"
    goal = "0 (LoRA, under every nesting mode, never produces NaN or diverges)"
    if not table:
        return [ctx.missing(name, fig, goal)]
    rows = []
    lora = [r for r in table if _stab_label(r).startswith("lora")]
    if lora:
        nans = sum(_count(r, "nan") for r in lora)
        bad = sum(max(_count(r, "nan"), _count(r, "diverged")) for r in lora)
        total = sum(_count(r, "runs") for r in lora)
        m = f"{bad} of {total} runs ({nans} NaN, {sum(_count(r, 'diverged') for r in lora)} diverged)"
        definition = get(doc, "definitions.diverged")
        note = f"diverged = {definition}" if definition else ""
        if name.endswith("quick"):
            note = "quick smoke run (1 seed, few steps), not the full sweep; " + note
        rows.append(ctx.row(name, fig, goal, m, MET if nans == 0 and bad == 0 else NOT_MET, note))
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
                "no threshold: recorded",
                "; ".join(parts),
                REPORTED,
            )
        )
    mx = get(doc, "max_vamp2", "?")
    small = min((r.get("batch_size") for r in table if isinstance(r.get("batch_size"), int)), default=None)
    def _batch_objective(r):
        # VAMP losses are minus the batch score: show the saturated batch objective next to the real scores
        v = num(r.get("last_batch_loss_median"))
        return f"; last-batch VAMP objective {fmt(-v)}" if v is not None and _stab_label(r).startswith("vamp") else ""

    parts = [
        f"{_stab_label(r)} {fmt(num(r.get('test_vamp2_median')))} "
        f"(all training pairs {fmt(num(r.get('train_vamp2_median')))}{_batch_objective(r)})"
        for r in table
        if r.get("batch_size") == small
    ]
    if parts:
        rows.append(
            ctx.row(
                name,
                f"held-out VAMP-2 of the learned features at batch {small}, median over seeds (max {mx})",
                "no threshold: reported (only held-out scores show small-batch failure)",
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
                    "no threshold: reported whenever a GPU is available",
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
                "reported whenever a GPU is available",
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
                "reported whenever a GPU is available",
                "—",
                NOT_MEASURED,
                "— (bench_training.py runs on the CPU only)",
                note="no GPU training benchmark script yet",
            )
        )
    return rows


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
        ground_truth_rows,
        peers_rows,
        lora_diagnosis_rows,
        encoder_rows,
        inference_rows,
        openmm_step_rows,
        threads_rows,
        gpu_rows,
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
