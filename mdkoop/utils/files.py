"""Safe outputs: atomic writes, ownership markers, input protection, stale temporaries, run locks.

The guarantees (see ``docs/guarantees.md``):

- **Atomic outputs.** Every output is built under a temporary name next to its destination
  (``.NAME.tmp-<pid>.<start>-<random>``) and renamed when complete, so a failed run leaves nothing
  half-written and never harms an existing output.
- **``--overwrite`` replaces only mdkoop's own output of the same kind.** Each output directory holds a
  marker file (:data:`OUTPUT_MARKER`, JSON with its ``kind``). An existing path is replaced only if it is
  a directory with the same kind of marker (or, for outputs of older versions, the same signature files),
  and only if it is not, and does not contain, one of the command's inputs. Anything else (a foreign
  directory, a regular file, a symbolic link, an input) is refused with a message.
- **Stale temporaries are cleaned.** A temporary whose creating process is gone (killed, power loss) is
  removed by the next command that writes the same output; one held by a live process is never touched.
- **One process per run.** :class:`RunLock` holds an exclusive ``flock`` on a run directory while a
  process works in it; the kernel releases it when the process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import OutputError, OutputExistsError

__all__ = [
    "OUTPUT_MARKER",
    "OUTPUT_KINDS",
    "atomic_dir",
    "atomic_file",
    "check_output_dir",
    "check_output_file",
    "mark_output",
    "output_kind",
    "remove_stale_temporaries",
    "replace_dir",
    "temporary_name",
    "RunLock",
    "file_digest",
    "sha256_file",
]

#: marker file written into every output directory mdkoop creates
OUTPUT_MARKER = ".mdkoop-output.json"
#: the kinds of output directory, as recorded in the marker
OUTPUT_KINDS = ("store", "run", "analysis", "export", "simulation", "sample", "demo", "model", "dataset")

#: temporaries of older versions (no pid in the name) count as stale after this many seconds untouched
_LEGACY_STALE_S = 24 * 3600
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<what>tmp|old)-(?:(?P<pid>\d+)\.(?P<start>\d+)-)?[A-Za-z0-9_]+$")


# --------------------------------------------------------------------------- process identity
def _start_time(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot (Linux), or 0 where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def _process_alive(pid: int, start: int) -> bool:
    """True if process ``pid`` exists and (where known) started at ``start``: a reused pid is not alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return True
    now = _start_time(pid) if start else 0
    return not (now and now != start)


