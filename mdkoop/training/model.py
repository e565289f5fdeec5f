"""The fitted model: encoder(s) + linear Koopman model + metadata; save and load.

A :class:`KoopmanModel` is what ``KoopmanSVD.fetch_model()`` and :func:`load_model`
return. It maps frames to the learned functions (:meth:`KoopmanModel.features`),
to singular/eigen CVs (:meth:`KoopmanModel.transform`), and exposes the spectral
quantities of the :class:`mdkoop.estimation.model.LinearKoopmanModel` in physical
units.

On disk (a run directory, or any directory given to :meth:`KoopmanModel.save`):

``model.pt``
    ``torch.save`` of a flat state dict of tensors (``encoder_f.*`` and, for separate
    lobes, ``encoder_g.*``). Loaded with ``torch.load(..., weights_only=True)``: never unpickled.
``model.json``
    ``format``/``version``, the encoder architecture (``encoder``: :class:`EncoderConfig`
    fields and ``n_out``), atoms (``indices``, ``names``, ``atomic_numbers``), ``lagtime``
    (frames), ``lagtime_ps`` (or null), ``timestep``, ``time_unit``, ``units``, ``n_modes``,
    the linear model (``linear``: ``LinearKoopmanModel.to_dict()``) and package ``versions``.
"""

from __future__ import annotations

import copy
import json
import platform
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, MissingFileError, ModelFormatError
from ..nn.build import build_encoder
from ..nn.encoders import apply_encoder
from ..registry import STRUCTURAL_ENCODERS
from ..utils.files import atomic_dir, atomic_file
from ..utils.logging import get_logger
from .config import EncoderConfig

__all__ = ["KoopmanModel", "load_model", "validate_model_metadata", "build_encoder", "package_versions", "FORMAT",
           "FORMAT_VERSION"]

log = get_logger("training")

FORMAT = "mdkoop-model"
FORMAT_VERSION = 1


