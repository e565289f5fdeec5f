"""`mdkoop simulate`: simulate demo data with OpenMM."""

from __future__ import annotations

from ._pending import register_pending


def register(sub):
    return register_pending(sub, "simulate", "simulate demo data with OpenMM", 7)
