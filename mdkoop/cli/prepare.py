"""`mdkoop prepare`: read trajectories into a compact store."""

from __future__ import annotations

from ._pending import register_pending


def register(sub):
    return register_pending(sub, "prepare", "read trajectories into a compact store", 2)