def package_versions() -> dict:
    """Versions of the packages that determine a model's numerics, for ``model.json``."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("mdkoop", "torch", "numpy", "pytorch-lightning", "torch-geometric", "schnetpack", "deeptime"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def _auto_device(device: str | torch.device | None) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class KoopmanModel:
    """A fitted Koopman SVD model.

    Parameters
    ----------
    encoder_f : torch.nn.Module
        Left lobe: frames -> (B, n_modes - 1) learned functions.
    encoder_g : torch.nn.Module or None
        Right lobe (None: shared, f = g).
    linear : mdkoop.estimation.model.LinearKoopmanModel
        The linear model estimated on the learned features (constant included).
    encoder_config : EncoderConfig
        Architecture, to rebuild the encoder from ``model.json``.
    n_modes : int
        Number of singular functions including the constant (the encoders output n_modes - 1).
    lagtime : int
        Lag in frames.
    timestep : float
        Time between frames in ``time_unit`` ("ps" for structural models, "frames" by default for arrays).
    time_unit : str
    atoms : dict or None
        ``{"indices", "names", "atomic_numbers"}`` for structural models (original-topology 0-based indices).
    extra : dict, optional
        Further metadata (store path, selection, training summary), stored in ``model.json``.
    """

    def __init__(self, encoder_f, encoder_g, linear, encoder_config: EncoderConfig, n_modes: int, lagtime: int,
                 timestep: float = 1.0, time_unit: str = "frames", atoms: dict | None = None, extra: dict | None = None):
        self.encoder_f = encoder_f.eval()
        self.encoder_g = encoder_g.eval() if encoder_g is not None else None
        self.linear = linear
        self.encoder_config = encoder_config
        self._n_modes = int(n_modes)
        self._lagtime = int(lagtime)
        self.timestep = float(timestep)
        self.time_unit = str(time_unit)
        self.atoms = atoms
        self.extra = dict(extra or {})
        self.batch_size = 512

    # ---- spectral attributes -------------------------------------------------------------------------------
    @property
    def n_modes(self) -> int:
        """Number of singular functions including the constant."""
        return self._n_modes

    @property
    def lagtime(self) -> int:
        """Lag in frames (int), as deeptime expects."""
        return self._lagtime

    @property
    def lagtime_ps(self) -> float | None:
        """Lag in ps for structural models (``None`` when the time unit is not ps)."""
        return self._lagtime * self.timestep if self.time_unit == "ps" else None

    @property
    def singular_values(self) -> np.ndarray:
        """Singular values of the learned (non-constant) functions, descending, (n_modes - 1,) float64."""
        return np.asarray(self.linear.singular_values, dtype=np.float64)

    @property
    def eigenvalues(self) -> np.ndarray:
        """Koopman eigenvalues at the lag, ordered by modulus, (n_modes - 1,) (complex only if the model is not reversible)."""
        return np.asarray(self.linear.eigenvalues)

    def timescales(self, k: int | None = None) -> np.ndarray:
        """Implied timescales ``-lag / log|lambda_i|``, (k,) float64, in ``time_unit`` (ps for structural models)."""
        return np.asarray(self.linear.timescales(k), dtype=np.float64)  # the linear model carries the timestep

    # ---- data -> features ----------------------------------------------------------------------------------
    def _as_list(self, data, top=None) -> list[np.ndarray]:
        if self.encoder_config.kind in STRUCTURAL_ENCODERS:
            from ..io.inputs import as_position_list

            idx = None if self.atoms is None else self.atoms.get("indices")
            names = None if self.atoms is None else self.atoms.get("names")
            pos = as_position_list(data, top=top, atom_indices=idx, atom_names=names)
            n = len(self.atoms["atomic_numbers"])
            for i, p in enumerate(pos):
                if p.ndim != 3 or p.shape[1:] != (n, 3):
                    raise InputError(
                        f"Trajectory {i} has frames of shape {p.shape[1:]}, but the model was trained on {n} atoms: "
                        "give the same atoms (the model's topology/selection)."
                    )
            return pos
        if isinstance(data, np.ndarray) or torch.is_tensor(data):
            data = [data]
        if not isinstance(data, (list, tuple)) or not data:
            raise InputError("Give the data as a (T, d) float array or a non-empty list of such arrays.")
        out = []
        d = self.encoder_config.n_in
        for i, x in enumerate(data):
            x = np.asarray(x.detach().cpu() if torch.is_tensor(x) else x)
            if x.ndim == 1 and d == 1:
                x = x[:, None]
            if x.ndim != 2 or (d is not None and x.shape[1] != d):
                raise InputError(f"Trajectory {i} has shape {x.shape}; the model expects (T, {d}) feature arrays.")
            if not np.isfinite(x).all():
                raise InputError(f"Trajectory {i} contains non-finite values (NaN or inf).")
            out.append(x.astype(np.float32, copy=False))
        return out

    @torch.no_grad()
    def _encode(self, arrays: list[np.ndarray], side: str = "left", device=None) -> list[np.ndarray]:
        dev = _auto_device(device)
        enc = self.encoder_f if side == "left" or self.encoder_g is None else self.encoder_g
        enc = enc.to(dev).eval()
        out = []
        for x in arrays:
            parts = []
            for s in range(0, len(x), self.batch_size):
                xb = torch.from_numpy(np.array(x[s : s + self.batch_size], dtype=np.float32)).to(dev)
                parts.append(apply_encoder(enc, xb).double().cpu().numpy())
            n_out = self.n_modes - 1
            out.append(np.concatenate(parts, 0) if parts else np.zeros((0, n_out)))
        enc.cpu()
        return out

    def features(self, data, top=None, side: str = "left", device=None) -> list[np.ndarray]:
        """Raw learned functions (without the constant): one (T_i, n_modes - 1) float64 array per trajectory.

        Parameters
        ----------
        data
            Feature arrays (MLP models), or anything :func:`mdkoop.io.inputs.as_position_list` accepts
            (SchNet models: mdtraj Trajectory, MDAnalysis Universe/AtomGroup, paths + ``top``, a store).
        top : str, optional
            Topology for trajectory files.
        side : {"left", "right"}
            Lobe f (for x_t) or g (for x_t+tau); the same for shared lobes.
        device : str, optional
            "auto" (default: CUDA when available), "cpu" or "cuda".
        """
        if side not in ("left", "right"):
            raise InputError(f"Unknown side {side!r}: use 'left' or 'right'.")
        return self._encode(self._as_list(data, top), side, device)

    def transform(self, data, kind: str = "singular", k: int | None = None, top=None, device=None) -> list[np.ndarray]:
        """Collective variables for every frame: one (T_i, k) float64 array per trajectory, slowest first.

        Parameters
        ----------
        data
            As for :meth:`features`.
        kind : {"singular", "eigen"}
            Left singular functions (ordered by singular value) or eigenfunctions (by eigenvalue modulus).
            The constant function is never returned.
        k : int, optional
            Number of CVs (default: all ``n_modes - 1``).
        """
        if kind not in ("singular", "eigen"):
            raise InputError(f"Unknown kind {kind!r}: use 'singular' or 'eigen'.")
        if k is not None and not (1 <= int(k) <= self.n_modes - 1):
            raise InputError(f"k={k} is out of range: this model has {self.n_modes - 1} CVs.")
        feats = self.features(data, top=top, device=device)
        return [np.asarray(self.linear.transform_features(F, kind=kind, k=k)) for F in feats]

    def score(self, test=None, r=2, test_model=None, epsilon: float = 1e-6, dim: int | None = None, top=None,
              device=None) -> float:
        """VAMP-r score (r = 1, 2 or "E"), constant included (deeptime's convention).

        Three uses, all with the singular functions of this fitted model:

        - ``score(test, r)``: on the time-lagged pairs of ``test`` at the model's lag (trajectories in any
          form :meth:`features` accepts). This equals deeptime's
          ``model.to_deeptime().score(r, test_model=VAMP(lagtime).fit(features of test).fetch_model())``.
        - ``score(r)`` or ``score(r=r)``, no data: on the training covariances, as deeptime's
          ``CovarianceKoopmanModel.score(r)``. These come from the *training pairs only* (the validation
          split is left out) and are symmetrised for a reversible estimate, so they differ slightly from
          ``score(training_data, r)``, which uses every pair of the data as it is.
        - ``score(r, test_model=m)``: deeptime's signature; ``m`` is a deeptime covariance model
          (``CovarianceModel`` or ``CovarianceKoopmanModel``) estimated on this model's features of the test data.

        This scores fixed functions; it is not cross-validation of the encoder, which must be refitted on each
        training fold (:func:`mdkoop.vamp_score_cv`).

        Parameters
        ----------
        test : optional
            Test trajectories; or ``r`` given first, as deeptime does.
        r : {1, 2, "E"}
        test_model : deeptime covariance model, optional
        epsilon : float
            Cut-off of the inverse square roots.
        dim : int, optional
            Number of singular functions to score (deeptime's ``dim``; with ``test`` all are scored).
        top, device
            As for :meth:`features`.

        Returns
        -------
        float
        """
        r_first = isinstance(test, (int, float)) and not isinstance(test, bool)
        if r_first or (isinstance(test, str) and test.upper() in ("E", "VAMPE")):
            test, r = None, test  # deeptime's positional order: score(r, test_model=...)
        if test is None:
            dt = self.to_deeptime()
            if test_model is not None and not hasattr(test_model, "cov") and hasattr(test_model, "cov_00"):
                from types import SimpleNamespace

                test_model = SimpleNamespace(cov=test_model)  # deeptime reads test_model.cov
            return float(dt.score(r, test_model=test_model, epsilon=epsilon, dim=dim))
        if test_model is not None:
            raise InputError("Give either test data or a test_model, not both.")
        # the linear model lives on the left lobe's functions at both times (see estimate_linear_model)
        f = g = self.features(test, top=top, side="left", device=device)
        lag = self.lagtime
        F0 = [a[:-lag] for a in f if len(a) > lag]
        F1 = [b[lag:] for b in g if len(b) > lag]
        if not F0:
            raise InputError(f"The test trajectories are all shorter than the lag ({lag} frames): nothing to score.")
        return float(self.linear.score_features(np.concatenate(F0), np.concatenate(F1), r=r, epsilon=epsilon))

    def to_deeptime(self):
        """A ``deeptime.decomposition.CovarianceKoopmanModel`` on the learned features (lagtime in frames)."""
        return self.linear.to_deeptime()

    def copy(self) -> KoopmanModel:
        """An independent deep copy."""
        return copy.deepcopy(self)

    # ---- persistence ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Flat dict of CPU tensors: ``encoder_f.*`` (and ``encoder_g.*``)."""
        sd = {f"encoder_f.{k}": v.detach().cpu().clone() for k, v in self.encoder_f.state_dict().items()}
        if self.encoder_g is not None:
            sd.update({f"encoder_g.{k}": v.detach().cpu().clone() for k, v in self.encoder_g.state_dict().items()})
        return sd

    def metadata(self) -> dict:
        """The JSON-able content of ``model.json``."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "encoder": {**self.encoder_config.to_dict(), "n_out": self.n_modes - 1},
            "n_modes": self.n_modes,
            "atoms": self.atoms,
            "lagtime": self.lagtime,
            "lagtime_ps": self.lagtime_ps,
            "timestep": self.timestep,
            "time_unit": self.time_unit,
            "units": {"length": "nm", "time": self.time_unit},
            "linear": _jsonable(self.linear.to_dict()),
            "versions": package_versions(),
            "extra": _jsonable(self.extra),
        }

    def write_into(self, directory: str | Path) -> None:
        """Write ``model.pt`` and ``model.json`` into an existing directory (each file atomically)."""
        directory = Path(directory)
        with atomic_file(directory / "model.pt", "wb") as fh:
            torch.save(self.state_dict(), fh)
        with atomic_file(directory / "model.json", "w") as fh:
            json.dump(self.metadata(), fh, indent=2)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Save to a new directory ``path`` (created atomically; refused if it exists unless ``overwrite``)."""
        with atomic_dir(path, overwrite=overwrite, what="model directory", kind="model") as tmp:
            self.write_into(tmp)
        return Path(path)

    def __repr__(self) -> str:
        return (f"KoopmanModel(encoder={self.encoder_config.kind!r}, n_modes={self.n_modes}, lagtime={self.lagtime}, "
                f"timestep={self.timestep:g} {self.time_unit})")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, complex):
        return [obj.real, obj.imag]
    return obj


