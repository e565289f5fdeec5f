"""``mdkoop data fetch``: download, verify, extract and prepare a dataset described by a manifest.

Layout of a fetched dataset under ``DEST``::

    DEST/downloads/   the files as downloaded (kept: a rerun verifies and reuses them;
                      an interrupted download resumes from ``<name>.part``)
    DEST/files/       topology and trajectories (extracted from archives when needed);
                      for on-request datasets, put the files here by hand
    DEST/store/       the prepared :class:`mdkoop.io.store.TrajectoryStore`
    DEST/dataset.json what was fetched, from where, with which checksums

Only ``urllib`` is used (``http(s)://``, ``ftp://``, ``file://``). Archives (zip, tar)
are checked member by member: absolute paths, ``..`` components, links and device
files are refused before anything is extracted.
Archive handling lives in :mod:`mdkoop.io.archives`; :func:`safe_members` and
:func:`extract_members` are re-exported here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import DownloadError, MissingFileError, OutputExistsError
from ..utils.files import atomic_file, file_digest
from ..utils.logging import get_logger
from .archives import CHUNK_BYTES, extract_members, safe_members
from .manifests import Manifest, ManifestFile, get_manifest

__all__ = [
    "FetchResult",
    "default_dest",
    "file_checksum",
    "verify_file",
    "download",
    "safe_members",
    "extract_members",
    "locate_files",
    "fetch",
]

log = get_logger("fetch")
USER_AGENT = "mdkoop-data-fetch (urllib)"


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` produced.

    Attributes
    ----------
    manifest : Manifest
    dest : Path
        The dataset folder.
    topology : Path
    trajectories : list of Path
    store : TrajectoryStore or None
        The prepared store (None when ``prepare=False``).
    """

    manifest: Manifest
    dest: Path
    topology: Path
    trajectories: list
    store: object | None


def default_dest(name: str) -> Path:
    """Default dataset folder: ``$MDKOOP_DATA/<name>`` or ``~/.cache/mdkoop/datasets/<name>``."""
    root = os.environ.get("MDKOOP_DATA")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "mdkoop" / "datasets"
    return base / name


