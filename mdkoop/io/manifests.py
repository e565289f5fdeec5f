"""Data manifests: one YAML file per dataset, describing where it comes from and how to prepare it.

The manifests shipped with mdkoop live in ``mdkoop/resources/manifests/`` (package
data; ``data_manifests/`` in the source tree links to them). Extra directories of
your own manifests can be listed in the environment variable ``MDKOOP_MANIFESTS``
(``os.pathsep``-separated); a manifest there with the same name overrides the shipped one.

Schema (format 1)
-----------------
name : str
    Identifier used by ``mdkoop data fetch NAME`` (letters, digits, ``-``, ``_``).
title, description, citation, licence : str
homepage : str or null
access : {"download", "on-request", "bundled"}
    ``download``: the files have URLs. ``on-request``: nothing can be downloaded; the
    user places the files by hand (see ``obtain``). ``bundled``: shipped in the package
    (``bundled`` names the folder under ``mdkoop/resources/``).
files : list of mappings
    ``name`` (local file name), ``url``, ``size`` (bytes or null), ``md5`` / ``sha256``
    (hex, as published, or null), ``note``, and for archives ``extract``:
    ``members`` (glob patterns matched against each member path or its tail) and
    ``flatten`` (store members by their base name).
topology : str
    Glob (relative to the dataset's ``files/`` folder) of the topology file.
trajectories : list of str
    Globs of the trajectory files (sorted naturally: C2 before C10).
frame_spacing_ps : float or null
    Time between frames; null to read it from the trajectory files.
selection : str
    Atom-selection hint (mdtraj syntax) passed to :func:`mdkoop.io.store.prepare`.
obtain : str
    How to get the data by hand (used in error messages).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, InputError, MissingFileError

__all__ = [
    "ManifestFile",
    "Manifest",
    "load_manifest",
    "parse_manifest",
    "manifest_dirs",
    "list_manifests",
    "get_manifest",
    "ACCESS_KINDS",
]

ACCESS_KINDS = ("download", "on-request", "bundled")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HEX = {"md5": 32, "sha256": 64}


@dataclass(frozen=True)
class ManifestFile:
    """One downloadable file of a dataset.

    Attributes
    ----------
    name : str
        Local file name (no directories).
    url : str or None
        Where to download it (``http(s)://``, ``ftp://`` or ``file://``).
    size : int or None
        Size in bytes as published.
    checksum : tuple (algorithm, hexdigest) or None
        ``("md5", ...)`` or ``("sha256", ...)`` as published.
    members : tuple of str
        For archives: glob patterns of the members to extract (empty: not an archive).
    flatten : bool
        Extract members under their base names.
    note : str
    """

    name: str
    url: str | None
    size: int | None = None
    checksum: tuple[str, str] | None = None
    members: tuple[str, ...] = ()
    flatten: bool = True
    note: str = ""

    @property
    def is_archive(self) -> bool:
        """True when members are to be extracted from this file."""
        return bool(self.members)


@dataclass(frozen=True)
class Manifest:
    """A dataset description read from a manifest YAML file (see the module docstring)."""

    name: str
    title: str
    description: str
    citation: str
    licence: str
    access: str
    files: tuple[ManifestFile, ...]
    topology: str
    trajectories: tuple[str, ...]
    frame_spacing_ps: float | None
    selection: str | None
    obtain: str
    homepage: str | None = None
    bundled: str | None = None
    expected_trajectories: int | None = None
    source: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def total_size(self) -> int | None:
        """Sum of the published file sizes in bytes, or None if any is unknown (or there are no files)."""
        sizes = [f.size for f in self.files]
        if not sizes or any(s is None for s in sizes):
            return None
        return int(sum(sizes))


def _req(data: dict, key: str, where: str, types=str):
    if key not in data or data[key] is None:
        raise ConfigError(f"The manifest {where} lacks the required key {key!r}; add it (see mdkoop/io/manifests.py for the schema).")
    val = data[key]
    if not isinstance(val, types):
        raise ConfigError(f"The key {key!r} in the manifest {where} must be {getattr(types, '__name__', types)}, got {type(val).__name__}.")
    return val


def _parse_file(entry, where: str) -> ManifestFile:
    if not isinstance(entry, dict):
        raise ConfigError(f"Each entry of 'files' in the manifest {where} must be a mapping with name/url/size/md5|sha256.")
    name = _req(entry, "name", where)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ConfigError(f"The file name {name!r} in the manifest {where} must be a plain file name without directories.")
    url = entry.get("url")
    if url is not None and not isinstance(url, str):
        raise ConfigError(f"The url of {name!r} in the manifest {where} must be a string or null.")
    size = entry.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ConfigError(f"The size of {name!r} in the manifest {where} must be a non-negative integer (bytes) or null.")
    checksum = None
    for algo, n in _HEX.items():
        val = entry.get(algo)
        if val is None:
            continue
        if not (isinstance(val, str) and re.fullmatch(rf"[0-9a-fA-F]{{{n}}}", val)):
            raise ConfigError(f"The {algo} of {name!r} in the manifest {where} must be {n} hex digits, got {val!r}.")
        if checksum is not None:
            raise ConfigError(f"Give either md5 or sha256 for {name!r} in the manifest {where}, not both.")
        checksum = (algo, val.lower())
    members: tuple[str, ...] = ()
    flatten = True
    ext = entry.get("extract")
    if ext is not None:
        if not isinstance(ext, dict) or not isinstance(ext.get("members"), list) or not ext["members"]:
            raise ConfigError(f"'extract' of {name!r} in the manifest {where} needs a non-empty list 'members' of glob patterns.")
        members = tuple(str(m) for m in ext["members"])
        flatten = bool(ext.get("flatten", True))
    return ManifestFile(name=name, url=url, size=size, checksum=checksum, members=members, flatten=flatten, note=str(entry.get("note") or ""))


def parse_manifest(data: dict, where: str = "<dict>", source: Path | None = None) -> Manifest:
    """Validate a manifest mapping and build a :class:`Manifest`.

    Parameters
    ----------
    data : dict
        The parsed YAML.
    where : str
        Name used in error messages (the file path).
    source : Path, optional
        The file it came from.

    Raises
    ------
    ConfigError
        For a missing key, a wrong type, an invalid checksum or an unknown access kind.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"The manifest {where} must be a YAML mapping (key: value), not {type(data).__name__}.")
    name = _req(data, "name", where)
    if not _NAME_RE.match(name):
        raise ConfigError(f"The dataset name {name!r} in {where} may only contain letters, digits, '.', '-' and '_'.")
    access = _req(data, "access", where)
    if access not in ACCESS_KINDS:
        raise ConfigError(f"'access' in the manifest {where} must be one of {', '.join(ACCESS_KINDS)}, got {access!r}.")
    files_raw = data.get("files") or []
    if not isinstance(files_raw, list):
        raise ConfigError(f"'files' in the manifest {where} must be a list.")
    files = tuple(_parse_file(e, where) for e in files_raw)
    if len({f.name for f in files}) != len(files):
        raise ConfigError(f"The manifest {where} lists the same file name twice.")
    if access == "download":
        if not files:
            raise ConfigError(f"The manifest {where} has access 'download' but no files.")
        for f in files:
            if not f.url:
                raise ConfigError(f"The file {f.name!r} in the manifest {where} has no url (access 'download').")
    trajs = data.get("trajectories")
    if isinstance(trajs, str):
        trajs = [trajs]
    if not isinstance(trajs, list) or not trajs or not all(isinstance(t, str) for t in trajs):
        raise ConfigError(f"'trajectories' in the manifest {where} must be a non-empty list of file globs.")
    fs = data.get("frame_spacing_ps")
    if fs is not None and (not isinstance(fs, (int, float)) or isinstance(fs, bool) or fs <= 0):
        raise ConfigError(f"'frame_spacing_ps' in the manifest {where} must be a positive number or null.")
    bundled = data.get("bundled")
    if access == "bundled" and not isinstance(bundled, str):
        raise ConfigError(f"The manifest {where} has access 'bundled' but no 'bundled' folder name.")
    known = {"name", "title", "description", "citation", "licence", "access", "files", "topology", "trajectories",
             "frame_spacing_ps", "selection", "obtain", "homepage", "bundled", "expected_trajectories"}
    exp = data.get("expected_trajectories")
    if exp is not None and (not isinstance(exp, int) or exp < 1):
        raise ConfigError(f"'expected_trajectories' in the manifest {where} must be a positive integer.")
    return Manifest(
        name=name,
        title=str(data.get("title") or name),
        description=str(data.get("description") or ""),
        citation=_req(data, "citation", where),
        licence=_req(data, "licence", where),
        access=access,
        files=files,
        topology=_req(data, "topology", where),
        trajectories=tuple(trajs),
        frame_spacing_ps=None if fs is None else float(fs),
        selection=data.get("selection"),
        obtain=_req(data, "obtain", where),
        homepage=data.get("homepage"),
        bundled=bundled,
        expected_trajectories=exp,
        source=source,
        extra={k: v for k, v in data.items() if k not in known},
    )


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate one manifest YAML file.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    ConfigError
        If it is not valid YAML or does not follow the schema.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"The manifest {str(path)!r} does not exist.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"The manifest {str(path)!r} is not valid YAML: {exc}") from exc
    return parse_manifest(data, where=repr(str(path)), source=path)


