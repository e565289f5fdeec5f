"""`mdkoop fit`: train a Koopman SVD model."""

from __future__ import annotations

from ._pending import register_pending


def register(sub):
    return register_pending(sub, "fit", "train a Koopman SVD model", 4)
