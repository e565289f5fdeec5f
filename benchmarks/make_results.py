"""Write ``benchmarks/RESULTS.md``: goal vs measured for every benchmark figure.

Reads the JSON files the benchmark scripts wrote to ``benchmarks/results/`` (and the ``run_all.json``
log of :mod:`run_all`, when present) and renders one Markdown table with one row per figure: figure,
goal, measured value, status, the command that produces it, and the machine/date line of the JSON it
came from. A missing file or key never fails: the row says ``not measured``, why, and the command.
The figures are declared in :mod:`_results_speed` and :mod:`_results_science`; the Figure record,
statuses and JSON access are in :mod:`_results_base`.

Run: ``.venv/bin/python benchmarks/make_results.py [--results DIR] [--out PATH]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _results_base as rb  # noqa: E402
import _results_science as science  # noqa: E402
import _results_speed as speed  # noqa: E402
from _results_base import at, dicts, fmt, full_or_quick, num  # noqa: E402
from run_all import DEFAULT_RESULTS  # noqa: E402

from mdkoop.utils.files import atomic_file  # noqa: E402

#: Every figure of the table, in order: declared ones (:class:`_results_base.Figure`) and functions of the Context.
FIGURES = [*speed.DATA, speed.LOADER_SHARE, *speed.OBJECTIVES, *speed.TRAINING, *science.STABILITY, *science.GROUND_TRUTH,
           *science.PEER_FIGURES, *science.STUDIES, *speed.INFERENCE, speed.OPENMM, speed.THREADS, speed.gpu_rows]

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
SHARED_CPU = (
    "> **Shared CPU.** These runs were made on a 2-core virtual machine that may share its host with other jobs. "
    "Absolute throughputs are therefore noisy. Load also moves ratios: a per-frame Python baseline suffers more from a "
    "busy machine than a batched kernel (the graph-building ratio measured 13.4x under heavy load and 4.3x on an "
    "otherwise idle machine), so quote the ratios of an idle-machine `make bench`. Ratios are **within one run** "
    "wherever possible: both sides measured by the same script, interleaved or back to back, on the same data, and "
    "reported as medians over repeats. Load averages are not recorded in most JSONs; the training runs record them "
    "(see the training runs table), and also report pairs per CPU-second, which is robust to other load.")

#: Detail tables: (title, header, cell functions of one record).
TRAINING_COLUMNS = {
    "pipeline": lambda r: r.get("pipeline"), "atoms": lambda r: r.get("atoms"), "batch": lambda r: r.get("batch"),
    "THP": lambda r: r.get("thp"), "pairs/s": lambda r: fmt(num(r.get("pairs_per_s")), 1),
    "pairs per CPU-s": lambda r: fmt(num(r.get("pairs_per_cpu_s")), 1),
    "peak RSS (GiB)": lambda r: fmt((lambda b: b and b / 2**30)(num(r.get("peak_rss_bytes")) or num(r.get("peak_tree_rss_bytes"))), 2),
    "load avg 1/5/15 min": lambda r: "/".join(f"{x:.1f}" for x in r["load_avg"])
    if isinstance(r.get("load_avg"), list) and all(num(x) is not None for x in r["load_avg"]) else "—",
    "error": lambda r: r.get("error", ""),
}
STABILITY_COLUMNS = {
    "loss": lambda r: r.get("loss"), "batch": lambda r: r.get("batch_size"), "runs": lambda r: r.get("runs"),
    "NaN": lambda r: r.get("nan"), "diverged": lambda r: r.get("diverged"), "collapsed": lambda r: r.get("collapsed"),
    "test VAMP-2 median [min, max]": lambda r: f"{fmt(num(r.get('test_vamp2_median')), 3)} "
    f"[{fmt(num(r.get('test_vamp2_min')), 3)}, {fmt(num(r.get('test_vamp2_max')), 3)}]",
    "train VAMP-2 median": lambda r: fmt(num(r.get("train_vamp2_median")), 3),
}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(title: str, columns: dict, records: list[dict], intro: str = "") -> str:
    """A Markdown table under ``### title``: one column per ``columns`` item (header -> cell function)."""
    if not records:
        return ""
    lines = [f"### {title}", "", *([intro, ""] if intro else []), "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    lines += ["| " + " | ".join(_cell(f(r)) for f in columns.values()) + " |" for r in records]
    return "\n".join(lines) + "\n"


def _ms_column(key: str):
    return lambda r: fmt(num(r.get(key + "_ms")), 2)


def _details(docs: dict, prefix: str) -> list[str]:
    name = full_or_quick(docs, "training")
    tdoc = docs.get(name)
    obj = dicts(at(docs.get("objectives"), "rows"))
    cols = [k[:-3] for k in (obj[0] if obj else {}) if k.endswith("_ms")]
    obj_columns = {"device": lambda r: r.get("device", "?"), "B": lambda r: r.get("B", "?"), "k": lambda r: r.get("k", "?"),
                   **{c: _ms_column(c) for c in cols},
                   "unbiased/biased": lambda r: fmt(num(r.get("unbiased_cost_ratio")))}
    stab = full_or_quick(docs, "stability")
    sdoc, st = docs.get(stab), at(docs.get(stab), "settings") or {}
    intro = (f"{st.get('seeds', '?')} seeds, {st.get('steps', '?')} gradient steps per run, {st.get('n_modes', '?')} modes; held-out "
             f"VAMP-2 on the second half of the trajectory (max {at(sdoc, 'max_vamp2', default='?')}).")
    tables = (md_table(f"Training runs ({prefix}/{name}.json)", TRAINING_COLUMNS, speed.runs_of(tdoc)),
              md_table(f"Objective step times ({prefix}/objectives.json), ms, forward + backward on features (B, k)", obj_columns, obj),
              md_table(f"Stability sweep ({prefix}/{stab}.json): {at(sdoc, 'system', default='?')}", STABILITY_COLUMNS,
                       dicts(at(sdoc, "rows")), intro))
    return [t for t in tables if t]


def _run_log(log) -> list[str]:
    if not isinstance(log, dict):
        return []
    out = ["", f"Last `run_all.py` run ({'quick' if log.get('quick') else 'full'}), started {log.get('started_utc', '?')}:", ""]
    for rec in dicts(log.get("scripts")):
        rc = rec.get("rc")
        state = "ok" if rc == 0 else f"skipped ({rec['skipped']})" if rec.get("skipped") else f"FAILED (rc={rc})"
        out.append(f"- {rec.get('name')}: {state}"
                   + ("" if rec.get("skipped") else f", {fmt(num(rec.get('wall_s')), 0)} s: `{rec.get('command')}`"))
    return out


def render(rows: list[rb.Row], docs: dict, errors: dict | None = None, prefix: str = "results") -> str:
    """The Markdown text of RESULTS.md, from :func:`build_rows`'s rows and the result documents.

    ``errors`` maps result stems to why they could not be read; ``prefix`` names the results
    folder relative to the Markdown file.
    """
    counts = {s: sum(r.status == s for r in rows) for s in rb.STATUSES}
    out = ["# mdkoop benchmark results: goal vs measured", "",
           "Generated by `benchmarks/make_results.py` from `benchmarks/results/*.json` "
           "(regenerate: `.venv/bin/python benchmarks/make_results.py`; run everything: `make bench`).", "",
           f"**Summary:** {counts[rb.MET]} met, {counts[rb.NOT_MET]} NOT met, {counts[rb.NOT_MEASURED]} not measured, "
           f"{counts[rb.REPORTED]} reported without a threshold.", "", SHARED_CPU, ""]
    tdoc = docs.get(full_or_quick(docs, "training"))
    if isinstance(at(tdoc, "merged_from"), list):
        out += [f"> **Training figures come from separate invocations** ({', '.join(tdoc['merged_from'])}): lean and baseline "
                f"did not run back to back ({speed.load_summary(speed.runs_of(tdoc))}), so their wall-clock ratios carry the load "
                "difference; pairs per CPU-second is the fairer comparison.", ""]
    out += ["| # | figure | goal | measured | status | command | machine / date | notes |", "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows, 1):
        status = f"**{r.status}**" if r.status in (rb.NOT_MET, rb.NOT_MEASURED) else r.status
        src = f"{r.machine} ({r.source})" if r.source != "—" else "—"
        out.append("| " + " | ".join(_cell(x) for x in (i, r.figure, r.goal, r.measured, status, f"`{r.command}`", src, r.note)) + " |")
    out += ["", NOT_YET.replace("<STABILITY>", "" if at(docs.get(full_or_quick(docs, "stability")), "rows") else STABILITY_TODO)]
    details = _details(docs, prefix)
    out += ["## Details", ""] + [t for d in details for t in (d, "")] if details else []
    out += ["## Machines and versions (per result file)", ""]
    out += [f"- `{prefix}/{stem}.json`: {_cell(rb.machine_line(docs[stem]))}; {_cell(rb.versions_line(docs[stem]))}"
            for stem in sorted(docs) if stem != "run_all"]
    out += [f"- `{prefix}/{stem}.json`: {why}" for stem, why in sorted((errors or {}).items())]
    return "\n".join(out + _run_log(docs.get("run_all"))) + "\n"


def build_rows(docs: dict, errors: dict | None = None, prefix: str = "results") -> list[rb.Row]:
    """All rows of the results table, in the order of :data:`FIGURES` (``docs``: result stem -> parsed JSON)."""
    ctx = rb.Context(docs, errors, prefix)
    rows: list[rb.Row] = []
    for fig in FIGURES:
        try:
            rows.extend(fig.rows(ctx) if hasattr(fig, "rows") else fig(ctx))
        except Exception as exc:  # noqa: BLE001 - an odd JSON must not hide the other rows
            what = getattr(fig, "__name__", getattr(fig, "source", "?"))
            rows.append(rb.Row(f"({what})", "—", "—", rb.NOT_MEASURED, rb.RUN_ALL,
                            note=f"could not read the results: {exc.__class__.__name__}: {exc}"))
    return rows


def display_prefix(results: Path, out: Path) -> str:
    """How to name the results folder in the Markdown file at ``out``: relative to its folder when the
    results lie below it (``results``, ``.``), else relative to the repository root, else absolute."""
    results, folder = results.resolve(), out.resolve().parent
    for base in (folder, rb.HERE.parent):
        try:
            return results.relative_to(base).as_posix() or "."
        except ValueError:
            continue
    return results.as_posix()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: read the results folder, write the Markdown file."""
    ap = argparse.ArgumentParser(description="Write RESULTS.md (goal vs measured) from benchmarks/results/*.json.")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="folder of result JSONs (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=rb.HERE / "RESULTS.md", help="Markdown file to write (default: %(default)s)")
    args = ap.parse_args(argv)
    docs, errors = rb.load_results(args.results)
    prefix = display_prefix(args.results, args.out)
    rows = build_rows(docs, errors, prefix)
    with atomic_file(args.out) as fh:
        fh.write(render(rows, docs, errors, prefix))
    counts = {s: sum(r.status == s for r in rows) for s in rb.STATUSES}
    print(f"wrote {args.out}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