def validate_model_metadata(meta, where: str | Path = "model.json") -> None:
    """Check a parsed ``model.json`` against the model schema (keys, types); raise :class:`ModelFormatError`."""
    fix = "The model is damaged or was edited by hand; use the model.json that mdkoop wrote (or fit again)."

    def bad(what: str) -> ModelFormatError:
        return ModelFormatError(f"{str(where)!r}: {what}. {fix}")

    if not isinstance(meta, dict):
        raise bad(f"must hold a JSON object, not {type(meta).__name__}")
    version = meta.get("version")
    if meta.get("format") != FORMAT or not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{str(where)!r} is not an mdkoop model of a known version (format {meta.get('format')!r}, version "
            f"{version!r}; this mdkoop reads version <= {FORMAT_VERSION}).")
    for key, types in (("encoder", dict), ("linear", dict), ("lagtime", int), ("n_modes", int)):
        if key not in meta:
            raise bad(f"the key {key!r} is missing")
        if not isinstance(meta[key], types) or isinstance(meta[key], bool):
            raise bad(f"{key!r} must be a JSON {'object' if types is dict else 'integer'}, got {meta[key]!r}"[:300])
    n_out = meta["encoder"].get("n_out")
    if not isinstance(n_out, int) or isinstance(n_out, bool) or n_out < 1 or n_out != meta["n_modes"] - 1:
        raise bad(f"'encoder.n_out' must be n_modes - 1 = {meta['n_modes'] - 1}, got {n_out!r}")
    if meta["lagtime"] < 1:
        raise bad(f"'lagtime' must be at least 1 frame, got {meta['lagtime']}")
    ts = meta.get("timestep", 1.0)
    if not isinstance(ts, (int, float)) or isinstance(ts, bool) or not np.isfinite(ts) or ts <= 0:
        raise bad(f"'timestep' must be a positive number, got {ts!r}")
    atoms = meta.get("atoms")
    if atoms is not None and (not isinstance(atoms, dict) or not isinstance(atoms.get("atomic_numbers", []), list)):
        raise bad("'atoms' must be an object with lists of atom indices, names and atomic numbers")


