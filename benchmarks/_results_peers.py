"""Peer-comparison figures for :mod:`make_results`: ``peers.json`` of ``bench_peers.py``.

Rows: alanine dipeptide -- mdkoop's slowest implied timescale against the (φ, ψ) MSM (goal: within 15%),
the peers' timescales (reported), test VAMP-2 of the top 3 functions against TICA and against deeptime's
VAMPNet (goal: not below the peer); CLN025 -- the same figures on the bundled sample, reported without goals
(0.75 ns, indicative only). ``peers_quick.json`` is used (and flagged) when no full run exists.
"""

from __future__ import annotations

from _results_base import MET, NOT_MET, REPORTED, Context, Row, fmt, full_or_quick, get, num

FULL, QUICK = "peers", "peers_quick"
LABELS = {
    "mdkoop_lora": "mdkoop SchNet + nested LoRA",
    "mdkoop_vamp2": "mdkoop SchNet + VAMP-2 loss (same pipeline)",
    "deeptime_vampnet": "deeptime VAMPNet (same SchNet lobe, same steps)",
    "tica": "deeptime TICA",
}


def peers_name(docs: dict) -> str:
    """``peers`` if present, else ``peers_quick`` if present, else ``peers``."""
    return full_or_quick(docs, "peers")


def _note(doc: dict, name: str, system: str) -> str:
    seeds = get(doc, "settings.seeds") or []
    note = f"{len(seeds)} training seed(s), median over seeds"
    wall = num(get(doc, "wall_s"))
    if wall is not None:
        note += f"; whole benchmark {wall:.0f} s wall"
    if name == QUICK:
        note += "; quick smoke run (short data, 1 seed, few epochs): run the full benchmark for the reported figure"
    return note


def _vamp_cell(methods: dict, key: str) -> str:
    m = methods.get(key) or {}
    med = num(m.get("test_vamp2_median"))
    allv = m.get("test_vamp2_all") or []
    spread = f" [{min(allv):.3f}–{max(allv):.3f}]" if len(allv) > 1 else ""
    return f"{fmt(med, 3)}{spread}"


def _ala2_rows(ctx: Context, name: str, doc: dict | None) -> list[Row]:
    a = get(doc, "ala2")
    rows = []
    lag = num(get(a, "lag_ps"))
    lag_s = f"{lag:g} ps" if lag is not None else "?"
    methods = get(a, "methods") or {}
    # 1. timescale vs MSM
    fig = (f"alanine dipeptide (2 × {get(a, 'data.length_ns', '?')} ns, 340 K): slowest implied timescale t1 of "
           f"mdkoop (SchNet + nested LoRA, heavy atoms) vs a reversible MSM on the (φ, ψ) grid, lag {lag_s}")
    goal = "within 15%"
    lora = methods.get("mdkoop_lora") or {}
    t_med = lora.get("timescales_ps_median") or []
    ref = get(a, "msm.both.timescales_ps") or []
    ci = get(a, "msm.both.ci95_ps") or []
    if not t_med or not ref:
        rows.append(ctx.missing(name, fig, goal))
    else:
        ts, r = float(t_med[0]), float(ref[0])
        rel = ts / r - 1.0
        ci_s = f"; MSM 95% interval {ci[0][0]:.1f}–{ci[0][1]:.1f} ps" if ci else ""
        measured = f"{ts:.1f} vs {r:.1f} ps ({rel:+.1%}){ci_s}"
        tr = get(a, "msm.train_only.timescales_ps") or []
        note = (f"MSM on the training trajectory alone: {fmt(num(tr[0]) if tr else None, 1)} ps. t2, t3 are below the lag "
                f"for every method (MSM {fmt(num(ref[1]) if len(ref) > 1 else None, 1)} ps): only one slow process "
                f"(α_R ↔ β/PPII) at 340 K in implicit solvent; φ > 0 is visited "
                f"{', '.join(f'{100 * x:.2f}%' for x in get(a, 'data.fraction_phi_positive') or [])} of the time. "
                + _note(doc, name, "ala2"))
        rows.append(ctx.row(name, fig, goal, measured, MET if abs(rel) <= 0.15 else NOT_MET, note))
        peers = "; ".join(
            f"{LABELS[k]} {float(v['timescales_ps_median'][0]):.1f} ps ({float(v['timescales_ps_median'][0]) / r - 1:+.1%})"
            for k, v in methods.items() if k != "mdkoop_lora" and v.get("timescales_ps_median")
        )
        rows.append(ctx.row(name, f"alanine dipeptide: t1 of the peers vs the same MSM, lag {lag_s}",
                            "— (peers, for comparison)", peers or "—", REPORTED,
                            "each from a reversible linear model on the method's 3 functions (training data)"))
    # 2. test VAMP-2 vs each peer
    ours = num(get(lora, "test_vamp2_median"))
    for peer in ("tica", "deeptime_vampnet"):
        extra = " on all heavy-atom pair distances" if peer == "tica" else ""
        fig = (f"alanine dipeptide: test VAMP-2 of the top 3 functions (trained on trajectory 1, scored on 2; max 4), "
               f"mdkoop LoRA vs {LABELS[peer]}{extra}")
        goal = "≥ the peer's (median over seeds; project goal)"
        theirs = num(get(methods, f"{peer}.test_vamp2_median"))
        if ours is None or theirs is None:
            rows.append(ctx.missing(name, fig, goal))
            continue
        measured = f"{_vamp_cell(methods, 'mdkoop_lora')} vs {_vamp_cell(methods, peer)} ({ours - theirs:+.4f})"
        note = f"mdkoop's VAMP-2 loss in the same pipeline: {_vamp_cell(methods, 'mdkoop_vamp2')}; " + _note(doc, name, "ala2")
        rows.append(ctx.row(name, fig, goal, measured, MET if ours >= theirs else NOT_MET, note))
    return rows