def temporary_name(path: str | os.PathLike, what: str = "tmp") -> Path:
    """A unique temporary sibling of ``path`` tagged with this process: ``.NAME.<what>-<pid>.<start>-<rand>``."""
    path = Path(path)
    pid = os.getpid()
    return path.absolute().parent / f".{path.name}.{what}-{pid}.{_start_time(pid)}-{secrets.token_hex(4)}"


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``path`` (``.NAME.tmp-*``, ``.NAME.old-*``) whose process is gone.

    A temporary of a live process is left alone. Temporaries of older mdkoop versions (no pid in the
    name) are removed once they have been untouched for a day.

    Returns
    -------
    list of Path
        What was removed.
    """
    path = Path(path)
    parent = path.absolute().parent
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    try:
        candidates = list(parent.glob(f".{_glob_escape(path.name)}.*-*"))
    except OSError:
        return removed
    for c in candidates:
        m = _TMP_RE.match(c.name)
        if not m or m.group("name") != path.name:
            continue
        if m.group("pid"):
            stale = not _process_alive(int(m.group("pid")), int(m.group("start")))
        else:
            try:
                stale = time.time() - c.lstat().st_mtime > _LEGACY_STALE_S
            except OSError:
                stale = False
        if not stale:
            continue
        try:
            if c.is_dir() and not c.is_symlink():
                shutil.rmtree(c)
            else:
                c.unlink()
            removed.append(c)
        except OSError:
            pass
    if removed:
        from .logging import get_logger

        get_logger("files").info("removed %d stale temporary file(s) of %s left by an interrupted run: %s",
                                 len(removed), path, ", ".join(p.name for p in removed))
    return removed


def _glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return re.sub(r"([\[\]*?])", r"[\1]", name)


# --------------------------------------------------------------------------- markers
def mark_output(directory: str | os.PathLike, kind: str) -> None:
    """Write the ownership marker of an output directory of ``kind`` (one of :data:`OUTPUT_KINDS`)."""
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    from .. import __version__

    info = {"kind": kind, "mdkoop_version": __version__,
            "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    (Path(directory) / OUTPUT_MARKER).write_text(json.dumps(info) + "\n")


def _json_field(path: Path, key: str):
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return d.get(key) if isinstance(d, dict) else None


def output_kind(path: str | os.PathLike) -> str | None:
    """The kind of mdkoop output directory at ``path``, or None if it is not one.

    The marker file decides. Outputs of versions before the marker are recognised by their signature
    files: a store by ``store.json`` (format ``mdkoop-store``), a run by ``model.json`` (format
    ``mdkoop-model``) with ``config.json``, an analysis by ``summary.json`` with ``report.html``, a demo
    by ``demo.json`` beside a store.
    """
    p = Path(path)
    if p.is_symlink() or not p.is_dir():
        return None
    marker = p / OUTPUT_MARKER
    if marker.is_file():
        kind = _json_field(marker, "kind")
        return kind if kind in OUTPUT_KINDS else None
    if _json_field(p / "store.json", "format") == "mdkoop-store":
        return "store"
    if _json_field(p / "model.json", "format") == "mdkoop-model":
        return "run" if (p / "config.json").is_file() else "model"
    if (p / "summary.json").is_file() and (p / "report.html").is_file():
        return "analysis"
    if (p / "demo.json").is_file() and _json_field(p / "store" / "store.json", "format") == "mdkoop-store":
        return "demo"
    return None


def _inputs_inside(path: Path, inputs: Iterable) -> list[Path]:
    """The inputs that are ``path`` itself or lie inside it (symbolic links resolved)."""
    target = path.resolve()
    hits = []
    for i in inputs:
        if i is None:
            continue
        try:
            r = Path(i).resolve()
        except (OSError, RuntimeError, TypeError):
            continue
        if r == target or target in r.parents:
            hits.append(Path(i))
    return hits


def _check_replaceable(path: Path, kind: str | None, what: str, flag: str, inputs: Iterable) -> None:
    """Refuse to replace ``path`` unless it is an mdkoop output of ``kind`` that holds none of ``inputs``."""
    hits = _inputs_inside(path, inputs)
    if hits:
        raise OutputExistsError(
            f"Refusing to replace {str(path)!r}: it is, or contains, an input of this command ({str(hits[0])!r}). "
            f"{flag} never deletes inputs; write the {what} to another path.")
    if path.is_symlink():
        raise OutputExistsError(f"Refusing to replace {str(path)!r}: it is a symbolic link, not an mdkoop {what}. "
                                "Remove it yourself or choose another path.")
    if not path.is_dir():
        raise OutputExistsError(f"Refusing to replace {str(path)!r}: it is a file, not an mdkoop {what}. "
                                f"{flag} replaces only a {what} that mdkoop wrote; remove the file yourself or "
                                "choose another path.")
    if kind is None:
        return
    found = output_kind(path)
    if found != kind:
        holds = f"it is an mdkoop {found} directory" if found else "it was not written by mdkoop"
        raise OutputExistsError(
            f"Refusing to replace {str(path)!r} with {_a(what)}: {holds}. {flag} replaces only {_a(what)} that mdkoop "
            "wrote (recognised by its marker file); remove the directory yourself or choose another path.")


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _check_parent(path: Path, what: str) -> None:
    parent = path.absolute().parent
    for anc in [parent, *parent.parents]:
        if anc.exists():
            if not anc.is_dir():
                raise OutputError(f"Cannot write the {what} {str(path)!r}: {str(anc)!r} is a file, not a directory. "
                                  "Choose another path.")
            if anc == parent and not os.access(parent, os.W_OK):
                raise OutputError(f"Cannot write the {what} {str(path)!r}: the directory {str(parent)!r} is not writable.")
            break


def check_output_dir(path: str | os.PathLike, overwrite: bool, what: str = "output directory", flag: str = "--overwrite",
                     *, kind: str | None = None, inputs: Iterable = ()) -> Path:
    """Check that an output directory may be written; nothing is created or removed.

    Parameters
    ----------
    path : path-like
        The output directory.
    overwrite : bool
        Whether an existing output may be replaced.
    what, flag : str
        Words for the messages (``"store"``, ``"--overwrite"``).
    kind : str, optional
        The output's kind (:data:`OUTPUT_KINDS`): an existing ``path`` is replaced only if it is an mdkoop
        output of this kind. Without ``kind`` any existing directory that is not an input may be replaced
        (for callers that check ownership themselves).
    inputs : iterable of path-like
        The command's inputs: ``path`` must not be, or contain, any of them.

    Returns
    -------
    Path

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False, or it may not be replaced (see above).
    OutputError
        The parent is a file or is not writable.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise OutputExistsError(f"The {what} {str(path)!r} already exists. Choose another path or pass {flag} to replace it.")
        _check_replaceable(path, kind, what, flag, inputs)
    _check_parent(path, what)
    return path


