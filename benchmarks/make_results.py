"""Write ``benchmarks/RESULTS.md``: goal vs measured for every benchmark figure.

Reads the JSON files the benchmark scripts wrote to ``benchmarks/results/`` (and the
``run_all.json`` log of :mod:`run_all`, when present) and renders one Markdown table with
one row per figure: figure, goal, measured value, status, the command that produces it,
and the machine/date line of the JSON it came from. A missing file or key never fails:
the row says ``not measured``, why, and the command to run.

Statuses (``met``, ``NOT met``, ``not measured``, ``reported``) are defined in
:mod:`_results_base`; the extractors live in :mod:`_results_rows` and
:mod:`_results_training`.

Run: ``.venv/bin/python benchmarks/make_results.py [--results DIR] [--out PATH]``
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results_base import (  # noqa: E402  (re-exported: the public helpers of the results table)
    COMMANDS,
    DEFAULT_OUT,
    DEFAULT_RESULTS,
    HERE,
    MET,
    NOT_MEASURED,
    NOT_MET,
    REPORTED,
    STATUSES,
    Context,
    Row,
    command_from_doc,
    fmt,
    get,
    load_results,
    machine_line,
    num,
    status_ge,
    status_le,
    versions_line,
)
from _results_rows import build_rows, stability_name  # noqa: E402
from _results_training import _runs, _training_doc, load_summary  # noqa: E402

__all__ = [
    "COMMANDS",
    "MET",
    "NOT_MEASURED",
    "NOT_MET",
    "REPORTED",
    "STATUSES",
    "Row",
    "build_rows",
    "command_from_doc",
    "display_prefix",
    "fmt",
    "get",
    "load_results",
    "machine_line",
    "main",
    "num",
    "render",
    "status_ge",
    "status_le",
    "versions_line",
    "write_atomic",
]


# --------------------------------------------------------------------------- rendering
STABILITY_TODO = """\
- **Stability table:** seeds × batch {16, 64, 384} × {LoRA (3 nestings), VAMP-1,
  VAMP-2, VAMP-E, DPNet}: NaN/divergence counts and held-out VAMP-2 of the learned features.
"""

NOT_YET = """\
## What is NOT measured here

- **GPU figures:** no GPU was lent to this project's sessions; every figure above is from the
  2-core CPU machine (ratios, not absolute times). `tutorials/04_gpu_and_multi_gpu.py` and
  `docs/training.md` say how to run the training benchmark on a GPU.
<STABILITY>- **CLN025 timescales at a meaningful length:** the bundled sample holds two folding events, so the
  CLN025 rows are indicative only; a µs-scale simulation (`mdkoop simulate cln025` on a GPU) or the
  `cln025-c22star` manifest's data would make them a real comparison.
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


def _stability_table(doc: dict | None, prefix: str, name: str = "stability") -> str:
    table = [r for r in (get(doc, "rows") or []) if isinstance(r, dict)]
    if not table:
        return ""
    st = get(doc, "settings") or {}
    lines = [
        f"### Stability sweep ({prefix}/{name}.json): {get(doc, 'system', '?')}",
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
        "> **Shared CPU.** These runs were made on a 2-core virtual machine that may share its host with "
        "other jobs. Absolute throughputs are therefore noisy. Load also moves ratios: a per-frame Python "
        "baseline suffers more from a busy machine than a batched kernel (the graph-building ratio measured "
        "13.4x under heavy load and 4.3x on an otherwise idle machine), so quote the ratios of an idle-machine "
        "`make bench`. Ratios are **within one run** wherever possible: both sides "
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
    stab = stability_name(docs)
    todo = "" if get(docs.get(stab), "rows") else STABILITY_TODO
    out += ["", NOT_YET.replace("<STABILITY>", todo)]
    details = [
        t
        for t in (
            _training_runs_table(docs, prefix),
            _objectives_table(docs.get("objectives")),
            _stability_table(docs.get(stab), prefix, stab),
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
