"""Atomic outputs: write under a temporary name, rename at the end.

A failed run leaves nothing half-written and never harms an existing output.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError, OutputExistsError

__all__ = ["atomic_dir", "atomic_file", "file_digest", "sha256_file", "check_output_dir"]


def check_output_dir(path: str | os.PathLike, overwrite: bool, what: str = "output directory", flag: str = "--overwrite") -> Path:
    """Refuse an existing output unless ``overwrite``; check that the parent is writable.

    Returns the output path. Nothing is created or removed.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"The {what} {str(path)!r} already exists. Choose another path or pass {flag} to replace it.")
    parent = path.absolute().parent
    if parent.exists() and not os.access(parent, os.W_OK):
        raise OutputError(f"Cannot write the {what} {str(path)!r}: the directory {str(parent)!r} is not writable.")
    return path


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False, what: str = "output directory", flag: str = "--overwrite") -> Iterator[Path]:
    """Create a directory atomically.

    Yields a temporary directory next to ``path``. When the block ends without
    error, the temporary directory is renamed to ``path`` (an existing ``path``
    is replaced only if ``overwrite``). On error, the temporary directory is
    removed and ``path`` is untouched.
    """
    path = check_output_dir(path, overwrite, what, flag)
    parent = path.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp gives 0700; follow the umask like mkdir would
    except OSError as exc:
        raise OutputError(f"Cannot create the {what} {str(path)!r}: {exc.strerror or exc}.") from exc
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.rename(path, old / "x")
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", overwrite: bool = True, **open_kwargs) -> Iterator:
    """Open a temporary file next to ``path``; rename it onto ``path`` when the block succeeds."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"The file {str(path)!r} already exists. Pass --overwrite to replace it.")
    try:
        path.absolute().parent.mkdir(parents=True, exist_ok=True)
        fd, tmpname = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.absolute().parent)
    except OSError as exc:
        raise OutputError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.") from exc
    os.close(fd)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would (umask)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmpname, 0o666 & ~umask)
    try:
        with open(tmpname, mode, **open_kwargs) as fh:
            yield fh
        os.replace(tmpname, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmpname)
        raise


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file with any :mod:`hashlib` algorithm (``"sha256"``, ``"md5"``, ...), read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    return file_digest(path, "sha256", chunk)
