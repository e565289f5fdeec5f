"""Trajectory readers behind :func:`mdkoop.io.store.prepare`: the common interface and the mdtraj engine.

:func:`mdkoop.io.engines.make_reader` picks an engine by name.

Both engines expose the same small interface (:class:`Reader`): the selected
atoms of a topology, and a stream of position chunks per trajectory file, in nm,
float32, with molecules made whole across periodic boundaries.

Selection strings are written in the chosen engine's own selection language
(mdtraj's ``topology.select`` syntax, or MDAnalysis' ``select_atoms`` syntax).
The default, ``"protein and not element H"``, means the protein's heavy atoms in
both. The MDAnalysis engine lives in :mod:`mdkoop.io.mdanalysis_reader` (MDAnalysis reports lengths in
Angstrom; the conversion to nm happens there, and nowhere else).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MissingFileError, SelectionError, TrajectoryReadError
from .pbc import BondTree, bond_tree, make_whole

__all__ = [
    "DEFAULT_SELECTION",
    "MAX_ABS_COORDINATE_NM",
    "AtomSet",
    "Chunk",
    "Reader",
    "MDTrajReader",
    "atomic_number",
    "check_file",
    "ascii_safe_path",
    "brief",
]

log = logging.getLogger("mdkoop.io")

#: The protein's heavy atoms; valid in both engines' selection languages.
DEFAULT_SELECTION = "protein and not element H"

#: mdtraj readers that store real simulation times. Other formats (DCD, PDB, GRO, ...)
#: get frame numbers as "times" from mdtraj, so their spacing counts as unknown.
_MDTRAJ_TIMED = {".xtc", ".trr", ".h5", ".hdf5", ".lh5", ".nc", ".ncdf", ".netcdf", ".dtr", ".stk"}

#: Coordinates beyond this (nm, 10 micrometres) cannot come from a molecular simulation: the file is broken.
MAX_ABS_COORDINATE_NM = 1.0e4

#: Target bytes of one decoded chunk (full frames), used to choose the chunk size.
_CHUNK_BYTES = 32 * 1024 * 1024


def brief(exc: BaseException, limit: int = 120) -> str:
    """An engine's error message on one line, cut to ``limit`` characters (parsers pad theirs with kB of blanks)."""
    msg = " ".join(str(exc).split())
    return msg if len(msg) <= limit else msg[: limit - 3].rstrip() + "..."


@contextlib.contextmanager
def ascii_safe_path(path: str | os.PathLike, always: bool = False) -> Iterator[str]:
    """A path to ``path`` that the engines can open without side effects next to the user's file.

    mdtraj's XTC/TRR/DCD readers encode file names as ASCII and fail on others (``ü/run.xtc``); for such
    a path (or for any path with ``always``) this yields a symbolic link with an ASCII name (same
    extension) in a private temporary directory, removed afterwards. With ``always``, caches that an
    engine writes beside the file it reads (MDAnalysis' XTC offsets and their lock file) land in that
    directory instead of the user's. Otherwise an ASCII path is yielded unchanged.
    """
    s = str(path)
    if s.isascii() and not always:
        yield s
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mdkoop-path-") as d:
        link = Path(d) / ("file" + "".join(Path(s).suffixes[-2:]))
        os.symlink(os.path.abspath(s), link)
        yield str(link)


