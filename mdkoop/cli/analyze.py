"""`mdkoop analyze`: implied timescales, CK test, scores, plots and report."""

from __future__ import annotations

from ._pending import register_pending


def register(sub):
    return register_pending(sub, "analyze", "implied timescales, CK test, scores, plots and report", 5)
