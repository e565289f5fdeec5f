"""Speed, memory and cost figures of RESULTS.md: data handling, objectives, training, inference, OpenMM, threads, GPU.

Each figure is declared once as a :class:`_results_base.Figure`; :mod:`make_results` orders them.
"""

from __future__ import annotations

import _results_base as rb
from _results_base import Figure, at, case_doc, cases, dicts, fmt, full_or_quick, median, num, read

#: CLN025 atom sets: (key, label with the count, short label)
ATOMS = (("heavy", "heavy atoms (93)", "heavy atoms"), ("all", "all atoms (175)", "all atoms"))
ATOMS_CASES = [(key, short) for key, _, short in ATOMS]


# ----------------------------------------------------------------------------- data handling and objectives
def _prepare_rss(d):
    rss = d["peak_rss_bytes"]
    return num(d.get("rss_ratio_10x_over_1x")) or rss["prepare_10x"] / rss["prepare_1x"]


def _prepare_rss_note(d):
    rss = at(d, "peak_rss_bytes") or {}
    l1, l10 = num(rss.get("mdtraj_load_1x")), num(rss.get("mdtraj_load_10x"))
    return f"plain mdtraj.load for contrast: {l10 / l1:.2f}x" if l1 and l10 is not None else ""


def _cpu_objectives(d) -> list[dict]:
    return [r for r in dicts(d["rows"]) if r.get("device", "cpu") == "cpu"]


def _unbiased_median(d):
    med = num(at(d, "summary", "median_unbiased_cost_ratio_cpu"))
    return med if med is not None else median(r.get("unbiased_cost_ratio") for r in _cpu_objectives(d))


def _lora_over_vamp(d) -> list[float]:
    return [num(r["lora_joint_ms"]) / num(r["vamp2_ms"]) for r in _cpu_objectives(d)
            if num(r.get("lora_joint_ms")) and num(r.get("vamp2_ms"))]


DATA = [
    Figure("bench_prepare", "`prepare` frames/s ÷ `mdtraj.load` frames/s (same XTC, 1,656 heavy atoms of 47,681)", "≥ 0.8",
           lambda d: f"{d['ratio_prepare_over_mdtraj_load']:.2f}x ({fmt(num(d.get('prepare_frames_per_s')), 1)} vs "
                     f"{fmt(num(d.get('mdtraj_load_frames_per_s')), 1)} frames/s, {d.get('frames_1x', '?')} frames)",
           lambda d: d["ratio_prepare_over_mdtraj_load"], (">=", 0.8)),
    Figure("bench_prepare", "`prepare` peak RSS, 10x longer trajectory ÷ 1x", "≤ 1.2",
           lambda d: f"{_prepare_rss(d):.2f} ({fmt(d['peak_rss_bytes']['prepare_1x'] / 2**20, 0)} → "
                     f"{fmt(d['peak_rss_bytes']['prepare_10x'] / 2**20, 0)} MiB)",
           _prepare_rss, ("<=", 1.2), _prepare_rss_note),
    Figure("bench_graphs", lambda it: f"batched radius graph graphs/s ÷ schnetpack `MatScipyNeighborList` per frame, CLN025 "
                                      f"{it[2] if it else '?'}, 2x384 frames", "≥ 10x on CPU",
           lambda it: f"{case_doc(it)['ratio_radius_graph_over_matscipy']:.1f}x "
                      f"({fmt(num(case_doc(it).get('mdkoop_radius_graph_graphs_per_s')), 0)} vs "
                      f"{fmt(num(case_doc(it).get('schnetpack_matscipy_graphs_per_s')), 0)} graphs/s; "
                      f"{case_doc(it).get('n_atoms', '?')} atoms, {fmt(num(case_doc(it).get('edges_per_graph')), 0)} edges/graph)",
           lambda it: case_doc(it)["ratio_radius_graph_over_matscipy"], (">=", 10.0),
           lambda it: read(lambda: f"frames→batch path: {case_doc(it)['ratio_frames_to_batch_over_matscipy']:.1f}x", ""),
           cases(*ATOMS_CASES)),
    Figure("bench_loader", "DataLoader with worker processes ÷ in-process `PairLoader`, batches of 384 pairs/s",
           "no threshold: decides the default (workers only if > 1.0x)",
           lambda d: f"{d['ratio_workers_over_pairloader']:.2f}x ({fmt(num(d.get('dataloader_workers_batches_per_s')), 1)} vs "
                     f"{fmt(num(d.get('pairloader_batches_per_s')), 1)} batches/s, {d.get('workers', '?')} workers)",
           note=lambda d: "→ in-process loading (no workers) is the default"
           if read(lambda: d["ratio_workers_over_pairloader"] <= 1.0) else "workers help here"),
]

