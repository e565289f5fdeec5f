"""`mdkoop data`: list and fetch datasets."""

from __future__ import annotations

from ._pending import register_pending


def register(sub):
    return register_pending(sub, "data", "list and fetch datasets", 7)
