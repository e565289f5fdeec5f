"""The run's ``metrics.csv`` across interruptions: keep the steps logged before a resume.

Lightning's CSV logger starts its file afresh when a run is resumed, so the steps logged before the
interruption would be lost. Before a resume, the current log is set aside as a numbered part
(:func:`set_aside_for_resume`); when the run completes, :func:`merge_metrics` joins the parts and the
last log into one table. A step logged before the interruption but after the checkpoint it resumed from
is trained again, so such rows are replaced by the resumed run's rows.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["set_aside_for_resume", "merge_metrics", "LOG_FILE"]

#: where the CSV logger writes inside the run's work directory
LOG_FILE = Path("logs") / "metrics.csv"
_PART = "metrics.part-{:03d}.csv"


def _parts(workdir: Path) -> list[Path]:
    return sorted((workdir / LOG_FILE.parent).glob("metrics.part-*.csv"))


def set_aside_for_resume(workdir: str | Path) -> Path | None:
    """Rename the current ``logs/metrics.csv`` to the next ``logs/metrics.part-NNN.csv``; return it (None if none)."""
    workdir = Path(workdir)
    log = workdir / LOG_FILE
    if not log.is_file():
        return None
    part = log.parent / _PART.format(len(_parts(workdir)))
    log.rename(part)
    return part


def _read(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _step(row: dict) -> float:
    try:
        return float(row.get("step") or "nan")
    except ValueError:
        return float("nan")


def merge_metrics(workdir: str | Path, out: str | Path) -> int:
    """Write the whole run's metrics (every part, then the last log) to ``out``; return the number of rows.

    Columns are the union of the parts' columns, in order of first appearance. Rows of an earlier part
    whose step is at or after the first step of a later part are dropped (those steps were trained again
    after the resume).
    """
    from ..utils.files import atomic_file

    workdir = Path(workdir)
    files = [*_parts(workdir), workdir / LOG_FILE]
    tables = [_read(f) for f in files if f.is_file()]
    columns: list[str] = []
    for cols, _ in tables:
        columns += [c for c in cols if c not in columns]
    rows: list[dict] = []
    for _, part in tables:
        steps = [s for s in map(_step, part) if s == s]
        if steps:
            first = min(steps)
            rows = [r for r in rows if not _step(r) >= first]
        rows += part
    with atomic_file(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns or ["epoch", "step"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