OBJECTIVES = [
    Figure("objectives", "unbiased ÷ biased LoRA step time (joint nesting), median over B∈{96,384,4096}, k∈{16,64}",
           "< 1.2 → `unbiased=True` becomes the default",
           lambda d: f"{_unbiased_median(d):.2f}x (max {fmt(num(at(d, 'summary', 'max_unbiased_cost_ratio_cpu')))}x)",
           _unbiased_median, ("<", 1.2),
           lambda d: "→ `unbiased=False` stays the default" if _unbiased_median(d) >= 1.2 else "→ unbiased estimator is the default"),
    Figure("objectives", "LoRA (joint) step time ÷ VAMP-2 step time, median over (B, k), CPU",
           "≤ 1.0 (mdkoop's own goal: LoRA needs no matrix inverse)",
           lambda d: f"{median(_lora_over_vamp(d)):.2f}x (range {min(_lora_over_vamp(d)):.2f}–{max(_lora_over_vamp(d)):.2f})",
           lambda d: median(_lora_over_vamp(d)), ("<=", 1.0)),
]


# ----------------------------------------------------------------------------- training and the loader's share of a step
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


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _merged_note(d) -> str:
    merged = ", ".join(str(m).rsplit("/", 1)[-1] for m in at(d, "merged_from") or [])
    return f"merged from {merged} (separate invocations, same data; {load_summary(runs_of(d))}: compare pairs per CPU-s)" if merged else ""


def _ratios(atoms: str, key: str, lean_batch: int | None = None):
    """``each`` over the lean/baseline ratio records of ``atoms`` that have ``key``: items ``(doc, record)``."""
    def each(d):
        recs = [r for r in dicts(d["ratios"]) if r.get("atoms") == atoms and num(r.get(key)) is not None
                and lean_batch in (None, _batches(r)[1])]
        return [(d, r) for r in sorted(recs, key=lambda r: (str(r.get("thp")), str(_batches(r))))]
    return each


def _failed_384(d, atoms: str) -> list[str]:
    return [r["error"] for r in runs_of(d) if r.get("error") and (r.get("pipeline"), r.get("atoms"), r.get("batch")) == ("baseline", atoms, 384)]


def _rss_note(it, atoms: str) -> str:
    bb, failed = _batches(it[1])[0], _failed_384(it[0], atoms)
    return "" if bb == 384 else (f"baseline measured at batch {bb} (a batch-384 baseline would use more): the true ratio is lower"
                                 + (f"; baseline at 384: {failed[0]}" if failed else ""))


def _flop(it) -> str:
    sel = sorted((r for r in runs_of(it[0]) if r.get("atoms") == it[1] and num(r.get("fraction_of_matmul_peak")) is not None),
                 key=lambda r: (str(r.get("pipeline")), str(r.get("batch")), str(r.get("thp"))))
    return "; ".join(f"{r.get('pipeline')} b{r.get('batch')} THP{r.get('thp')}: {100 * num(r['fraction_of_matmul_peak']):.1f}% "
                     f"({fmt(num(r.get('gflops_per_s')), 1)} GFLOP/s)" for r in sel) or None


def _peak_note(d) -> str:
    peak = at(d, "matmul_peak")
    gfl = [g for g in (num(at(p, "matmul_gflops")) for p in (peak if isinstance(peak, list) else [peak])) if g]
    return f"peak {fmt(median(gfl), 1)} GFLOP/s (2048² fp32 mm)" if gfl else ""