def manifest_dirs() -> list[Path]:
    """Directories searched for manifests: the shipped ones, then ``$MDKOOP_MANIFESTS`` (later ones override)."""
    from ..resources import RESOURCES

    dirs = [RESOURCES / "manifests"]
    for d in os.environ.get("MDKOOP_MANIFESTS", "").split(os.pathsep):
        if d.strip():
            dirs.append(Path(d.strip()).expanduser())
    return dirs


def list_manifests() -> dict[str, Manifest]:
    """All known manifests by name (sorted by name).

    Raises
    ------
    ConfigError
        If a manifest file is invalid (the message names the file), or two files in
        one directory declare the same name.
    """
    found: dict[str, Manifest] = {}
    for d in manifest_dirs():
        if not d.is_dir():
            continue
        seen_here: dict[str, Path] = {}
        for p in sorted(d.glob("*.y*ml")):
            m = load_manifest(p)
            if m.name in seen_here:
                raise ConfigError(f"The manifests {str(seen_here[m.name])!r} and {str(p)!r} both declare the name {m.name!r}; rename one.")
            seen_here[m.name] = p
            found[m.name] = m
    return dict(sorted(found.items()))


def get_manifest(name: str) -> Manifest:
    """The manifest called ``name`` (or read from ``name`` if it is a path to a YAML file).

    Raises
    ------
    InputError
        If no manifest has that name (the message lists the known names).
    """
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return load_manifest(p)
    all_m = list_manifests()
    if name not in all_m:
        raise InputError(f"No dataset called {name!r}. Known datasets: {', '.join(all_m) or '(none)'}; see `mdkoop data list`.")
    return all_m[name]
