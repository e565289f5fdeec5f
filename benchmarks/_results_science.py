"""Accuracy figures of RESULTS.md: stability, known answers, peers, encoders and the LoRA diagnosis.

Each figure is declared once as a :class:`_results_base.Figure`; :mod:`make_results` orders them.
"""

from __future__ import annotations

from _results_base import Figure, at, cases, dicts, fmt, median, num, read


# ----------------------------------------------------------------------------- stability over seeds and batch sizes
def _count(row: dict, key: str) -> int:
    return int(num(row.get(key)) or 0)


def _losses(d) -> list[tuple[str, dict]]:
    return [(str(r.get("loss", "?")), r) for r in dicts(d["rows"])]


def _lora_runs(d) -> tuple[int, int, int, int]:
    """(bad runs, NaN, diverged, runs) over the LoRA rows of the stability sweep."""
    lora = [r for loss, r in _losses(d) if loss.startswith("lora")]
    if not lora:
        raise ValueError("no LoRA rows")
    return (sum(max(_count(r, "nan"), _count(r, "diverged")) for r in lora), *(sum(_count(r, k) for r in lora) for k in ("nan", "diverged", "runs")))


def _held_out(d) -> str | None:
    small = _smallest(d)
    return "; ".join(f"{loss} {fmt(num(r.get('test_vamp2_median')))} (all training pairs {fmt(num(r.get('train_vamp2_median')))}"
                     + (f"; last-batch VAMP objective {fmt(-v)}" if (v := num(r.get("last_batch_loss_median"))) is not None
                        and loss.startswith("vamp") else "")  # VAMP losses are minus the saturated batch score
                     + ")" for loss, r in _losses(d) if r.get("batch_size") == small) or None


def _smallest(d):
    return min(r.get("batch_size") for _, r in _losses(d) if isinstance(r.get("batch_size"), int))


STABILITY = [
    Figure("stability", "LoRA (joint, sequential, none): NaN + diverged runs over seeds × batch {16, 64, 384}",
           "0 (LoRA, under every nesting mode, never produces NaN or diverges)",
           lambda d: "{0} of {3} runs ({1} NaN, {2} diverged)".format(*_lora_runs(d)), lambda d: _lora_runs(d)[0], ("<=", 0),
           lambda d: f"diverged = {d['definitions']['diverged']}", why=lambda d, src: "no LoRA rows in the stability JSON"),
    Figure("stability", lambda it: f"{it[1]}: NaN and diverged runs per batch size", "no threshold: recorded",
           lambda it: "; ".join(f"b{r.get('batch_size')}: {_count(r, 'nan')} NaN, {_count(r, 'diverged')} div / {r.get('runs')}"
                                for loss, r in _losses(it[0]) if loss == it[1]),
           each=lambda d: [(d, loss) for loss in sorted({x for x, _ in _losses(d) if not x.startswith("lora")})], optional=True),
    Figure("stability", lambda d: f"held-out VAMP-2 of the learned features at batch {_smallest(d)}, median over seeds "
                                  f"(max {at(d, 'max_vamp2', default='?')})",
           "no threshold: reported (only held-out scores show small-batch failure)", _held_out,
           note="every batch size, with min/max: the stability table below", optional=True),
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
           cases(*GT_METHODS)),
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
    ts, walls = read(lambda: median(r.get("slowest_its_ps") for r in runs)), read(lambda: median(r.get("wall_s") for r in runs))
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
           lambda it: f"median ≥ {max(_enc_goal_refs(it)):.3f}" if read(lambda: _enc_goal_refs(it)) else ENCODER_GOALS[0][0],
           lambda it: f"{it[1][1]}: median {median(_scores(it[0][it[1][1]])):.3f}; references: "
                      + ", ".join(f"{r} {p:.3f}" for r, p in zip(it[1][2], _enc_goal_refs(it))),
           lambda it: median(_scores(it[0][it[1][1]])), lambda it: (">=", max(_enc_goal_refs(it))),
           each=lambda d: [(d["rows"], g) for g in ENCODER_GOALS]),
    Figure("encoders", lambda it: ENC + it[0], lambda it: f"reported ({it[1].get('group', '')})", lambda it: _enc_measured(it[1]),
           each=lambda d: [(k, r) for k, r in d["rows"].items() if _scores(r)], optional=True),
]