def load_model(path: str | Path, encoder: torch.nn.Module | None = None) -> KoopmanModel:
    """Load a model saved by :meth:`KoopmanModel.save` or a run directory of ``mdkoop fit``.

    Parameters
    ----------
    path : str or Path
        The directory holding ``model.pt`` and ``model.json``.
    encoder : torch.nn.Module, optional
        Only for models trained with a custom encoder module: an untrained module of the same architecture
        (deep-copied for separate lobes).

    Returns
    -------
    KoopmanModel

    Raises
    ------
    MissingFileError, ModelFormatError
        If the directory or its files are missing, or of an unknown format.
    """
    from ..estimation.model import LinearKoopmanModel

    path = Path(path)
    if not path.is_dir():
        raise MissingFileError(f"The model directory {str(path)!r} does not exist (give a run directory of `mdkoop fit`).")
    for name in ("model.pt", "model.json"):
        if not (path / name).is_file():
            raise ModelFormatError(
                f"{str(path / name)!r} is missing: {str(path)!r} is not a complete mdkoop model directory "
                "(an interrupted `mdkoop fit` can be continued with --resume)."
            )
    meta_path = path / "model.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{str(meta_path)!r} is not valid JSON: {exc}.") from None
    validate_model_metadata(meta, meta_path)
    enc_meta = dict(meta["encoder"])
    n_out = int(enc_meta.pop("n_out"))
    try:
        cfg = EncoderConfig.from_dict(enc_meta)
    except (InputError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{str(meta_path)!r}: its 'encoder' section is invalid ({exc}). The model is damaged or "
                               "was edited by hand; use the model.json that mdkoop wrote.") from None
    atoms = meta.get("atoms")
    try:
        sd = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch's text would suggest weights_only=False: never relay it
        raise ModelFormatError(
            f"{str(path / 'model.pt')!r} is not a valid mdkoop model ({type(exc).__name__}: it is truncated, damaged, "
            "or not a plain state dict). mdkoop loads only plain weights, never arbitrary pickled objects; use a "
            "model.pt written by mdkoop, from a source you trust.") from None

    def make():
        if cfg.kind == "custom":
            if encoder is None:
                build_encoder(cfg, n_out)  # raises with the explanation
            return copy.deepcopy(encoder)
        return build_encoder(cfg, n_out, None if atoms is None else atoms.get("atomic_numbers"))

    enc_f = make()
    separate = any(k.startswith("encoder_g.") for k in sd)
    enc_g = make() if separate else None
    try:
        enc_f.load_state_dict({k[len("encoder_f."):]: v for k, v in sd.items() if k.startswith("encoder_f.")})
        if enc_g is not None:
            enc_g.load_state_dict({k[len("encoder_g."):]: v for k, v in sd.items() if k.startswith("encoder_g.")})
    except RuntimeError as exc:
        raise ModelFormatError(f"The weights in {str(path / 'model.pt')!r} do not match the architecture in model.json: {exc}") from exc
    try:
        linear = LinearKoopmanModel.from_dict(meta["linear"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelFormatError(f"{str(meta_path)!r}: its 'linear' section is invalid ({type(exc).__name__}: {exc}). "
                               "The model is damaged or was edited by hand; use the model.json that mdkoop wrote.") from None
    return KoopmanModel(enc_f, enc_g, linear, cfg, n_modes=n_out + 1, lagtime=meta["lagtime"], timestep=meta.get("timestep", 1.0),
                        time_unit=meta.get("time_unit", "frames"), atoms=atoms, extra=meta.get("extra"))
