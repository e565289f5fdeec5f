"""Package data: structures and the bundled sample (see ATTRIBUTION.md)."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """Absolute path of a bundled resource file, e.g. ``resource_path("cln025.pdb")``."""
    p = RESOURCES / name
    if not p.exists():
        from ..errors import MissingFileError

        raise MissingFileError(f"The bundled resource {name!r} is missing from {RESOURCES}; reinstall mdkoop.")
    return p