def check_output_file(path: str | os.PathLike, overwrite: bool, what: str = "output file", flag: str = "--overwrite",
                      *, is_own=None, inputs: Iterable = ()) -> Path:
    """Check that an output file may be written (the file counterpart of :func:`check_output_dir`).

    Parameters
    ----------
    is_own : callable(Path) -> bool, optional
        Recognises a file that mdkoop wrote; an existing file is replaced only if it returns True.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        if path.is_dir() and not path.is_symlink():
            raise OutputExistsError(f"The {what} {str(path)!r} is an existing directory. Choose a file path.")
        if not overwrite:
            raise OutputExistsError(f"The {what} {str(path)!r} already exists. Choose another path or pass {flag} to replace it.")
        hits = _inputs_inside(path, inputs)
        if hits:
            raise OutputExistsError(f"Refusing to replace {str(path)!r}: it is an input of this command. "
                                    f"{flag} never deletes inputs; choose another path.")
        if path.is_symlink() or (is_own is not None and not is_own(path)):
            raise OutputExistsError(f"Refusing to replace {str(path)!r}: it is not {_a(what)} that mdkoop wrote. "
                                    "Remove it yourself or choose another path.")
    _check_parent(path, what)
    return path


# --------------------------------------------------------------------------- atomic writes
def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def replace_dir(tmp: Path, path: Path) -> None:
    """Rename the complete directory ``tmp`` onto ``path`` (moving an existing ``path`` aside first)."""
    if path.exists() or path.is_symlink():
        old = temporary_name(path, "old")
        os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            os.rename(old, path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False, what: str = "output directory", flag: str = "--overwrite",
               *, kind: str | None = None, inputs: Iterable = ()) -> Iterator[Path]:
    """Create a directory atomically.

    Yields a temporary directory next to ``path`` (holding the ownership marker of ``kind``, when given).
    When the block ends without error, the temporary directory is renamed to ``path``; an existing
    ``path`` is replaced only under the rules of :func:`check_output_dir`, which are checked again just
    before the rename. On error, the temporary directory is removed and ``path`` is untouched.
    Stale temporaries of ``path`` from dead processes are removed first.
    """
    inputs = list(inputs)
    path = check_output_dir(path, overwrite, what, flag, kind=kind, inputs=inputs)
    parent = path.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        tmp = temporary_name(path)
        tmp.mkdir(mode=0o777 & ~_umask())
        if kind is not None:
            mark_output(tmp, kind)
    except OSError as exc:
        raise OutputError(f"Cannot create the {what} {str(path)!r}: {exc.strerror or exc}.") from exc
    try:
        yield tmp
        check_output_dir(path, overwrite, what, flag, kind=kind, inputs=inputs)
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", overwrite: bool = True, **open_kwargs) -> Iterator:
    """Open a temporary file next to ``path``; rename it onto ``path`` when the block succeeds.

    An existing directory at ``path`` is never replaced. Ownership of an existing file is the caller's
    check (:func:`check_output_file`); this function is also used for files inside mdkoop's own outputs.
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise OutputExistsError(f"Cannot write the file {str(path)!r}: it is an existing directory. Choose a file path.")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"The file {str(path)!r} already exists. Pass --overwrite to replace it.")
    tmpname = temporary_name(path)
    try:
        path.absolute().parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        fd = os.open(tmpname, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~_umask())
    except OSError as exc:
        raise OutputError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.") from exc
    os.close(fd)
    try:
        with open(tmpname, mode, **open_kwargs) as fh:
            yield fh
        os.replace(tmpname, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmpname)
        raise


# --------------------------------------------------------------------------- run lock
class RunLock:
    """An exclusive, non-blocking ``flock`` on ``DIRECTORY/LOCK`` held while a process works in it.

    The kernel releases the lock when the process ends, however it ends (SIGKILL included), so a held
    lock always means a live process. Use as a context manager or with :meth:`acquire`/:meth:`release`.
    """

    FILE = "LOCK"

    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / self.FILE
        self._fd: int | None = None

    @classmethod
    def is_held(cls, directory: str | os.PathLike) -> int | None:
        """The pid of the live process holding ``directory``'s lock, or None if nobody holds it."""
        import fcntl

        p = Path(directory) / cls.FILE
        if not p.is_file():
            return None
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                try:
                    return int(p.read_text().strip() or 0) or -1
                except (OSError, ValueError):
                    return -1
            return None
        finally:
            os.close(fd)
        return None

    def acquire(self) -> RunLock:
        """Take the lock; raise :class:`OutputExistsError` naming the holder if another process has it."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                holder = RunLock.is_held(self.path.parent)
                raise OutputExistsError(
                    f"{str(self.path.parent)!r} is in use by another mdkoop process"
                    f"{f' (pid {holder})' if holder and holder > 0 else ''}. Wait for it to finish or stop it first."
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Release the lock (the LOCK file stays; it is harmless)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# --------------------------------------------------------------------------- digests
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
