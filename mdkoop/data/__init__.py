"""mdkoop.data: time-lagged pairs and splits, the pair loader, batched radius graphs.

Submodules are imported lazily so that ``import mdkoop.data.pairs`` does not import torch.
"""

from __future__ import annotations

import importlib

_API = {
    "Segment": "mdkoop.data.pairs",
    "split_segments": "mdkoop.data.pairs",
    "TimeLaggedPairs": "mdkoop.data.pairs",
    "PairLoader": "mdkoop.data.loader",
    "radius_graph": "mdkoop.data.graphs",
    "frames_to_batch": "mdkoop.data.graphs",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mdkoop.data' has no attribute {name!r}")