def _training(atoms: str, label: str, short: str) -> list[Figure]:
    """The speed, memory and FLOP figures of one atom set."""
    return [
        Figure("training", f"training pairs/s, mdkoop lean ÷ official-style schnetpack baseline, CLN025 {label}", "≥ 2x",
               lambda it: f"{num(it[1]['speedup_pairs_per_s']):.2f}x wall ({fmt(num(it[1].get('speedup_pairs_per_cpu_s')))}x per CPU-s); "
                          f"lean batch {_batches(it[1])[1]} vs baseline batch {_batches(it[1])[0]}, THP={it[1].get('thp')}",
               lambda it: it[1]["speedup_pairs_per_s"], (">=", 2.0),
               lambda it: _join(_merged_note(it[0]), "baseline cannot run at the lean batch within the memory cap"
                                * (_batches(it[1])[0] != _batches(it[1])[1])),
               _ratios(atoms, "speedup_pairs_per_s"), why=lambda d, src: f"no {atoms}-atom lean/baseline pair in {src}"),
        Figure("training", f"peak RSS at batch 384, lean ÷ baseline, CLN025 {short}", "≤ 1/4 = 0.25",
               lambda it: f"{num(it[1]['memory_ratio_lean_over_baseline']):.3f} (baseline batch {_batches(it[1])[0]}, THP={it[1].get('thp')})",
               lambda it: it[1]["memory_ratio_lean_over_baseline"], ("<=", 0.25), lambda it: _rss_note(it, atoms),
               _ratios(atoms, "memory_ratio_lean_over_baseline", 384),
               why=lambda d, src: next((f"baseline at batch 384: {e}" for e in _failed_384(d, atoms)),
                                       f"no {atoms}-atom lean run at batch 384 with a baseline in {src}")),
        Figure("training", f"achieved GFLOP/s ÷ measured fp32 matmul peak, training step, CLN025 {short}", "no threshold: reported",
               _flop, note=lambda it: _join(_peak_note(it[0]), _merged_note(it[0])), each=lambda d: [(d, atoms)],
               why=lambda d, src: f"no {atoms}-atom run with FLOP counts"),
    ]


TRAINING = [fig for pair in zip(*(_training(*atoms) for atoms in ATOMS)) for fig in pair]  # speed, memory, FLOPs


def _loader_and_training(ctx: rb.Context) -> tuple[str, dict | None]:
    """The loader result with the lean heavy-atom training steps at its batch size."""
    doc, tname = ctx.docs.get("bench_loader"), full_or_quick(ctx.docs, "training")
    steps = [s for s in (num(r.get("median_step_s")) for r in runs_of(ctx.docs.get(tname)) if (r.get("pipeline"), r.get("atoms"), r.get("batch"))
                         == ("lean", "heavy", at(doc, "batch_pairs", default=384))) if s]
    return "bench_loader", doc and {**doc, "steps": steps, "training": ctx.src(tname) if tname in ctx.docs else None}


def _gather_share(d) -> float:
    return (1.0 / num(d["pairloader_batches_per_s"])) / min(d["steps"])


LOADER_SHARE = Figure(
    _loader_and_training, "in-process `PairLoader` gather time ÷ lean training step (heavy atoms, batch 384)",
    "≤ 5% (data handling is 0–3% of the official step)",
    lambda d: f"{100 * _gather_share(d):.2f}% ({1000 / num(d['pairloader_batches_per_s']):.1f} ms per batch vs {min(d['steps']):.2f} s per step)",
    _gather_share, ("<=", 0.05), lambda d: f"step from {d['training']} (fastest THP setting)",
    why=lambda d, src: f"no pairloader_batches_per_s in {src}" if num(d.get("pairloader_batches_per_s")) is None
    else f"no lean heavy-atom training run at batch 384 in {d['training'] or 'any training JSON'}")


# ----------------------------------------------------------------------------- inference, OpenMM and threads
def _inf_goal(d) -> float:
    return num(at(d, "goal_ratio")) or 2.0


INF_BASELINE = ("baseline: per frame ASE Atoms → `AtomsConverter` + `MatScipyNeighborList` → schnetpack SchNet + Atomwise, "
                "same weights (CVs checked equal)")


def _fps(it, key) -> str:
    return fmt(num(case_doc(it)["frames_per_s"].get(key)), 1)


