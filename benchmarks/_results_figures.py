"""The figures of RESULTS.md, declared once each: source JSON, texts, the number judged, the rule.

A :class:`Figure` is evaluated on its result JSON (``<source>.json``, or ``<source>_quick.json``
when only the smoke run exists). Its callables read the JSON with plain subscripts; a missing
key or an odd value makes the row ``not measured`` with the reason and the command, never an
error. ``each`` turns one declaration into one row per case (atoms, methods, configurations).
Figures that combine several files (training, stability, GPU) are in :mod:`_results_custom`.
"""

from __future__ import annotations

import operator
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _results_base import (
    MET,
    NOT_MEASURED,
    NOT_MET,
    REPORTED,
    Context,
    Row,
    at,
    dicts,
    fmt,
    full_or_quick,
    num,
)

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
    data are missing.
    """

    source: str
    figure: Any
    goal: Any
    measured: Callable[[Any], str | None]
    value: Callable[[Any], float | None] | None = None
    rule: Any = None
    note: Any = ""
    each: Callable[[Any], list] | None = None
    optional: bool = False

    def rows(self, ctx: Context) -> list[Row]:
        name = full_or_quick(ctx.docs, self.source)
        doc = ctx.docs.get(name)
        items = (_read(lambda: list(self.each(doc)), []) if self.each else [doc]) or [None]
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
            return None if self.optional else ctx.missing(name, _text(self.figure, item), _text(self.goal, item))
        status = REPORTED if rule is None else NOT_MEASURED if value is None else MET if OPS[rule[0]](value, rule[1]) else NOT_MET
        note = QUICK * name.endswith("_quick") + _read(lambda: _text(self.note, item), "")
        return ctx.row(name, _text(self.figure, item), _text(self.goal, item), measured, status, note.rstrip("; "))


def rows_of(figures: list[Figure], ctx: Context) -> list[Row]:
    """The rows of ``figures``, in order."""
    return [row for fig in figures for row in fig.rows(ctx)]


def _read(fn, default=None):
    try:
        return fn()
    except READ_ERRORS:
        return default


def _text(text, item) -> str:
    return text(item) if callable(text) else text


def median(values) -> float:
    vals = [v for v in (num(x) for x in values) if v is not None]
    return statistics.median(vals)


def _cases(*cases):
    """``each`` over fixed cases: items ``(doc, key, label)``."""
    return lambda d: [(d, k, label) for k, label in cases]


def _case_doc(item) -> dict:
    """The ``cases[key]`` record of a :func:`_cases` item."""
    d, key, _ = item
    return d["cases"][key]


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
           lambda it: f"{_case_doc(it)['ratio_radius_graph_over_matscipy']:.1f}x "
                      f"({fmt(num(_case_doc(it).get('mdkoop_radius_graph_graphs_per_s')), 0)} vs "
                      f"{fmt(num(_case_doc(it).get('schnetpack_matscipy_graphs_per_s')), 0)} graphs/s; "
                      f"{_case_doc(it).get('n_atoms', '?')} atoms, {fmt(num(_case_doc(it).get('edges_per_graph')), 0)} edges/graph)",
           lambda it: _case_doc(it)["ratio_radius_graph_over_matscipy"], (">=", 10.0),
           lambda it: _read(lambda: f"frames→batch path: {_case_doc(it)['ratio_frames_to_batch_over_matscipy']:.1f}x", ""),
           _cases(("heavy", "heavy atoms"), ("all", "all atoms"))),
    Figure("bench_loader", "DataLoader with worker processes ÷ in-process `PairLoader`, batches of 384 pairs/s",
           "no threshold: decides the default (workers only if > 1.0x)",
           lambda d: f"{d['ratio_workers_over_pairloader']:.2f}x ({fmt(num(d.get('dataloader_workers_batches_per_s')), 1)} vs "
                     f"{fmt(num(d.get('pairloader_batches_per_s')), 1)} batches/s, {d.get('workers', '?')} workers)",
           note=lambda d: "→ in-process loading (no workers) is the default"
           if _read(lambda: d["ratio_workers_over_pairloader"] <= 1.0) else "workers help here"),
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


# ----------------------------------------------------------------------------- known answers and peers
def _seeds_note(d) -> str:
    wall = num(at(d, "wall_s"))
    return (f"{at(d, 'seeds', default='?')} seed(s), median (max) over seeds"
            + (f"; whole benchmark {wall:.0f} s wall on 1 thread" if wall is not None else ""))


GT_METHODS = (("lora_joint", "nested LoRA (joint)"), ("lora_sequential", "nested LoRA (sequential)"),
              ("vamp2", "VAMP-2 loss (same encoders, same budget)"))
PRINZ = (("max_rel_err_vs_msm", 0.05, "the 150-bin reversible MSM on the same data and lag"),
         ("max_rel_err_vs_exact", 0.15, "the exact generator timescales −1/λ (fine-grid SqRA)"))


def _hausdorff(it):
    return it[0]["logistic_map"]["methods"][it[1]]


def _prinz_note(it) -> str:
    d, (key, _, _) = it
    if key != "max_rel_err_vs_exact":
        return _seeds_note(d)
    msm = num(at(d, "prinz", "msm_max_rel_err_vs_exact", "median"))
    return (f"the MSM itself is {fmt(None if msm is None else 100 * msm, 1)}% off the exact values at this lag "
            f"(lag-limited: both estimates are expected to be similarly off); " + _seeds_note(d))


def _prinz(it):
    d, (key, _, _) = it
    return d["prinz"][key]


GROUND_TRUTH = [
    Figure("ground_truth", lambda it: "logistic map (cos^20 noise): directed Hausdorff distance, exact leading 3 eigenvalues "
                                      f"→ estimated, {it[2] if it else '?'}",
           lambda it: "— (baseline, for comparison)" if it and it[1] == "vamp2" else "≤ 0.05, median over seeds (the known-answer test's bound)",
           lambda it: f"{_hausdorff(it)['hausdorff']['median']:.3f} (max {fmt(num(at(_hausdorff(it), 'hausdorff', 'max')), 3)}); "
                      f"top-4 singular values |err| ≤ {fmt(num(at(_hausdorff(it), 'sv_abs_err_max', 'median')), 3)} (median)",
           lambda it: _hausdorff(it)["hausdorff"]["median"], lambda it: None if it[1] == "vamp2" else ("<=", 0.05),
           lambda it: ("same encoders and budget as LoRA; " if it[1] == "vamp2" else "") + _seeds_note(it[0]),
           _cases(*GT_METHODS)),
    Figure("ground_truth", lambda it: f"Prinz potential, `KoopmanSVD` MLP at lag {at(it and it[0], 'prinz', 'lag_time', default=0.05)}: "
                                      f"top-3 implied timescales, max relative error vs {it[1][2] if it else '?'}",
           lambda it: f"≤ {it[1][1]:.0%}, median over seeds" if it else "?",
           lambda it: f"{_prinz(it)['median']:.1%}" + (f" (max {_prinz(it)['max']:.1%})" if num(_prinz(it).get("max")) is not None else ""),
           lambda it: _prinz(it)["median"], lambda it: ("<=", it[1][1]), _prinz_note,
           lambda d: [(d, p) for p in PRINZ]),
]

PEERS = {"mdkoop_lora": "mdkoop SchNet + nested LoRA", "mdkoop_vamp2": "mdkoop SchNet + VAMP-2 loss (same pipeline)",
         "deeptime_vampnet": "deeptime VAMPNet (same SchNet lobe, same steps)", "tica": "deeptime TICA"}


def _peers_note(d) -> str:
    wall = num(at(d, "wall_s"))
    return (f"{len(at(d, 'settings', 'seeds') or [])} training seed(s), median over seeds"
            + (f"; whole benchmark {wall:.0f} s wall" if wall is not None else ""))


def _vamp_cell(methods: dict, key: str) -> str:
    m = methods.get(key) or {}
    allv = m.get("test_vamp2_all") or []
    return fmt(num(m.get("test_vamp2_median")), 3) + (f" [{min(allv):.3f}–{max(allv):.3f}]" if len(allv) > 1 else "")


def _t1(method: dict) -> float:
    return float(method["timescales_ps_median"][0])


def _ala2_t1(a) -> str:
    ts, ref, ci = _t1(a["methods"]["mdkoop_lora"]), float(a["msm"]["both"]["timescales_ps"][0]), at(a, "msm", "both", "ci95_ps")
    return f"{ts:.1f} vs {ref:.1f} ps ({ts / ref - 1:+.1%})" + (f"; MSM 95% interval {ci[0][0]:.1f}–{ci[0][1]:.1f} ps" if ci else "")


def _ala2_t1_note(a) -> str:
    tr, ref = at(a, "msm", "train_only", "timescales_ps") or [], at(a, "msm", "both", "timescales_ps") or []
    phi = ", ".join(f"{100 * x:.2f}%" for x in at(a, "data", "fraction_phi_positive") or [])
    return (f"MSM on the training trajectory alone: {fmt(num(tr[0]) if tr else None, 1)} ps. t2, t3 are below the lag for every "
            f"method (MSM {fmt(num(ref[1]) if len(ref) > 1 else None, 1)} ps): only one slow process (α_R ↔ β/PPII) at 340 K "
            f"in implicit solvent; φ > 0 is visited {phi} of the time. " + _peers_note(a["doc"]))


def _ala2(d):
    return {**d["ala2"], "doc": d} if isinstance(at(d, "ala2"), dict) else None


def _cln(d) -> dict:
    return {**d["cln025"], "doc": d}


def _lag(a, digits=None) -> str:
    lag = num(at(a, "lag_ps"))
    return fmt(lag, digits) if digits is not None else "?" if lag is None else f"{lag:g} ps"


def _vs_peer(it) -> float:
    m = it[0]["methods"]
    return m["mdkoop_lora"]["test_vamp2_median"] - m[it[1]]["test_vamp2_median"]


PEER_FIGURES = [
    Figure("peers", lambda a: f"alanine dipeptide (2 × {at(a, 'data', 'length_ns', default='?')} ns, 340 K): slowest implied "
                              f"timescale t1 of mdkoop (SchNet + nested LoRA, heavy atoms) vs a reversible MSM on the (φ, ψ) grid, lag {_lag(a)}",
           "within 15%", _ala2_t1, lambda a: abs(_t1(a["methods"]["mdkoop_lora"]) / a["msm"]["both"]["timescales_ps"][0] - 1),
           ("<=", 0.15), _ala2_t1_note, lambda d: [_ala2(d)]),
    Figure("peers", lambda a: f"alanine dipeptide: t1 of the peers vs the same MSM, lag {_lag(a)}", "— (peers, for comparison)",
           lambda a: "; ".join(f"{PEERS[k]} {_t1(v):.1f} ps ({_t1(v) / a['msm']['both']['timescales_ps'][0] - 1:+.1%})"
                               for k, v in a["methods"].items() if k != "mdkoop_lora" and v.get("timescales_ps_median")) or "—",
           note="each from a reversible linear model on the method's 3 functions (training data)", each=lambda d: [_ala2(d)],
           optional=True),
    Figure("peers", lambda it: "alanine dipeptide: test VAMP-2 of the top 3 functions (trained on trajectory 1, scored on 2; max 4), "
                               f"mdkoop LoRA vs {PEERS[it[1]] if it else '?'}" + (" on all heavy-atom pair distances" if it and it[1] == "tica" else ""),
           "≥ the peer's (median over seeds; project goal)",
           lambda it: f"{_vamp_cell(it[0]['methods'], 'mdkoop_lora')} vs {_vamp_cell(it[0]['methods'], it[1])} ({_vs_peer(it):+.4f})",
           _vs_peer, (">=", 0.0),
           lambda it: f"mdkoop's VAMP-2 loss in the same pipeline: {_vamp_cell(it[0]['methods'], 'mdkoop_vamp2')}; " + _peers_note(it[0]["doc"]),
           lambda d: [(_ala2(d), p) for p in ("tica", "deeptime_vampnet")]),
    Figure("peers", lambda c: f"CLN025 bundled sample (0.75 ns, 425 K; interleaved train/test blocks): test VAMP-2 of the top 3 "
                              f"functions at lag {_lag(c, 0)} ps, all methods", "— (indicative only: 2 folding events)",
           lambda c: "; ".join(f"{PEERS[k]} {_vamp_cell(c['methods'], k)}" for k in PEERS if k in c["methods"]) or None,
           note=lambda c: "TICA on the 45 Cα pair distances; training-data VAMP-2: "
           + "; ".join(f"{k} {fmt(num(v.get('train_vamp2_median')), 2)}" for k, v in at(c, "methods", default={}).items())
           + "; " + _peers_note(at(c, "doc")), each=lambda d: [_cln(d)]),
    Figure("peers", lambda c: f"CLN025 sample: slowest implied timescale t1 at lag {_lag(c, 0)} ps", "— (indicative only: 2 folding events)",
           lambda c: "; ".join(f"{k} {_t1(v):.0f} ps" for k, v in c["methods"].items() if v.get("timescales_ps_median"))
           + f"; MSM on Cα RMSD {fmt(num((at(c, 'msm', 'both', 'timescales_ps') or [None])[0]), 0)} ps" if c["methods"] else None,
           note="0.75 ns holds too few folding events for a reliable timescale", each=lambda d: [_cln(d)],
           optional=True),
]


# ----------------------------------------------------------------------------- encoders and the LoRA diagnosis
CLN_SPLIT = "CLN025 (train s11 first 8 ns; test s11 last 8 ns, s12, s13; lag 50 ps, "
ENC = CLN_SPLIT + "3 CVs + constant): "
#: (goal row, mdkoop row, reference rows it must reach)
ENCODER_GOALS = (
    ("best mdkoop encoder ≥ VAMPNet on the same descriptors and TICA on Cα distances", "torsions (φ, ψ, χ1), LoRA joint",
     ("deeptime VAMPNet on torsions (φ, ψ, χ1)", "TICA on Cα distances")),
    ("SchNet default (trained until converged) ≥ VAMPNet on heavy-atom distances", "SchNet (defaults, until converged), LoRA joint",
     ("deeptime VAMPNet on heavy-atom distances",)),
)


def _scores(row) -> list[float]:
    return [s for s in (num(r.get("test_vamp2")) for r in dicts(at(row, "runs"))) if s is not None]


def _enc_goal_refs(it) -> list[float]:
    rows, (_, _, refs) = it
    return [median(_scores(rows[r])) for r in refs]


def _enc_measured(row) -> str:
    s, runs = _scores(row), dicts(row["runs"])
    text = f"test VAMP-2 {median(s):.3f} [{min(s):.3f}–{max(s):.3f}], {len(s)} seed(s)"
    ts, walls = _read(lambda: median(r.get("slowest_its_ps") for r in runs)), _read(lambda: median(r.get("wall_s") for r in runs))
    epochs = at(row, "settings", "epochs")
    return (text + (f"; t1 {ts:.0f} ps" if ts is not None else "") + (f"; {walls:.1f} s per fit" if walls is not None else "")
            + (f" (capped at {epochs} epochs)" if epochs else ""))


def _judged(run) -> float | None:
    return num(at(run, "judge_test_vamp2"))


def _lora_peers(d) -> tuple[float, list[float]]:
    vnet = [v for v in map(_judged, dicts(at(d, "reference", "vampnet_mlp_ca_distances"))) if v is not None]
    return num(at(d, "reference", "tica_ca_distances", "judge_test_vamp2")), vnet


def _lora_measured(exp) -> str:
    runs = dicts(exp["runs"])
    scores, r0 = [s for s in map(_judged, runs) if s is not None], runs[0]
    return (f"test VAMP-2 {min(scores):.3f}" + (f"–{max(scores):.3f}" if len(scores) > 1 else "")
            + f"; t1 {num(r0['slowest_its_ps']):.0f} ps; {r0.get('epochs')} epochs; {num(r0['wall_s']):.0f} s")


def _lora_is_goal(it) -> bool:
    tica, vnet = _lora_peers(it[0])
    return it[1] == "defaults, 20 epochs" and tica is not None and bool(vnet)


def _lora_goal(it) -> str:
    if it is None:
        return "≥ TICA and deeptime VAMPNet (Cα distances) on the same split"
    tica, vnet = _lora_peers(it[0])
    return (f"≥ max(TICA {tica:.3f}, VAMPNet {max(vnet):.3f}) test VAMP-2 (deeptime's judge)" if _lora_is_goal(it)
            else "diagnosis (see docs/dev/lora_rare_events.md)")


STUDIES = [
    Figure("lora_diagnosis_cln025",
           lambda it: CLN_SPLIT + "3 CVs): " + it[1] if it else "CLN025 (shared 390 K runs): held-out VAMP-2 of nested LoRA, default settings",
           _lora_goal, lambda it: _lora_measured(it[2]), lambda it: min(map(_judged, it[2]["runs"])),
           lambda it: (">=", max(_lora_peers(it[0])[0], *_lora_peers(it[0])[1])) if _lora_is_goal(it) else None,
           each=lambda d: [(d, k, e) for k, e in d["experiments"].items() if any(map(_judged, dicts(at(e, "runs"))))]),
    Figure("encoders", lambda it: ENC + (it[1][0] if it else "encoders × losses"),
           lambda it: f"median ≥ {max(_enc_goal_refs(it)):.3f}" if _read(lambda: _enc_goal_refs(it)) else ENCODER_GOALS[0][0],
           lambda it: f"{it[1][1]}: median {median(_scores(it[0][it[1][1]])):.3f}; references: "
                      + ", ".join(f"{r} {p:.3f}" for r, p in zip(it[1][2], _enc_goal_refs(it))),
           lambda it: median(_scores(it[0][it[1][1]])), lambda it: (">=", max(_enc_goal_refs(it))),
           each=lambda d: [(d["rows"], g) for g in ENCODER_GOALS]),
    Figure("encoders", lambda it: ENC + it[0], lambda it: f"reported ({it[1].get('group', '')})", lambda it: _enc_measured(it[1]),
           each=lambda d: [(k, r) for k, r in d["rows"].items() if _scores(r)], optional=True),
]


# ----------------------------------------------------------------------------- inference, OpenMM and threads
def _inf_goal(d) -> float:
    return num(at(d, "goal_ratio")) or 2.0


INF_BASELINE = ("baseline: per frame ASE Atoms → `AtomsConverter` + `MatScipyNeighborList` → schnetpack SchNet + Atomwise, "
                "same weights (CVs checked equal)")


def _fps(it, key) -> str:
    return fmt(num(_case_doc(it)["frames_per_s"].get(key)), 1)


def _inference(case: tuple[str, str]) -> list[Figure]:
    """The three inference rows of one system (``(key, label)``), as the benchmark reports them."""
    each = _cases(case)
    return [
        Figure("inference", lambda it: f"inference frames/s: `model.transform` ÷ naive schnetpack pipeline, CLN025 {it[2] if it else '?'}, 1 thread",
               lambda it: f"≥ {_inf_goal(it and it[0]):g}x (mdkoop's own goal; no number was set)",
               lambda it: f"{_case_doc(it)['ratio_transform_over_baseline']:.2f}x ({_fps(it, 'transform')} vs {_fps(it, 'baseline')} frames/s; "
                          f"{_case_doc(it).get('n_atoms', '?')} atoms, {_case_doc(it).get('n_frames', '?')} frames, batch {_case_doc(it).get('batch_size', '?')})",
               lambda it: _case_doc(it)["ratio_transform_over_baseline"], lambda it: (">=", _inf_goal(it[0])), INF_BASELINE, each),
        Figure("inference", lambda it: f"inference frames/s: exported TorchScript CV model, batched, ÷ naive schnetpack pipeline, CLN025 {it[2] if it else '?'}",
               "no threshold: reported",
               lambda it: f"{_case_doc(it)['ratio_torchscript_batched_over_baseline']:.2f}x ({_fps(it, 'torchscript_batched')} vs {_fps(it, 'baseline')} frames/s)",
               each=each),
        Figure("inference", lambda it: f"TorchScript CV model, one frame per call (PLUMED/OpenMM per-step pattern), CLN025 {it[2] if it else '?'}",
               "no threshold: reported (cost per MD step)",
               lambda it: f"{_case_doc(it)['torchscript_per_frame_ms_per_call']:.2f} ms per call ({_case_doc(it).get('n_frames_per_frame_calls', '?')} calls)",
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

#: The declared figures after the training and stability ones, in the order of the table.
AFTER_STABILITY = GROUND_TRUTH + PEER_FIGURES + STUDIES + INFERENCE + [OPENMM, THREADS]
