"""LoRA-diagnosis figures for :mod:`make_results`: ``lora_diagnosis_cln025.json`` of ``diagnose_lora.py``.

One reported row per experiment (held-out VAMP-2 judged with deeptime, slowest timescale, epochs, wall
time) and one goal row: mdkoop's nested LoRA with the default settings (at the benchmark's 20-epoch budget)
reaches at least the held-out VAMP-2 of TICA and of deeptime's VAMPNet on the same split.
"""

from __future__ import annotations

from _results_base import REPORTED, Context, Row, get, num, status_ge

NAME = "lora_diagnosis_cln025"
DEFAULT = "defaults, 20 epochs"


def _judged(run: dict) -> float | None:
    return num(get(run, "judge_test_vamp2"))


def lora_diagnosis_rows(ctx: Context) -> list[Row]:
    """Rows of ``lora_diagnosis_cln025.json`` (nothing when the file does not exist).

    Returns
    -------
    list of Row
    """
    doc = ctx.docs.get(NAME)
    if doc is None:
        return [ctx.missing(NAME, "CLN025 (shared 390 K runs): held-out VAMP-2 of nested LoRA, default settings",
                            "≥ TICA and deeptime VAMPNet (Cα distances) on the same split")]
    tica = num(get(doc, "reference.tica_ca_distances.judge_test_vamp2"))
    vnet = [_judged(r) for r in get(doc, "reference.vampnet_mlp_ca_distances") or []]
    vnet = [v for v in vnet if v is not None]
    best_peer = max([v for v in [tica, *vnet] if v is not None], default=None)
    rows = []
    exps = get(doc, "experiments") or {}
    for name, exp in exps.items():
        runs = exp.get("runs") or []
        scores = [s for s in (_judged(r) for r in runs) if s is not None]
        if not scores:
            continue
        r0 = runs[0]
        measured = (f"test VAMP-2 {min(scores):.3f}" + (f"–{max(scores):.3f}" if len(scores) > 1 else "")
                    + f"; t1 {num(get(r0, 'slowest_its_ps')):.0f} ps; {get(r0, 'epochs')} epochs;"
                    f" {num(get(r0, 'wall_s')):.0f} s")
        figure = f"CLN025 (train s11 first 8 ns; test s11 last 8 ns, s12, s13; lag 50 ps, 3 CVs): {name}"
        if name == DEFAULT and best_peer is not None:
            goal = f"≥ max(TICA {tica:.3f}, VAMPNet {max(vnet):.3f}) test VAMP-2 (deeptime's judge)"
            rows.append(ctx.row(NAME, figure, goal, measured, status_ge(min(scores), best_peer)))
        else:
            rows.append(ctx.row(NAME, figure, "diagnosis (see docs/dev/lora_rare_events.md)", measured, REPORTED))
    return rows