def _inference(case: tuple[str, str]) -> list[Figure]:
    """The three inference rows of one system (``(key, label)``), as the benchmark reports them."""
    each = cases(case)
    return [
        Figure("inference", lambda it: f"inference frames/s: `model.transform` ÷ naive schnetpack pipeline, CLN025 {it[2] if it else '?'}, 1 thread",
               lambda it: f"≥ {_inf_goal(it and it[0]):g}x (mdkoop's own goal; no number was set)",
               lambda it: f"{case_doc(it)['ratio_transform_over_baseline']:.2f}x ({_fps(it, 'transform')} vs {_fps(it, 'baseline')} frames/s; "
                          f"{case_doc(it).get('n_atoms', '?')} atoms, {case_doc(it).get('n_frames', '?')} frames, batch {case_doc(it).get('batch_size', '?')})",
               lambda it: case_doc(it)["ratio_transform_over_baseline"], lambda it: (">=", _inf_goal(it[0])), INF_BASELINE, each),
        Figure("inference", lambda it: f"inference frames/s: exported TorchScript CV model, batched, ÷ naive schnetpack pipeline, CLN025 {it[2] if it else '?'}",
               "no threshold: reported",
               lambda it: f"{case_doc(it)['ratio_torchscript_batched_over_baseline']:.2f}x ({_fps(it, 'torchscript_batched')} vs {_fps(it, 'baseline')} frames/s)",
               each=each),
        Figure("inference", lambda it: f"TorchScript CV model, one frame per call (PLUMED/OpenMM per-step pattern), CLN025 {it[2] if it else '?'}",
               "no threshold: reported (cost per MD step)",
               lambda it: f"{case_doc(it)['torchscript_per_frame_ms_per_call']:.2f} ms per call ({case_doc(it).get('n_frames_per_frame_calls', '?')} calls)",
               each=each),
    ]


INFERENCE = [fig for case in (("heavy", "heavy atoms"), ("all", "all 175 atoms")) for fig in _inference(case)]


OPENMM = Figure(
    "openmm_step", lambda d: f"OpenMM bias on {at(d, 'n_cv', default=3)} CVs, ms per MD step (forward + forces): one module per CV ÷ "
                             "`cvs_restraint.pt` (all CVs from one evaluation)",
    "no threshold: reported (cost per MD step before and after)",
    lambda d: (lambda a, b: f"{a / b:.2f}x ({a:.2f} vs {b:.2f} ms per step, {d.get('n_model_atoms')} model atoms, 1 thread)")(
        num(d["ms_per_step"]["per_cv_modules"]), num(d["ms_per_step"]["restraint_module"])),
    note="energies and forces of both checked equal first")


def _thread_configs(d) -> list:
    configs = d["configurations"]
    return [(d, k, configs[k]) for k in ["mdkoop default", *[k for k in configs if k != "mdkoop default"]] if k in configs]


THREADS = Figure(
    "threads", lambda it: f"threads: fit pairs/s with {at(it and it[0], 'n_load_processes', default='?')} busy processes ÷ idle, "
                          f"CLN025 sample, `{it[1] if it else 'mdkoop default'}`",
    lambda it: "no threshold: reported beside the default" if it and it[1] != "mdkoop default" else "under load ≥ 0.5 x idle pairs/s",
    lambda it: f"{it[2]['loaded_over_idle']:.2f} ({it[2]['loaded_pairs_per_s']:.0f} vs {it[2]['idle_pairs_per_s']:.0f} pairs/s, "
               f"median of {it[0].get('repeats', '?')})",
    lambda it: it[2]["loaded_over_idle"], lambda it: (">=", 0.5) if it[1] == "mdkoop default" else None,
    "each fit in a fresh process through the CLI; configurations interleaved", _thread_configs)



GPU = [
    Figure("bench_graphs", lambda it: f"GPU radius graphs/s, CLN025 {it[2]} ({at(it[0], 'machine', 'cuda')})",
           "no threshold: reported whenever a GPU is available",
           lambda it: f"{num(case_doc(it)['cuda_radius_graph_graphs_per_s']):.0f} graphs/s", each=cases(*ATOMS_CASES), optional=True),
    Figure("objectives", "GPU unbiased ÷ biased LoRA step time (joint), median over (B, k)",
           "no threshold: reported (the CPU figure decides the default)",
           lambda d: f"{median(r.get('unbiased_cost_ratio') for r in dicts(d['rows']) if r.get('device') == 'cuda'):.2f}x "
                     "(per-shape times in the objectives table)", optional=True),
]


def gpu_rows(ctx: rb.Context) -> list[rb.Row]:
    """The GPU figures, when a result file has them, and a ``not measured`` row for what no script measures."""
    rows = rb.rows_of(GPU, ctx)
    what, command, why = (("GPU training pairs/s, peak memory and utilisation", "— (bench_training.py runs on the CPU only)",
                           "no GPU training benchmark script yet") if rows else
                          ("GPU figures: pairs/s in training, peak memory, utilisation; graph building and objectives on device",
                           f"{rb.RUN_ALL} (on a machine with CUDA)", "no GPU in any result file (none was lent in this session)"))
    return rows + [rb.Row(what, "reported whenever a GPU is available", "—", rb.NOT_MEASURED, command, note=why)]
