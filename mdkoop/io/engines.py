"""The trajectory-reading engines by name: :func:`make_reader`."""

from __future__ import annotations

from ..errors import ConfigError
from .mdanalysis_reader import MDAnalysisReader
from .readers import MDTrajReader, Reader

__all__ = ["ENGINES", "make_reader"]

ENGINES = ("mdtraj", "mdanalysis")


def make_reader(engine: str, topology, select: str | None = None) -> Reader:
    """Create the reader of ``engine`` (``"mdtraj"`` or ``"mdanalysis"``) for ``topology``.

    Parameters
    ----------
    engine : {"mdtraj", "mdanalysis"}
        Also ``"md"`` and ``"mda"``, case-insensitive.
    topology : path-like
        Topology file.
    select : str, optional
        Atom selection in the engine's language (default: the protein's heavy atoms).

    Returns
    -------
    Reader
    """
    e = str(engine).lower().replace("-", "")
    if e in ("mdtraj", "md"):
        return MDTrajReader(topology, select)
    if e in ("mdanalysis", "mda"):
        return MDAnalysisReader(topology, select)
    raise ConfigError(f"Unknown engine {engine!r}: use 'mdtraj' or 'mdanalysis'.")
