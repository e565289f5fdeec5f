"""The MDAnalysis engine of :func:`mdkoop.io.engines.make_reader`: any topology/trajectory MDAnalysis reads.

Besides the reader, the workarounds MDAnalysis needs: a failed reader's destructor noise is swallowed,
a trajectory is read through a private link (so MDAnalysis' offset cache never lands beside the user's file),
and an XTC whose last frame is cut is refused, as mdtraj refuses it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from ..errors import SelectionError, TrajectoryReadError
from ..units import ANGSTROM_TO_NM
from .pbc import bond_tree
from .readers import AtomSet, Reader, ascii_safe_path, atomic_number, brief

__all__ = ["MDAnalysisReader"]

log = logging.getLogger("mdkoop.io")


class MDAnalysisReader(Reader):
    """Reader built on MDAnalysis: any topology/trajectory MDAnalysis reads (TPR, PSF, PRMTOP, ...).

    Selections use MDAnalysis' ``select_atoms`` language. Elements missing from the
    topology (PSF, PRMTOP, GRO) are guessed from atom names/types; bonds missing from
    it (GRO, PDB) are guessed from distances within the selection.
    """

    engine = "mdanalysis"

    def _load(self) -> AtomSet:
        import MDAnalysis as mda

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                u = mda.Universe(str(self.topology))
        except Exception as exc:  # noqa: BLE001
            raise TrajectoryReadError(
                f"MDAnalysis cannot read the topology {str(self.topology)!r}: {type(exc).__name__}: {brief(exc, 300)}."
            ) from exc
        self._u = u
        if not hasattr(u.atoms, "elements") or not any(str(e).strip() for e in u.atoms.elements):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    u.guess_TopologyAttrs(to_guess=["elements"], force_guess=["elements"])
            except Exception as exc:  # noqa: BLE001
                log.warning("Could not guess elements for %s (%s).", self.topology.name, exc)
        try:
            ag = u.select_atoms(self.selection)
        except Exception as exc:  # noqa: BLE001
            if "element" in self.selection and not hasattr(u.atoms, "elements"):
                ag = u.select_atoms(self.selection.replace("not element H", "not name H*"))
            else:
                raise SelectionError(
                    f"The selection {self.selection!r} is not valid MDAnalysis selection syntax ({brief(exc)}). "
                    f"Example: 'protein and not element H' or 'name CA'."
                ) from exc
        self._ag = ag
        idx = np.asarray(ag.indices, dtype=np.int64)
        n = len(idx)
        elements = [str(e) for e in ag.elements] if hasattr(ag, "elements") else [""] * n
        bonds = np.zeros((0, 2), dtype=np.int64)
        local = np.full(len(u.atoms), -1, dtype=np.int64)
        local[idx] = np.arange(n)
        if n and hasattr(u, "bonds") and len(u.bonds):
            b = local[np.asarray(u.bonds.indices, dtype=np.int64)]
            bonds = b[(b >= 0).all(axis=1)]
        self._need_guess_bonds = n > 1 and len(bonds) == 0
        return AtomSet(
            n_atoms_total=len(u.atoms),
            n_hydrogens_total=_count_hydrogens(u),
            indices=idx,
            names=[str(x) for x in ag.names],
            elements=elements,
            residue_names=[str(x) for x in ag.resnames],
            residue_ids=np.asarray(ag.resids, dtype=np.int64),
            atomic_numbers=np.array([atomic_number(e) for e in elements], dtype=np.int64),
            bonds=bonds,
        )

    def _guess_bonds(self):
        """Guess bonds within the selection from the current frame (PBC-aware); warn when impossible."""
        self._need_guess_bonds = False
        try:
            from MDAnalysis.guesser.default_guesser import DefaultGuesser

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ts = self._u.trajectory.ts
                guesser = DefaultGuesser(self._u, box=ts.dimensions)
                pairs = guesser.guess_bonds(self._ag, self._ag.positions)
            idx = self.atoms.indices
            local = np.full(len(self._u.atoms), -1, dtype=np.int64)
            local[idx] = np.arange(len(idx))
            b = local[np.asarray(list(pairs), dtype=np.int64).reshape(-1, 2)]
            self.atoms.bonds = b[(b >= 0).all(axis=1)]
            self.atoms.tree = bond_tree(len(idx), self.atoms.bonds)
            log.info("Guessed %d bonds within the selection (the topology has none).", len(self.atoms.bonds))
        except Exception as exc:  # noqa: BLE001
            log.warning("Could not guess bonds (%s): molecules are not made whole across periodic boundaries.", exc)

    def _chunks(self, path, stride, chunk):
        with ascii_safe_path(path, always=True) as private:
            yield from self._chunks_of(path, private, stride, chunk)

    def _chunks_of(self, path, private, stride, chunk):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                _load_new_quietly(self._u, private)
            except ValueError as exc:
                if "same number of atoms" in str(exc):
                    n = -1
                    for line in str(exc).splitlines():
                        if line.startswith("Trajectory") and "Number of atoms" in line:
                            n = int(line.rsplit(" ", 1)[-1])
                    raise self._mismatch(path, n) from exc
                raise
            traj = self._u.trajectory
            _check_xtc_complete(path, traj)
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                try:
                    dt = float(traj.dt)
                except Exception:  # noqa: BLE001
                    dt = 0.0
            no_dt = any("dt information" in str(w.message) for w in rec) or not np.isfinite(dt) or dt <= 0
        if self._need_guess_bonds:
            traj[0]
            self._guess_bonds()
        n_sel = len(self.atoms.indices)
        frames = range(0, len(traj), stride)
        for s in range(0, len(frames), chunk):
            block = frames[s : s + chunk]
            xyz = np.empty((len(block), n_sel, 3), dtype=np.float32)
            box = np.zeros((len(block), 3, 3), dtype=np.float64)
            times = np.empty(len(block), dtype=np.float64)
            has_box = True
            for k, f in enumerate(block):
                ts = traj[f]
                xyz[k] = self._ag.positions
                if ts.dimensions is None:
                    has_box = False
                else:
                    box[k] = ts.triclinic_dimensions
                times[k] = ts.time
            xyz *= ANGSTROM_TO_NM  # MDAnalysis works in Angstrom: convert to nm at this boundary
            box *= ANGSTROM_TO_NM
            yield xyz, (box if has_box else None), (None if no_dt else times)

    def write_pdb(self, path, xyz):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self._u.trajectory.n_frames:
                self._u.trajectory[0]
            self._ag.positions = np.asarray(xyz, dtype=np.float64) / ANGSTROM_TO_NM
            self._ag.write(str(path))


def _count_hydrogens(universe) -> int:
    """Hydrogens of an MDAnalysis Universe: by element where known, else by name (H*)."""
    atoms = universe.atoms
    if hasattr(atoms, "elements") and any(str(e).strip() for e in atoms.elements):
        return int(sum(str(e).strip().upper() == "H" for e in atoms.elements))
    return int(sum(str(n).upper().startswith("H") for n in atoms.names))


def _load_new_quietly(universe, path: str) -> None:
    """``universe.load_new(path)``, re-raising a failure without the reader's ``__del__`` noise.

    A reader that fails in its constructor (a garbage XTC) is half-built, and its destructor prints an
    'Exception ignored in ... __del__' traceback when it is collected. The failure's traceback is dropped
    and the half-built reader collected here, with such messages swallowed, before the error is raised.
    """
    import gc
    import sys

    failure = None
    try:
        universe.load_new(path)
    except Exception as exc:  # noqa: BLE001 - re-raised below
        failure = exc
    if failure is None:
        return
    old = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        failure.__traceback__ = None
        failure.__context__ = None
        gc.collect()
    finally:
        sys.unraisablehook = old
    raise failure


def _check_xtc_complete(path: Path, traj) -> None:
    """Refuse an XTC whose last frame is cut or followed by stray bytes.

    MDAnalysis indexes XTC frames by their headers and silently drops a partial last frame; mdtraj
    refuses such a file. Both engines must agree, so the last indexed frame's length (from its header:
    56 bytes + coordinates for <= 9 atoms, else 92 bytes + the compressed byte count padded to 4) must
    end exactly at the end of the file.
    """
    import struct

    offsets = getattr(getattr(traj, "_xdr", None), "offsets", None)
    if path.suffix.lower() != ".xtc" or offsets is None or not len(offsets):
        return
    size = path.stat().st_size
    last = int(offsets[-1])
    with open(path, "rb") as fh:
        fh.seek(last)
        head = fh.read(92)
    end = -1
    if len(head) >= 56:
        natoms = struct.unpack(">i", head[4:8])[0]
        if natoms <= 9:
            end = last + 56 + 12 * natoms
        elif len(head) == 92:
            nbytes = struct.unpack(">i", head[88:92])[0]
            end = last + 92 + 4 * ((nbytes + 3) // 4)
    if end != size:
        raise TrajectoryReadError(
            f"Cannot read the trajectory {str(path)!r} with mdanalysis: the file is truncated or corrupt "
            f"({size} bytes, but its last indexed frame, {len(offsets) - 1}, ends at byte {end}); a cut frame would "
            "be dropped silently. Check it (e.g. with gmx check) and cut it at a frame boundary (gmx trjconv -e).")
