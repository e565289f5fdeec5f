"""`mdkoop demo`: run the whole pipeline on the bundled sample."""

from __future__ import annotations

from ._pending import register_pending


def register(sub):
    return register_pending(sub, "demo", "run the whole pipeline on the bundled sample", 7)
