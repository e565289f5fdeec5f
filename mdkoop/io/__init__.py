"""mdkoop.io: trajectory stores (`prepare`, `append`, `TrajectoryStore`), readers and input conversion."""

from __future__ import annotations

from .inputs import as_position_list
from .store import TrajectoryStore, append, prepare

__all__ = ["TrajectoryStore", "prepare", "append", "as_position_list"]
