"""Encoder figures for :mod:`make_results`: ``encoders.json`` of ``bench_encoders.py``.

One reported row per measured row of the benchmark (held-out VAMP-2 median and range over seeds, slowest
timescale, wall time), and the goal rows: the best mdkoop encoder reaches at least deeptime's VAMPNet on the
same descriptors and TICA on Cα distances; the SchNet default reaches at least VAMPNet on heavy-atom distances.
"""

from __future__ import annotations

import statistics

from _results_base import REPORTED, Context, Row, get, num, status_ge

NAME = "encoders"
FIGURE = "CLN025 (train s11 first 8 ns; test s11 last 8 ns, s12, s13; lag 50 ps, 3 CVs + constant): "
#: (goal row, mdkoop row, reference rows it must reach)
GOALS = (
    ("best mdkoop encoder ≥ VAMPNet on the same descriptors and TICA on Cα distances",
     "torsions (φ, ψ, χ1), LoRA joint", ("deeptime VAMPNet on torsions (φ, ψ, χ1)", "TICA on Cα distances")),
    ("SchNet default (trained until converged) ≥ VAMPNet on heavy-atom distances",
     "SchNet (defaults, until converged), LoRA joint", ("deeptime VAMPNet on heavy-atom distances",)),
)


def _scores(row: dict | None) -> list[float]:
    return [s for s in (num(get(r, "test_vamp2")) for r in (row or {}).get("runs") or []) if s is not None]


def _measured(row: dict) -> str:
    s = _scores(row)
    runs = row.get("runs") or []
    text = f"test VAMP-2 {statistics.median(s):.3f} [{min(s):.3f}–{max(s):.3f}], {len(s)} seed(s)"
    walls = [num(get(r, "wall_s")) for r in runs if num(get(r, "wall_s")) is not None]
    ts = [num(get(r, "slowest_its_ps")) for r in runs if num(get(r, "slowest_its_ps")) is not None]
    if ts:
        text += f"; t1 {statistics.median(ts):.0f} ps"
    if walls:
        text += f"; {statistics.median(walls):.1f} s per fit"
    epochs = (row.get("settings") or {}).get("epochs")
    if epochs:
        text += f" (capped at {epochs} epochs)"
    return text


def encoder_rows(ctx: Context) -> list[Row]:
    """Rows of ``encoders.json`` (a ``not measured`` row when the file does not exist)."""
    doc = ctx.docs.get(NAME)
    if doc is None:
        return [ctx.missing(NAME, FIGURE + "encoders × losses", GOALS[0][0])]
    rows_json = get(doc, "rows") or {}
    out = []
    for goal, mine, refs in GOALS:
        s = _scores(rows_json.get(mine))
        peers = [statistics.median(_scores(rows_json.get(r))) for r in refs if _scores(rows_json.get(r))]
        if not s or len(peers) != len(refs):
            out.append(ctx.missing(NAME, FIGURE + mine, goal, f"{mine!r} or its references are not measured"))
            continue
        target = max(peers)
        measured = f"{mine}: median {statistics.median(s):.3f}; references: " + ", ".join(
            f"{r} {p:.3f}" for r, p in zip(refs, peers))
        out.append(ctx.row(NAME, FIGURE + goal, f"median ≥ {target:.3f}", measured,
                           status_ge(statistics.median(s), target)))
    for name, row in rows_json.items():
        if _scores(row):
            out.append(ctx.row(NAME, FIGURE + name, f"reported ({row.get('group', '')})", _measured(row), REPORTED))
    return out
