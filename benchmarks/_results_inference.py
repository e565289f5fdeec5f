"""Inference-benchmark figures for :mod:`make_results`: rows of ``inference.json`` (``bench_inference.py``).

``inference_rows(ctx)`` reads ``inference`` (the full run) or, when only that exists,
``inference_quick`` (a smoke run, flagged as such in the note).
"""

from __future__ import annotations

from _results_base import PY, REPORTED, Context, Row, fmt, full_or_quick, get, num, status_ge

SCRIPT = "benchmarks/bench_inference.py"
CASES = (("heavy", "heavy atoms"), ("all", "all 175 atoms"))
DEFAULT_GOAL_RATIO = 2.0


def inference_name(docs: dict) -> str:
    """``inference`` if present, else ``inference_quick`` if present, else ``inference``."""
    return full_or_quick(docs, "inference")


def inference_command(name: str, doc: dict | None) -> str:
    """The command line that writes result ``name``, rebuilt from the options ``doc`` records.

    Parameters
    ----------
    name : str
        Result stem (``inference`` or ``inference_quick``).
    doc : dict or None
        The parsed JSON (``None``: the documented default command).

    Returns
    -------
    str
    """
    omp = get(doc, "machine.omp_num_threads")
    prefix = f"OMP_NUM_THREADS={omp} " if omp else ""
    if get(doc, "quick") or (doc is None and name.endswith("quick")):
        return f"{prefix}{PY} {SCRIPT} --quick"
    if not isinstance(doc, dict):
        return f"{PY} {SCRIPT}"
    case = get(doc, "cases.heavy") or {}
    args = []
    for opt, key in (("--repeats", None), ("--frames", "n_frames"), ("--single", "n_frames_per_frame_calls")):
        v = get(doc, "repeats") if key is None else case.get(key)
        if v is not None:
            args.append(f"{opt} {v}")
    if name not in ("inference", "inference_quick"):
        args.append(f"--out {name}")
    return " ".join([f"{prefix}{PY} {SCRIPT}", *args])


def _command(ctx: Context, name: str) -> str:
    cmd = ctx.command(name)  # the run_all log's command when that run wrote the file
    generic = f"{PY} benchmarks/run_all.py"
    return inference_command(name, ctx.docs.get(name)) if cmd == generic else cmd


def inference_rows(ctx: Context) -> list[Row]:
    """Rows of ``inference.json``: CV evaluation frames/s of a SchNet model vs the naive schnetpack pipeline.

    Per system (CLN025 heavy atoms, all atoms): ``model.transform`` ÷ baseline (goal ≥ 2x, the
    project's own goal: no number was set), the exported TorchScript model batched ÷
    baseline (reported), and TorchScript one frame per call, ms per call (reported).

    Parameters
    ----------
    ctx : Context
        Result documents.

    Returns
    -------
    list of Row
    """
    name = inference_name(ctx.docs)
    doc = ctx.docs.get(name)
    cmd = _command(ctx, name)
    goal_ratio = num(get(doc, "goal_ratio")) or DEFAULT_GOAL_RATIO
    quick = (
        "quick smoke run (few frames, 2 repeats), not the full benchmark; " if name.endswith("quick") else ""
    )
    rows: list[Row] = []

    def add(figure, goal, measured, status, note=""):
        if measured is None:
            r = ctx.missing(name, figure, goal)
        else:
            r = ctx.row(name, figure, goal, measured, status, (quick + note).strip().rstrip(";"))
        r.command = cmd
        rows.append(r)

    for case, label in CASES:
        c = get(doc, f"cases.{case}")
        fps = get(c, "frames_per_s") or {}
        base = num(fps.get("baseline"))
        size = f"{get(c, 'n_atoms', '?')} atoms, {get(c, 'n_frames', '?')} frames, batch {get(c, 'batch_size', '?')}"
        r = num(get(c, "ratio_transform_over_baseline"))
        add(
            f"inference frames/s: `model.transform` ÷ naive schnetpack pipeline, CLN025 {label}, 1 thread",
            f"≥ {goal_ratio:g}x (mdkoop's own goal; no number was set)",
            None
            if r is None
            else f"{r:.2f}x ({fmt(num(fps.get('transform')), 1)} vs {fmt(base, 1)} frames/s; {size})",
            status_ge(r, goal_ratio),
            "baseline: per frame ASE Atoms → `AtomsConverter` + `MatScipyNeighborList` → schnetpack SchNet + "
            "Atomwise, same weights (CVs checked equal)",
        )
        r = num(get(c, "ratio_torchscript_batched_over_baseline"))
        add(
            f"inference frames/s: exported TorchScript CV model, batched, ÷ naive schnetpack pipeline, CLN025 {label}",
            "no threshold: reported",
            None
            if r is None
            else f"{r:.2f}x ({fmt(num(fps.get('torchscript_batched')), 1)} vs {fmt(base, 1)} frames/s)",
            REPORTED,
        )
        ms = num(get(c, "torchscript_per_frame_ms_per_call"))
        add(
            f"TorchScript CV model, one frame per call (PLUMED/OpenMM per-step pattern), CLN025 {label}",
            "no threshold: reported (cost per MD step)",
            None if ms is None else f"{ms:.2f} ms per call ({get(c, 'n_frames_per_frame_calls', '?')} calls)",
            REPORTED,
        )
    return rows
