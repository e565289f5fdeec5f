"""`mdkoop export`: export CVs to PLUMED / TorchScript / OpenMM."""

from __future__ import annotations

from ._pending import register_pending


def register(sub):
    return register_pending(sub, "export", "export CVs to PLUMED / TorchScript / OpenMM", 6)
