"""Writing side of the trajectory store: :func:`prepare` and :func:`append`.

Coordinates are streamed chunk by chunk into fixed-header ``.npy`` files (so a
trajectory larger than memory is fine), written under temporary names and
renamed when complete; ``store.json`` is written last. The layout is described in
:mod:`mdkoop.io.store`; import the public names from there.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError, TrajectoryReadError
from ..utils.files import (
    atomic_dir,
    atomic_file,
    check_output_dir,
    remove_stale_temporaries,
    sha256_file,
    temporary_name,
)
from .engines import make_reader
from .readers import Reader, check_file
from .trajectory_store import (
    STORE_FORMAT,
    STORE_FORMAT_VERSION,
    STORE_META,
    STORE_NPY_HEADER_BYTES,
    STORE_TOPOLOGY,
    STORE_TRAJ_DIR,
    TrajectoryStore,
)

__all__ = ["prepare", "append"]

log = logging.getLogger("mdkoop.io")

_MAX_TIMES = 1000  # times kept per trajectory to find and check the frame spacing


# --------------------------------------------------------------------------- npy streaming
def _npy_header(shape: tuple[int, ...]) -> bytes:
    """A version-1.0 ``.npy`` header for little-endian float32 C-order data, exactly 128 bytes."""
    dims = ", ".join(str(int(s)) for s in shape)
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }"
    hlen = STORE_NPY_HEADER_BYTES - 10
    if len(d) >= hlen:
        raise ValueError(f"shape {shape} too large for the fixed npy header")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", hlen) + (d.ljust(hlen - 1) + "\n").encode("latin1")


class _NpyStreamWriter:
    """Append float32 frames to a ``.npy`` file whose length is not known in advance."""

    def __init__(self, path: Path, n_atoms: int):
        self.path = Path(path)
        self.n_atoms = n_atoms
        self.n_frames = 0
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in finish()/abort()
        self._fh.write(_npy_header((0, n_atoms, 3)))

    def write(self, xyz: np.ndarray) -> None:
        self._fh.write(np.ascontiguousarray(xyz, dtype="<f4").tobytes())
        self.n_frames += len(xyz)

    def finish(self) -> None:
        self._fh.seek(0)
        self._fh.write(_npy_header((self.n_frames, self.n_atoms, 3)))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()

    def abort(self) -> None:
        self._fh.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


# --------------------------------------------------------------------------- writing
def _refuse_duplicates(st: TrajectoryStore, paths: Sequence[Path]) -> dict[Path, str]:
    """Refuse files whose sha256 is already a source of ``st``, or that are given twice; return the digests."""
    seen = {t["source"].get("sha256"): t["source"].get("name") for t in st.metadata["trajectories"]}
    digests = {}
    for p in paths:
        digest = digests[p] = sha256_file(p)
        if digest in seen:
            raise InputError(
                f"The trajectory {str(p)!r} is already in the store {str(st.path)!r} (same content as its source "
                f"{seen[digest]!r}, sha256 {digest[:12]}). Appending it again would count its frames twice; "
                "pass --allow-duplicates if that is really wanted.")
        seen[digest] = p.name
    return digests


def _source_entry(path: Path, sha256: str | None = None) -> dict:
    st = path.stat()
    return {"name": path.name, "path": str(path.resolve()), "size": int(st.st_size),
            "sha256": sha256 or sha256_file(path)}


def _timestep_from_times(times: np.ndarray, path: Path, strict: bool = True) -> float | None:
    """Frame spacing in ps from stored times; None if unknown (fewer than 2 frames, or all equal).

    The times of XTC/TRR files are float32, so consecutive differences carry rounding noise of about the
    float32 spacing at the largest time (0.2 ps frames read as 0.199997 ps). The spacing is taken over the
    whole span of the times read, then rounded to the shortest decimal within that noise
    (:func:`mdkoop.units.shortest_decimal`).
    """
    from ..units import shortest_decimal

    if times is None or len(times) < 2:
        return None
    d = np.diff(times)
    dt = float(np.median(d))
    if not np.isfinite(dt) or dt <= 0:
        return None
    resolution = 2.0 * float(np.spacing(np.float32(np.max(np.abs(times)))))  # float32 times (XTC, TRR)
    if np.max(np.abs(d - dt)) > 1e-3 * dt + 1e-4 + resolution:
        if not strict:
            return None
        raise TrajectoryReadError(
            f"The frames of {str(path)!r} are not equally spaced in time (spacings from {d.min():g} to {d.max():g} ps). "
            f"Split the file at the jumps, or pass --timestep to state the spacing yourself."
        )
    span = (float(times[-1]) - float(times[0])) / (len(times) - 1)
    noise = resolution / (len(times) - 1) + 1e-9 * span
    return shortest_decimal(span, noise)


def _progress(total_desc: str, show: bool):
    from tqdm.auto import tqdm

    return tqdm(desc=total_desc, unit="frame", disable=not show, leave=False)


def _write_trajectories(reader: Reader, trajectories: Sequence[Path], out_dir: Path, first_index: int, *,
                        stride: int, timestep_ps: float | None, chunk_size: int | None, progress: bool,
                        digests: dict[Path, str] | None = None) -> tuple[list[dict], float | None, np.ndarray | None]:
    """Stream each trajectory into ``out_dir/traj_XXXXX.npy`` (written as ``.tmp`` then renamed by the caller).

    Returns the per-trajectory entries, the common time spacing found in the files
    (None if unknown) and the first frame (for the topology PDB).
    """
    entries = []
    spacing_seen: list[tuple[Path, float | None]] = []
    first_frame = None
    written: list[Path] = []
    try:
        for k, src in enumerate(trajectories):
            name = f"traj_{first_index + k:05d}.npy"
            remove_stale_temporaries(out_dir / name)
            tmp = temporary_name(out_dir / name)
            writer = _NpyStreamWriter(tmp, len(reader.atoms.indices))
            written.append(tmp)
            head_times: list[float] = []
            bar = _progress(f"{src.name}", progress)
            try:
                for chunk in reader.iter_chunks(src, stride=stride, chunk_size=chunk_size):
                    if first_frame is None:
                        first_frame = chunk.xyz[0].copy()
                    if chunk.time_ps is not None and len(head_times) < _MAX_TIMES:
                        head_times.extend(chunk.time_ps[: _MAX_TIMES - len(head_times)].tolist())
                    elif chunk.time_ps is None:
                        head_times = []
                    writer.write(chunk.xyz)
                    bar.update(len(chunk.xyz))
            except BaseException:
                writer.abort()
                raise
            finally:
                bar.close()
            writer.finish()
            if stride > 1 and writer.n_frames < 2:
                raise ConfigError(
                    f"The stride {stride} leaves only {writer.n_frames} frame of {str(src)!r}: the stride exceeds the "
                    "trajectory's length. Use a smaller --stride.")
            dt = _timestep_from_times(np.asarray(head_times), src, strict=timestep_ps is None) if head_times else None
            spacing_seen.append((src, dt))
            if dt is None and timestep_ps is None:
                raise InputError(
                    f"The frame spacing of {str(src)!r} is unknown (the file stores no usable times). Pass it with "
                    f"--timestep PS (the time between saved frames, before striding) or timestep_ps=."
                )
            raw = float(np.median(np.diff(head_times))) if len(head_times) > 1 else None
            entries.append({"file": f"{STORE_TRAJ_DIR}/{name}", "tmp": tmp.name, "n_frames": writer.n_frames,
                            "source": _source_entry(src, (digests or {}).get(src)), "file_timestep_ps": dt, "file_timestep_ps_raw": raw})
            log.info("%s: %d frames", src.name, writer.n_frames)
    except BaseException:
        for f in written:
            with contextlib.suppress(OSError):
                f.unlink()
        raise
    known = [(p, d) for p, d in spacing_seen if d is not None]
    file_dt = None
    if known:
        file_dt = known[0][1]
        for p, d in known[1:]:
            if timestep_ps is None and abs(d - file_dt) > 1e-6 * file_dt:
                raise InputError(
                    f"The trajectories have different frame spacings: {known[0][0].name!r} {file_dt:g} ps, "
                    f"{p.name!r} {d:g} ps. Prepare them as separate stores, or subsample them to a common spacing."
                )
    return entries, file_dt, first_frame


#: simulation records looked for beside each trajectory file (``temperature_K`` key)
_RUN_RECORDS = ("metadata.json", "run_info.json", "simulation.json")


def _temperature_entry(paths: Sequence[Path], temperature_K: float | None) -> dict:
    """``{"temperature_K", "temperature_source"}`` for ``store.json``: given, read beside the files, or unknown."""
    if temperature_K is not None:
        t = float(temperature_K)
        if not (np.isfinite(t) and t > 0):
            raise ConfigError(f"--temperature must be a positive number of K, got {temperature_K!r}.")
        return {"temperature_K": t, "temperature_source": "user"}
    unknown = {"temperature_K": None, "temperature_source": None}
    found: dict[float, str] = {}
    for p in paths:
        rec = next((p.parent / name for name in _RUN_RECORDS if (p.parent / name).is_file()), None)
        try:
            t = None if rec is None else json.loads(rec.read_text()).get("temperature_K")
        except (OSError, ValueError, AttributeError):
            t = None
        if not (isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0):
            return unknown  # a trajectory without a readable record: the temperature is not known for all
        found.setdefault(float(t), str(rec.resolve()))
    if len(found) != 1:
        return unknown  # the records disagree
    (t, src), = found.items()
    return {"temperature_K": t, "temperature_source": src}


def _check_args(trajectories, stride, timestep_ps) -> tuple[list[Path], int, float | None]:
    if isinstance(trajectories, (str, os.PathLike)):
        trajectories = [trajectories]
    paths = [check_file(t, "trajectory file") for t in trajectories]
    if not paths:
        raise InputError("No trajectory files given. Pass at least one trajectory.")
    if isinstance(stride, bool) or int(stride) != stride or int(stride) < 1:
        raise ConfigError(f"The stride must be a positive integer, got {stride!r}.")
    if timestep_ps is not None:
        from ..units import parse_time_ps

        timestep_ps = parse_time_ps(timestep_ps)
    return paths, int(stride), timestep_ps


def _final_timestep(file_dt: float | None, timestep_ps: float | None, stride: int) -> tuple[float, str]:
    if timestep_ps is not None:
        if file_dt is not None and abs(file_dt - timestep_ps * stride) > 1e-3 * file_dt:
            log.warning("--timestep %g ps overrides the spacing in the files (%g ps per saved frame after stride).",
                        timestep_ps, file_dt)
        return timestep_ps * stride, "user"
    return float(file_dt), "file"


def prepare(topology, trajectories, out, *, select: str | None = None, stride: int = 1,
            timestep_ps: float | str | None = None, engine: str = "mdtraj", overwrite: bool = False,
            chunk_size: int | None = None, progress: bool = False, temperature_K: float | None = None) -> TrajectoryStore:
    """Read trajectories into a new store.

    Parameters
    ----------
    topology : path
        Topology file (PDB, GRO, PSF, PRMTOP, TPR with ``engine="mdanalysis"``, ...).
    trajectories : path or sequence of paths
        Trajectory files; each becomes one trajectory of the store.
    out : path
        The store directory to create.
    select : str, optional
        Atom selection in the engine's language; default: the protein's heavy atoms.
    stride : int
        Keep every ``stride``-th frame.
    timestep_ps : float or str, optional
        Time between saved frames in the files (before striding), in ps or with a unit
        (``"10ps"``). Overrides the files' times; required when they store none.
    engine : {"mdtraj", "mdanalysis"}
        The reading library.
    overwrite : bool
        Replace an existing ``out``.
    chunk_size : int, optional
        Frames read at once (memory bound); chosen automatically by default.
    progress : bool
        Show a tqdm progress bar over frames.
    temperature_K : float, optional
        The simulation temperature in K, recorded in ``store.json`` (the exported PLUMED input uses it).
        By default it is read from a simulation record beside the trajectories (``metadata.json``,
        ``run_info.json`` or ``simulation.json`` with ``temperature_K``, as ``mdkoop simulate`` writes),
        when all of them agree; otherwise it stays unknown.

    Returns
    -------
    TrajectoryStore

    Raises
    ------
    MissingFileError, TrajectoryReadError, SelectionError, OutputExistsError, InputError
        Each names the offending file or option. Nothing is left behind on failure.
    """
    paths, stride, timestep_ps = _check_args(trajectories, stride, timestep_ps)
    inputs = [topology, *paths]
    check_output_dir(out, overwrite, what="store", kind="store", inputs=inputs)
    temperature = _temperature_entry(paths, temperature_K)  # before any work: a bad --temperature is refused
    reader = make_reader(engine, topology, select)
    with atomic_dir(out, overwrite=overwrite, what="store", kind="store", inputs=inputs) as tmp:
        tdir = tmp / STORE_TRAJ_DIR
        tdir.mkdir()
        entries, file_dt, first = _write_trajectories(reader, paths, tdir, 0, stride=stride, timestep_ps=timestep_ps,
                                                      chunk_size=chunk_size, progress=progress)
        for e in entries:
            os.rename(tdir / e.pop("tmp"), tmp / e["file"])
        dt, dt_source = _final_timestep(file_dt, timestep_ps, stride)
        reader.write_pdb(tmp / STORE_TOPOLOGY, first)
        a = reader.atoms
        from .. import __version__

        meta = {
            "format": STORE_FORMAT,
            "format_version": STORE_FORMAT_VERSION,
            "mdkoop_version": __version__,
            "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "engine": reader.engine,
            "selection": reader.selection,
            "stride": stride,
            "timestep_ps": dt,
            "timestep_source": dt_source,
            "units": {"positions": "nm", "time": "ps"},
            "n_frames": int(sum(e["n_frames"] for e in entries)),
            "n_atoms": len(a.indices),
            "n_atoms_topology": a.n_atoms_total,
            "n_hydrogens_topology": a.n_hydrogens_total,
            "n_trajectories": len(entries),
            "trajectory_lengths": [int(e["n_frames"]) for e in entries],
            "atom_indices": a.indices.tolist(),
            "atom_names": a.names,
            "elements": a.elements,
            "atomic_numbers": a.atomic_numbers.tolist(),
            "residue_names": a.residue_names,
            "residue_ids": a.residue_ids.tolist(),
            "made_whole": bool(len(a.bonds)),
            **temperature,
            "topology_file": STORE_TOPOLOGY,
            "topology": _source_entry(reader.topology),
            "trajectories": entries,
        }
        (tmp / STORE_META).write_text(json.dumps(meta, indent=1) + "\n")
    log.info("Wrote store %s: %d trajectories, %d frames, %d atoms, %g ps per frame.",
             out, meta["n_trajectories"], meta["n_frames"], meta["n_atoms"], dt)
    return TrajectoryStore.open(out)


def append(store, trajectories, *, topology=None, timestep_ps: float | str | None = None,
           chunk_size: int | None = None, progress: bool = False, allow_duplicates: bool = False) -> TrajectoryStore:
    """Add trajectories to an existing store without rewriting its data.

    The new trajectories are read with the store's engine, selection and stride.
    New data files are written under temporary names and renamed when complete;
    ``store.json`` is replaced last, so a failure leaves the store unchanged.

    Parameters
    ----------
    store : TrajectoryStore or path
        The store to extend.
    trajectories : path or sequence of paths
        New trajectory files (same system as the store).
    topology : path, optional
        Topology for the new files; default: the store's original topology path.
    timestep_ps : float or str, optional
        Spacing between saved frames (before striding); needed when the files store no times.
    chunk_size, progress
        As in :func:`prepare`.
    allow_duplicates : bool
        Accept a file whose content (sha256) is already in the store, or given twice; by default that is
        refused, since the same frames twice would silently weight them double.

    Returns
    -------
    TrajectoryStore
        The re-opened, extended store.

    Raises
    ------
    InputError
        The new files select different atoms, have a different frame spacing, or are already in the store.
    """
    st = store if isinstance(store, TrajectoryStore) else TrajectoryStore.open(store)
    m = st.metadata
    stride = int(m["stride"])
    paths, _, timestep_ps = _check_args(trajectories, stride, timestep_ps)
    digests = {} if allow_duplicates else _refuse_duplicates(st, paths)  # hashed once: reused for store.json
    top = topology if topology is not None else m["topology"]["path"]
    reader = make_reader(m["engine"], top, m["selection"])
    a = reader.atoms
    if len(a.indices) != st.n_atoms or not np.array_equal(a.indices, st.atom_indices) or a.names != st.atom_names:
        raise InputError(
            f"The topology {str(top)!r} with selection {m['selection']!r} gives {len(a.indices)} atoms that differ from "
            f"the store's {st.n_atoms} atoms. Append only trajectories of the same system, or prepare a new store."
        )
    tdir = st.path / STORE_TRAJ_DIR
    entries, file_dt, _ = _write_trajectories(reader, paths, tdir, st.n_trajectories, stride=stride, digests=digests,
                                              timestep_ps=timestep_ps, chunk_size=chunk_size, progress=progress)
    renamed: list[Path] = []
    try:
        dt, _src = _final_timestep(file_dt, timestep_ps, stride)
        if abs(dt - st.timestep_ps) > 1e-6 * st.timestep_ps:
            raise InputError(
                f"The new trajectories have a frame spacing of {dt:g} ps (after stride {stride}) but the store "
                f"{str(st.path)!r} has {st.timestep_ps:g} ps. Append only trajectories with the same spacing."
            )
        for e in entries:
            final = st.path / e["file"]
            if final.exists():
                raise InputError(f"The store {str(st.path)!r} already has a file {e['file']!r}; it looks damaged.")
            os.rename(tdir / e["tmp"], final)
            renamed.append(final)
            e.pop("tmp")
        meta = dict(m)
        meta["trajectories"] = list(m["trajectories"]) + entries
        meta["trajectory_lengths"] = [int(x["n_frames"]) for x in meta["trajectories"]]
        meta["n_trajectories"] = len(meta["trajectories"])
        meta["n_frames"] = int(sum(meta["trajectory_lengths"]))
        meta["modified_utc"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        with atomic_file(st.path / STORE_META, "w") as fh:
            fh.write(json.dumps(meta, indent=1) + "\n")
    except BaseException:
        for e in entries:
            for f in ([tdir / e["tmp"]] if "tmp" in e else []):
                with contextlib.suppress(OSError):
                    f.unlink()
        for f in renamed:
            with contextlib.suppress(OSError):
                f.unlink()
        raise
    log.info("Appended %d trajectories to %s.", len(entries), st.path)
    return TrajectoryStore.open(st.path)
