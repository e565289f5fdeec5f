"""`mdkoop transform`: compute CVs for trajectories."""

from __future__ import annotations

from ._pending import register_pending


def register(sub):
    return register_pending(sub, "transform", "compute CVs for trajectories", 5)