def _cln_rows(ctx: Context, name: str, doc: dict | None) -> list[Row]:
    c = get(doc, "cln025")
    methods = get(c, "methods") or {}
    lag = num(get(c, "lag_ps"))
    fig = (f"CLN025 bundled sample (0.75 ns, 425 K; interleaved train/test blocks): test VAMP-2 of the top 3 "
           f"functions at lag {fmt(lag, 0)} ps, all methods")
    goal = "— (indicative only: 2 folding events)"
    if not methods:
        return [ctx.missing(name, fig, goal)]
    measured = "; ".join(f"{LABELS[k]} {_vamp_cell(methods, k)}" for k in LABELS if k in methods)
    train = "; ".join(f"{k} {fmt(num(v.get('train_vamp2_median')), 2)}" for k, v in methods.items())
    rows = [ctx.row(name, fig, goal, measured, REPORTED,
                    f"TICA on the 45 Cα pair distances; training-data VAMP-2: {train}; " + _note(doc, name, "cln025"))]
    ref = get(c, "msm.both.timescales_ps") or []
    ts = "; ".join(f"{k} {float(v['timescales_ps_median'][0]):.0f} ps" for k, v in methods.items()
                   if v.get("timescales_ps_median"))
    rows.append(ctx.row(name, f"CLN025 sample: slowest implied timescale t1 at lag {fmt(lag, 0)} ps", goal,
                        f"{ts}; MSM on Cα RMSD {fmt(num(ref[0]) if ref else None, 0)} ps", REPORTED,
                        "0.75 ns holds too few folding events for a reliable timescale"))
    return rows


def peers_rows(ctx: Context) -> list[Row]:
    """Rows of ``peers.json`` (falls back to ``peers_quick.json``).

    Parameters
    ----------
    ctx : Context
        Result documents.

    Returns
    -------
    list of Row
        Alanine dipeptide: t1 vs the (φ, ψ) MSM (goal within 15%), the peers' t1 (reported), test VAMP-2 vs
        TICA and vs deeptime's VAMPNet (goal: not below). CLN025: test VAMP-2 and t1 of all methods (reported).
    """
    name = peers_name(ctx.docs)
    doc = ctx.docs.get(name)
    rows = _ala2_rows(ctx, name, doc) + _cln_rows(ctx, name, doc)
    return rows