def check_file(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise :class:`MissingFileError` naming it."""
    p = Path(path)
    if not p.is_file():
        kind = "is a directory, not a file" if p.is_dir() else "does not exist"
        raise MissingFileError(f"The {what} {str(p)!r} {kind}. Check the path.")
    return p


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol (case-insensitive); 0 when unknown."""
    from mdtraj.core import element as _el

    s = str(symbol).strip()
    if not s:
        return 0
    for cand in (s, s.capitalize(), s.upper()):
        try:
            return int(_el.get_by_symbol(cand).atomic_number)
        except KeyError:
            continue
    return 0


@dataclass
class AtomSet:
    """The selected atoms of a topology.

    Attributes
    ----------
    n_atoms_total : int
        Atoms in the full topology.
    n_hydrogens_total : int
        Hydrogen atoms in the full topology (0 for a topology stripped to heavy atoms, whose atom
        numbering then differs from an all-atom simulation's).
    indices : ndarray, shape (n,), int64
        0-based indices of the selected atoms in the full topology, ascending.
    names, elements, residue_names : list of str
        Per selected atom.
    residue_ids : ndarray, shape (n,), int64
        Residue sequence numbers as written in the topology.
    atomic_numbers : ndarray, shape (n,), int64
        0 where the element is unknown.
    bonds : ndarray, shape (n_bonds, 2), int64
        Bonds between selected atoms, as local (0..n-1) indices.
    """

    n_atoms_total: int
    n_hydrogens_total: int
    indices: np.ndarray
    names: list[str]
    elements: list[str]
    residue_names: list[str]
    residue_ids: np.ndarray
    atomic_numbers: np.ndarray
    bonds: np.ndarray
    tree: BondTree = field(init=False)

    def __post_init__(self):
        self.tree = bond_tree(len(self.indices), self.bonds)


@dataclass
class Chunk:
    """A block of consecutive (strided) frames.

    Attributes
    ----------
    xyz : ndarray, shape (F, n, 3), float32
        Positions of the selected atoms in nm, molecules made whole.
    time_ps : ndarray, shape (F,), float64, or None
        Simulation times in ps, when the file format stores them.
    """

    xyz: np.ndarray
    time_ps: np.ndarray | None


class Reader:
    """Common interface of the engines. Use :func:`make_reader`.

    Parameters
    ----------
    topology : path
        Topology file.
    select : str or None
        Selection in the engine's language; ``None`` means :data:`DEFAULT_SELECTION`.
    """

    engine = "?"

    def __init__(self, topology, select: str | None = None):
        self.topology = check_file(topology, "topology file")
        self.selection = DEFAULT_SELECTION if select is None else str(select)
        if not self.selection.strip():
            raise SelectionError("The atom selection is empty. Give a selection such as 'protein and not element H'.")
        self.atoms: AtomSet = self._load()
        if len(self.atoms.indices) == 0:
            raise SelectionError(
                f"The selection {self.selection!r} selects no atoms of the topology {str(self.topology)!r} "
                f"({self.atoms.n_atoms_total} atoms). Check it with the {self.engine} selection language, "
                f"or pass another selection (--select)."
            )
        unknown = [n for n, z in zip(self.atoms.names, self.atoms.atomic_numbers) if z == 0]
        if unknown:
            log.warning("%d selected atoms have no known element (e.g. %s); their atomic number is stored as 0.",
                        len(unknown), ", ".join(unknown[:5]))
        # (MDAnalysis guesses missing bonds from the first frame and warns itself if that fails.)
        if len(self.atoms.bonds) == 0 and len(self.atoms.indices) > 1 and not getattr(self, "_need_guess_bonds", False):
            log.warning(
                "The topology %s has no bonds between the selected atoms, so molecules cannot be made whole "
                "across periodic boundaries; positions are stored as read. Use a topology with bonds "
                "(e.g. PDB with standard residues, PSF, PRMTOP, TPR) if the molecule crosses the box.",
                self.topology.name,
            )
        self._warned_pbc = False

    # -- engine specific ---------------------------------------------------
    def _load(self) -> AtomSet:  # pragma: no cover - abstract
        raise NotImplementedError

    def _chunks(self, path: Path, stride: int, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
        raise NotImplementedError  # pragma: no cover

    def write_pdb(self, path: str | os.PathLike, xyz: np.ndarray) -> None:  # pragma: no cover - abstract
        """Write a PDB of the selected atoms at positions ``xyz`` (n, 3) nm."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------
    def default_chunk(self) -> int:
        """Frames per chunk so that a decoded chunk of full frames stays near 32 MiB."""
        return int(max(1, min(2000, _CHUNK_BYTES // max(1, 12 * self.atoms.n_atoms_total))))

    def iter_chunks(self, path, stride: int = 1, chunk_size: int | None = None) -> Iterator[Chunk]:
        """Stream the selected atoms of one trajectory file.

        Parameters
        ----------
        path : path
            Trajectory file (any format the engine reads).
        stride : int
            Keep every ``stride``-th frame.
        chunk_size : int, optional
            Frames read at once; default from :meth:`default_chunk`. Peak memory
            depends on this, not on the trajectory length.

        Yields
        ------
        Chunk
            float32 nm positions (molecules made whole) and times in ps (or None).

        Raises
        ------
        TrajectoryReadError
            Unreadable/corrupt file, atom-count mismatch, or NaN/inf coordinates.
        """
        path = check_file(path, "trajectory file")
        if int(stride) < 1:
            raise ConfigError(f"The stride must be a positive integer, got {stride!r}.")
        chunk = int(chunk_size) if chunk_size else self.default_chunk()
        done = 0
        it = self._chunks(path, int(stride), chunk)
        while True:
            try:
                item = next(it)
            except StopIteration:
                break
            except TrajectoryReadError:
                raise
            except Exception as exc:  # noqa: BLE001 - any engine failure here is an unreadable file
                raise TrajectoryReadError(
                    f"Cannot read the trajectory {str(path)!r} with {self.engine} (after {done} frames): "
                    f"{type(exc).__name__}: {brief(exc, 300)}. The file may be truncated or corrupt, or not in a format "
                    f"{self.engine} reads; check it (e.g. with gmx check / mdconvert) or try --engine "
                    f"{'mdanalysis' if self.engine == 'mdtraj' else 'mdtraj'}."
                ) from exc
            xyz, box, time = item
            xyz = np.asarray(xyz, dtype=np.float32)
            bad = ~np.isfinite(xyz).all(axis=(1, 2))
            if bad.any():
                first = done + int(np.flatnonzero(bad)[0])
                raise TrajectoryReadError(
                    f"The trajectory {str(path)!r} has NaN or infinite coordinates (first in frame {first} after "
                    f"striding). Remove the broken frames (e.g. gmx trjconv -b/-e) before preparing the store."
                )
            big = np.abs(xyz).max(axis=(1, 2)) > MAX_ABS_COORDINATE_NM
            if big.any():
                first = done + int(np.flatnonzero(big)[0])
                raise TrajectoryReadError(
                    f"The trajectory {str(path)!r} has an absurd coordinate in frame {first} (after striding): "
                    f"{float(np.abs(xyz[first - done]).max()):.3g} nm, beyond {MAX_ABS_COORDINATE_NM:g} nm. The file is "
                    "probably corrupt or in other units; check it (e.g. gmx check) and remove the broken frames.")
            if box is not None:
                make_whole(xyz, box, self.atoms.tree)
            done += len(xyz)
            yield Chunk(xyz, time)
        if done == 0:
            raise TrajectoryReadError(f"The trajectory {str(path)!r} contains no frames (with stride {stride}).")

    def _mismatch(self, path: Path, n_traj: int) -> TrajectoryReadError:
        return TrajectoryReadError(
            f"The topology {str(self.topology)!r} has {self.atoms.n_atoms_total} atoms but the trajectory "
            f"{str(path)!r} has {n_traj}. Use the topology the trajectory was written with (same atoms, e.g. "
            f"with or without solvent)."
        )


class MDTrajReader(Reader):
    """Reader built on mdtraj (``md.iterload``): any format mdtraj reads.

    Selections use mdtraj's language (``topology.select``). Formats without stored
    times (DCD, PDB, GRO, ...) have an unknown frame spacing: give ``timestep_ps``.
    """

    engine = "mdtraj"

    def _load(self) -> AtomSet:
        import mdtraj as md

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with ascii_safe_path(self.topology) as tp:
                    top = md.load_topology(tp)
        except Exception as exc:  # noqa: BLE001
            why = ("it holds no atoms: is it really a topology file of that format?" if isinstance(exc, IndexError)
                   else f"{type(exc).__name__}: {brief(exc, 300)}.")
            raise TrajectoryReadError(
                f"mdtraj cannot read the topology {str(self.topology)!r}: {why} "
                f"For formats mdtraj does not read (e.g. TPR) use --engine mdanalysis."
            ) from exc
        if top.n_atoms == 0:
            raise TrajectoryReadError(f"The topology {str(self.topology)!r} holds no atoms: is it really a topology "
                                      "file of that format?")
        self._top = top
        try:
            idx = np.asarray(top.select(self.selection), dtype=np.int64)
        except Exception as exc:  # noqa: BLE001
            raise SelectionError(
                f"The selection {self.selection!r} is not valid mdtraj selection syntax ({brief(exc)}). "
                f"Example: 'protein and not element H' or 'name CA'."
            ) from exc
        idx.sort()
        sub = top.subset(idx) if len(idx) else top.subset([])
        self._sub = sub
        atoms = list(sub.atoms)
        bonds = np.array([(b.atom1.index, b.atom2.index) for b in sub.bonds], dtype=np.int64).reshape(-1, 2)
        return AtomSet(
            n_atoms_total=top.n_atoms,
            n_hydrogens_total=sum(1 for a in top.atoms if a.element is not None and a.element.atomic_number == 1),
            indices=idx,
            names=[a.name for a in atoms],
            elements=[a.element.symbol if a.element is not None else "" for a in atoms],
            residue_names=[a.residue.name for a in atoms],
            residue_ids=np.array([a.residue.resSeq for a in atoms], dtype=np.int64),
            atomic_numbers=np.array(
                [a.element.atomic_number if a.element is not None and a.element.atomic_number else 0 for a in atoms],
                dtype=np.int64,
            ),
            bonds=bonds,
        )

    def _chunks(self, path, stride, chunk):
        import mdtraj as md

        # Full frames are read and sliced here: mdtraj's own atom_indices path rebuilds a
        # topology subset for every chunk, which costs more than the slicing (measured).
        timed = path.suffix.lower() in _MDTRAJ_TIMED
        idx = self.atoms.indices
        with warnings.catch_warnings(), ascii_safe_path(path) as readable:
            warnings.simplefilter("ignore")
            it = md.iterload(readable, top=self._top, chunk=chunk, stride=stride)
            while True:
                try:
                    t = next(it)
                except StopIteration:
                    return
                except ValueError as exc:
                    if "xyz must be shape" in str(exc):
                        n = str(exc).split("You supplied")[-1].strip(" ()").split(",")
                        raise self._mismatch(path, int(n[1]) if len(n) > 1 else -1) from exc
                    raise
                box = t.unitcell_vectors
                yield t.xyz[:, idx], box, (np.asarray(t.time, dtype=np.float64) if timed else None)

    def write_pdb(self, path, xyz):
        import mdtraj as md

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            md.Trajectory(np.asarray(xyz, dtype=np.float32)[None], self._sub).save_pdb(str(path))
