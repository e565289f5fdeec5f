"""Safe extraction of zip and tar archives for :mod:`mdkoop.io.fetch`.

Archives are checked member by member before anything is extracted: absolute
paths, ``..`` components, links and device files make the whole archive refused
(zip-slip and friends). Each extracted file is written atomically.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import DownloadError
from ..utils.files import atomic_file

__all__ = ["safe_members", "extract_members", "CHUNK_BYTES"]

CHUNK_BYTES = 1 << 20  # bytes copied per read


def _member_is_unsafe(name: str) -> str | None:
    """Why an archive member name may not be extracted, or None if it is safe."""
    if not name or "\x00" in name:
        return "empty or NUL in the name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return "absolute path"
    if ".." in PurePosixPath(norm).parts:
        return "'..' path component (escapes the destination)"
    return None


def _archive_entries(archive: Path) -> list[tuple[str, str, object]]:
    """(name, kind, handle) for every member; kind is 'file', 'dir' or a refusal reason."""
    out = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                mode = info.external_attr >> 16
                if info.is_dir():
                    kind = "dir"
                elif mode and stat.S_ISLNK(mode):
                    kind = "symbolic link"
                elif mode and not stat.S_ISREG(mode) and stat.S_IFMT(mode):
                    kind = "special file"
                else:
                    kind = "file"
                out.append((info.filename, kind, info))
        return out
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for ti in tf.getmembers():
                if ti.isdir():
                    kind = "dir"
                elif ti.issym() or ti.islnk():
                    kind = "link"
                elif not ti.isfile():
                    kind = "special file"
                else:
                    kind = "file"
                out.append((ti.name, kind, ti))
        return out
    raise DownloadError(f"{str(archive)!r} is neither a zip nor a tar archive; delete it and download it again.")


def _matches(name: str, patterns) -> bool:
    name = name.replace("\\", "/")
    if name.startswith("./"):
        name = name[2:]
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(name, "*/" + p) for p in patterns)


def safe_members(archive: str | os.PathLike, patterns) -> list[str]:
    """Names of the archive members that match ``patterns``, after checking the whole archive.

    Parameters
    ----------
    archive : path
        A zip or tar file.
    patterns : sequence of str
        Glob patterns matched against each member path or any tail of it
        (``C22star/C*.xtc`` matches ``trajs_out/C22star/C0.xtc``).

    Returns
    -------
    list of str
        Regular-file members to extract, in archive order.

    Raises
    ------
    DownloadError
        If any member has an absolute path, a ``..`` component, is a link or a device
        (zip-slip and friends: the archive is refused as a whole), or nothing matches.
    """
    archive = Path(archive)
    entries = _archive_entries(archive)
    for name, kind, _ in entries:
        why = _member_is_unsafe(name)
        if why is None and kind not in ("file", "dir"):
            why = kind
        if why is not None:
            raise DownloadError(
                f"The archive {str(archive)!r} contains the unsafe member {name!r} ({why}); refusing to extract anything "
                f"from it. Delete it and download it again from the source named in the manifest."
            )
    chosen = [name for name, kind, _ in entries if kind == "file" and _matches(name, patterns)]
    if not chosen:
        raise DownloadError(f"No member of the archive {str(archive)!r} matches {list(patterns)}; is it the right file?")
    return chosen


def extract_members(archive: str | os.PathLike, patterns, dest: str | os.PathLike, *, flatten: bool = True,
                    progress: bool = True) -> list[Path]:
    """Extract the members matching ``patterns`` into ``dest``, refusing unsafe archives.

    Each file is written under a temporary name and renamed, so an interrupted
    extraction leaves no half-written file. With ``flatten`` the files get their base
    names (two members with the same base name are an error).

    Returns
    -------
    list of Path
        The extracted files.

    Raises
    ------
    DownloadError
        See :func:`safe_members`.
    """
    from tqdm.auto import tqdm

    archive, dest = Path(archive), Path(dest)
    names = safe_members(archive, patterns)
    targets: dict[str, Path] = {}
    for n in names:
        rel = PurePosixPath(n.replace("\\", "/")).name if flatten else PurePosixPath(n.replace("\\", "/"))
        t = (dest / rel).resolve()
        if not str(t).startswith(str(dest.resolve()) + os.sep):
            raise DownloadError(f"The archive member {n!r} of {str(archive)!r} would land outside {str(dest)!r}; refusing it.")
        if t in targets.values():
            raise DownloadError(f"Two members of {str(archive)!r} are both called {t.name!r}; extract without flattening.")
        targets[n] = t
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    is_zip = zipfile.is_zipfile(archive)
    opener = zipfile.ZipFile(archive) if is_zip else tarfile.open(archive)
    with opener as ar:
        for n in tqdm(names, desc=f"extract {archive.name}", unit="file", disable=not progress, leave=False):
            t = targets[n]
            t.parent.mkdir(parents=True, exist_ok=True)
            src = ar.open(n) if is_zip else ar.extractfile(n)
            with src, atomic_file(t, "wb") as fh:
                shutil.copyfileobj(src, fh, CHUNK_BYTES)
            out.append(t)
    return out
