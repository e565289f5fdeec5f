"""Rows of the thread benchmark (``threads.json``) and the OpenMM per-step cost (``openmm_step.json``)."""

from __future__ import annotations

from _results_base import REPORTED, Context, Row, full_or_quick, get, num, status_ge

THREADS_GOAL = 0.5


def threads_rows(ctx: Context) -> list[Row]:
    """Training pairs/s with competing load ÷ idle, for mdkoop's default and the alternatives.

    The goal row is the default's ratio (≥ 0.5); the other configurations are reported beside it.
    """
    name = full_or_quick(ctx.docs, "threads")
    doc = ctx.docs.get(name)
    quick = "quick run (1 repeat); " if name.endswith("quick") else ""
    configs = get(doc, "configurations") or {}
    n_load = get(doc, "n_load_processes", "?")
    rows = []
    order = ["mdkoop default", *[k for k in configs if k != "mdkoop default"]]
    for key in order:
        c = configs.get(key)
        goal = (f"under load ≥ {THREADS_GOAL:g} x idle pairs/s" if key == "mdkoop default"
                else "no threshold: reported beside the default")
        figure = f"threads: fit pairs/s with {n_load} busy processes ÷ idle, CLN025 sample, `{key}`"
        ratio = num(get(c, "loaded_over_idle"))
        if ratio is None:
            rows.append(ctx.missing(name, figure, goal))
            continue
        measured = (f"{ratio:.2f} ({get(c, 'loaded_pairs_per_s'):.0f} vs {get(c, 'idle_pairs_per_s'):.0f} pairs/s, "
                    f"median of {get(doc, 'repeats', '?')})")
        status = status_ge(ratio, THREADS_GOAL) if key == "mdkoop default" else REPORTED
        rows.append(ctx.row(name, figure, goal, measured, status,
                            (quick + "each fit in a fresh process through the CLI; configurations interleaved").strip()))
    return rows


def openmm_step_rows(ctx: Context) -> list[Row]:
    """Cost per MD step of a 3-CV OpenMM bias: per-CV modules against the one-evaluation restraint module."""
    name = full_or_quick(ctx.docs, "openmm_step")
    doc = ctx.docs.get(name)
    figure = (f"OpenMM bias on {get(doc, 'n_cv', 3)} CVs, ms per MD step (forward + forces): one module per CV ÷ "
              "`cvs_restraint.pt` (all CVs from one evaluation)")
    goal = "no threshold: reported (cost per MD step before and after)"
    ms = get(doc, "ms_per_step") or {}
    a, b = num(ms.get("per_cv_modules")), num(ms.get("restraint_module"))
    if a is None or b is None:
        return [ctx.missing(name, figure, goal)]
    measured = f"{a / b:.2f}x ({a:.2f} vs {b:.2f} ms per step, {get(doc, 'n_model_atoms')} model atoms, 1 thread)"
    return [ctx.row(name, figure, goal, measured, REPORTED, "energies and forces of both checked equal first")]