def file_checksum(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``"md5"`` or ``"sha256"``), read in 1 MiB chunks."""
    return file_digest(path, algorithm, CHUNK_BYTES)


def verify_file(path: str | os.PathLike, entry: ManifestFile) -> str:
    """Check a file's size and checksum against its manifest entry.

    Parameters
    ----------
    path : path
        The local file.
    entry : ManifestFile
        Its published size and checksum (either may be None: then that check is skipped).

    Returns
    -------
    str
        ``"checksum"``, ``"size"`` or ``"unverified"``: the strongest check that ran.

    Raises
    ------
    DownloadError
        On a size or checksum mismatch (the message says to delete and re-download).
    """
    path = Path(path)
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        raise DownloadError(
            f"{str(path)!r} has {size} bytes but the manifest says {entry.size}: the file is incomplete or a different "
            f"version. Delete it and run the fetch again (or download {entry.url or entry.name} by hand)."
        )
    if entry.checksum is not None:
        algo, want = entry.checksum
        got = file_checksum(path, algo)
        if got != want:
            raise DownloadError(
                f"{str(path)!r} fails verification: {algo} {got} but the published value is {want}. "
                f"Delete it and run the fetch again (or download {entry.url or entry.name} by hand)."
            )
        return "checksum"
    return "size" if entry.size is not None else "unverified"


def _open_url(url: str, start: int, timeout: float):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if start > 0:
        req.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - URLs come from the manifests


def download(url: str, path: str | os.PathLike, *, size: int | None = None, progress: bool = True, timeout: float = 60.0,
             manual_hint: str = "") -> Path:
    """Download ``url`` to ``path`` through ``path.part``, resuming a previous partial download.

    Parameters
    ----------
    url : str
        ``http(s)://``, ``ftp://`` or ``file://`` URL.
    path : path
        Final file; written only when the download is complete.
    size : int, optional
        Expected size in bytes (for the progress bar and a completeness check).
    progress : bool
        Show a tqdm bar.
    timeout : float
        Socket timeout in seconds.
    manual_hint : str
        Appended to the error message (how to get the file by hand).

    Returns
    -------
    Path

    Raises
    ------
    DownloadError
        When the server cannot be reached or the transfer breaks off; the message says
        what to download by hand and where to put it.
    """
    from tqdm.auto import tqdm

    path = Path(path)
    part = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if part.exists() else 0
    if size is not None and start > size:
        part.unlink()
        start = 0
    how = f" Download it by hand from {url} and save it as {str(path)!r}, then rerun the command.{(' ' + manual_hint) if manual_hint else ''}"
    try:
        resp = _open_url(url, start, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and size is not None and start == size:  # the .part is already complete
            os.replace(part, path)
            return path
        raise DownloadError(f"Downloading {url} failed: HTTP {exc.code} {exc.reason}.{how}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"Cannot reach {url} ({reason}); are you offline?{how}") from exc
    with resp:
        status = getattr(resp, "status", None) or resp.getcode()
        resumed = start > 0 and status == 206
        if start > 0 and not resumed:
            log.info("the server ignored the resume request; downloading %s from the start", path.name)
            start = 0
        if resumed:
            log.info("resuming %s at %d bytes", path.name, start)
        total = size
        if total is None:
            length = resp.headers.get("Content-Length")
            total = start + int(length) if length and length.isdigit() else None
        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=path.name,
                   disable=not progress, leave=False)
        try:
            with open(part, "ab" if resumed else "wb") as fh:
                while block := resp.read(CHUNK_BYTES):
                    fh.write(block)
                    bar.update(len(block))
        except (OSError, urllib.error.URLError) as exc:
            raise DownloadError(f"The download of {url} broke off ({exc}); rerun the command to resume it.{how}") from exc
        finally:
            bar.close()
    got = part.stat().st_size
    if size is not None and got < size:
        raise DownloadError(f"The download of {url} stopped at {got} of {size} bytes; rerun the command to resume it.{how}")
    os.replace(part, path)
    return path


# ----------------------------------------------------------------------------- locating files
def _natural_key(p: Path):
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", str(p))]


def locate_files(manifest: Manifest, folder: str | os.PathLike) -> tuple[Path, list[Path]]:
    """Find the topology and trajectories of a dataset in ``folder`` using the manifest's globs.

    Returns
    -------
    (topology, trajectories)
        Trajectories sorted naturally (C2 before C10), without duplicates.

    Raises
    ------
    MissingFileError
        If the topology or the trajectories are not there (the message says what to put where).
    """
    folder = Path(folder)
    tops = sorted(folder.glob(manifest.topology), key=_natural_key)
    if not tops:
        raise MissingFileError(
            f"No topology matching {manifest.topology!r} in {str(folder)!r} for the dataset {manifest.name!r}. {manifest.obtain}"
        )
    if len(tops) > 1:
        log.warning("several topologies match %r in %s; using %s", manifest.topology, folder, tops[0].name)
    trajs: list[Path] = []
    for pat in manifest.trajectories:
        for p in folder.glob(pat):
            if p.is_file() and p not in trajs:
                trajs.append(p)
    trajs.sort(key=_natural_key)
    if not trajs:
        raise MissingFileError(
            f"No trajectory matching {list(manifest.trajectories)} in {str(folder)!r} for the dataset {manifest.name!r}. {manifest.obtain}"
        )
    if manifest.expected_trajectories is not None and len(trajs) != manifest.expected_trajectories:
        log.warning("found %d trajectories for %s, the manifest expects %d", len(trajs), manifest.name, manifest.expected_trajectories)
    return tops[0], trajs


# ----------------------------------------------------------------------------- fetch
def _obtain_file(entry: ManifestFile, downloads: Path, manifest: Manifest, progress: bool) -> tuple[Path, str]:
    """A verified local copy of ``entry``: reuse a file already in ``downloads`` (placed by hand or
    downloaded earlier) after verifying it, otherwise download it (resuming a ``.part``)."""
    path = downloads / entry.name
    if path.exists():
        how = verify_file(path, entry)
        log.info("using %s already in %s (%s verified)", entry.name, downloads, how)
        return path, how
    if not entry.url:
        raise DownloadError(f"{entry.name!r} of the dataset {manifest.name!r} has no download URL. {manifest.obtain}")
    log.info("downloading %s", entry.url)
    download(entry.url, path, size=entry.size, progress=progress, manual_hint=manifest.obtain)
    try:
        how = verify_file(path, entry)
    except DownloadError:
        bad = path.with_name(path.name + ".bad")
        os.replace(path, bad)
        raise
    if how == "unverified":
        log.warning("%s has no published size or checksum in the manifest; it was not verified", entry.name)
    return path, how


def fetch(name_or_manifest, dest: str | os.PathLike | None = None, *, overwrite: bool = False, prepare: bool = True,
          progress: bool = True, select: str | None = None) -> FetchResult:
    """Download (or find), verify, extract and prepare a dataset.

    Parameters
    ----------
    name_or_manifest : str or Manifest
        A dataset name from ``mdkoop data list``, a path to a manifest YAML, or a :class:`Manifest`.
    dest : path, optional
        Dataset folder (default :func:`default_dest`).
    overwrite : bool
        Extract and prepare again, replacing ``DEST/files`` entries and ``DEST/store``. Downloads
        in ``DEST/downloads`` are always reused once they pass verification (delete one to
        download it again).
    prepare : bool
        Run :func:`mdkoop.io.store.prepare` into ``DEST/store``.
    progress : bool
        Progress bars for downloads, extraction and preparation.
    select : str, optional
        Atom selection overriding the manifest's hint.

    Returns
    -------
    FetchResult

    Raises
    ------
    DownloadError
        Offline, unreachable, failed verification, unsafe archive, or an on-request dataset
        whose files are not in ``DEST/files`` yet (the message says what to get and where).
    OutputExistsError
        If ``DEST/store`` exists and ``overwrite`` is False.
    """
    m = name_or_manifest if isinstance(name_or_manifest, Manifest) else get_manifest(str(name_or_manifest))
    dest = Path(dest) if dest is not None else default_dest(m.name)
    store_dir = dest / "store"
    if prepare and store_dir.exists() and not overwrite:
        raise OutputExistsError(
            f"The dataset {m.name!r} is already prepared in {str(store_dir)!r}. Use it as is, or pass --overwrite to fetch and prepare again."
        )
    record: dict = {"name": m.name, "title": m.title, "citation": m.citation, "licence": m.licence, "files": []}

    if m.access == "bundled":
        from ..resources import resource_path

        files_dir = resource_path(m.bundled)
    else:
        files_dir = dest / "files"
        downloads = dest / "downloads"
        if m.access == "on-request":
            if not files_dir.is_dir() or not any(files_dir.rglob("*")):
                raise DownloadError(
                    f"The dataset {m.name!r} cannot be downloaded (available on request). {m.obtain} "
                    f"(expected folder: {str(files_dir)!r})"
                )
        else:
            for entry in m.files:
                path, how = _obtain_file(entry, downloads, m, progress)
                rec = {"name": entry.name, "url": entry.url, "size": path.stat().st_size, "verified": how,
                       "sha256": file_checksum(path, "sha256")}
                if entry.checksum is not None:
                    rec[entry.checksum[0]] = entry.checksum[1]
                record["files"].append(rec)
                if entry.is_archive:
                    extract_members(path, entry.members, files_dir, flatten=entry.flatten, progress=progress)
                else:
                    target = files_dir / entry.name
                    if overwrite or not target.exists():
                        files_dir.mkdir(parents=True, exist_ok=True)
                        if target.exists():
                            target.unlink()
                        try:
                            os.link(path, target)
                        except OSError:
                            shutil.copy2(path, target)
    topology, trajectories = locate_files(m, files_dir)
    record.update(topology=str(topology), trajectories=[str(t) for t in trajectories])
    store = None
    if prepare:
        from .store import prepare as prepare_store

        sel = select if select is not None else m.selection
        log.info("preparing %d trajectories of %s (selection %r)", len(trajectories), m.name, sel)
        store = prepare_store(topology, trajectories, store_dir, select=sel, timestep_ps=m.frame_spacing_ps,
                              overwrite=overwrite, progress=progress)
        record["store"] = str(store_dir)
    dest.mkdir(parents=True, exist_ok=True)
    with atomic_file(dest / "dataset.json", "w") as fh:
        json.dump(record, fh, indent=2)
        fh.write("\n")
    return FetchResult(manifest=m, dest=dest, topology=topology, trajectories=trajectories, store=store)
