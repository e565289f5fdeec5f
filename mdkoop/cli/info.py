"""`mdkoop info`: print what a store holds."""

from __future__ import annotations

from ._pending import register_pending


def register(sub):
    return register_pending(sub, "info", "print what a store holds", 2)
