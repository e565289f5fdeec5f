"""Turn a fitted :class:`mdkoop.training.model.KoopmanModel` into an :class:`~mdkoop.export.spec.ExportSpec`.

The only module of :mod:`mdkoop.export` that knows the model's attributes
(``encoder_f``, ``linear``, ``atoms``, ``extra``); everything else works on the spec.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from ..errors import ConfigError, ModelFormatError
from ..registry import DESCRIPTOR_ENCODERS, STRUCTURAL_ENCODERS
from ..utils.logging import get_logger
from .spec import ExportSpec, check_kind
from .torchscript import FrameEncoderFeatures, GraphEncoderFeatures

__all__ = ["adapt_model", "training_data_path", "training_topology", "training_residues", "MAX_RANGE_FRAMES"]

log = get_logger("export")

#: At most this many frames (evenly strided) of a store are used for the CV ranges.
MAX_RANGE_FRAMES = 20000


def _range_data(data, n_atoms: int):
    """``(data, stride)``: a large store of the model's atoms is strided to at most :data:`MAX_RANGE_FRAMES` frames."""
    from ..io.store import TrajectoryStore

    store = data if isinstance(data, TrajectoryStore) else None
    if store is None and isinstance(data, (str, Path)) and (Path(data) / "store.json").is_file():
        store = TrajectoryStore.open(data)
    if store is None or store.n_frames <= MAX_RANGE_FRAMES or store.n_atoms != n_atoms:
        return data, 1
    stride = -(-store.n_frames // MAX_RANGE_FRAMES)
    log.info("CV ranges from every %d-th frame of the %d frames of %s", stride, store.n_frames, store.path)
    return [np.asarray(store.trajectory(i)[::stride]) for i in range(store.n_trajectories)], stride


def training_data_path(model) -> Path | None:
    """The training store recorded in the model's metadata, if it still exists (else None)."""
    data = ((getattr(model, "extra", None) or {}).get("config") or {}).get("data") or {}
    for key in ("store", "store_path", "path", "source"):
        value = data.get(key)
        if isinstance(value, str) and Path(value).exists():
            return Path(value)
    return None


def training_residues(model) -> tuple[list[int] | None, list[str] | None]:
    """Residue numbers and names of the model's atoms, from the training store (``(None, None)`` if unavailable)."""
    import json

    path = training_data_path(model)
    if path is None or not (path / "store.json").is_file():
        return None, None
    meta = json.loads((path / "store.json").read_text())
    ids, names, sidx = meta.get("residue_ids"), meta.get("residue_names"), meta.get("atom_indices")
    if not ids or sidx is None or len(ids) != len(sidx):
        return None, None
    pos = {int(a): k for k, a in enumerate(sidx)}
    try:
        rows = [pos[int(a)] for a in model.atoms["indices"]]
    except KeyError:
        return None, None
    return [int(ids[r]) for r in rows], (None if not names else [str(names[r]) for r in rows])


def training_topology(model) -> dict | None:
    """``{"name", "n_atoms", "n_hydrogens", "temperature_K"}`` of the training store's topology, or None.

    The topology is the one the store was prepared from: it defines the atom numbering of the model's atoms.
    """
    import json

    path = training_data_path(model)
    if path is None or not (path / "store.json").is_file():
        return None
    meta = json.loads((path / "store.json").read_text())
    top = meta.get("topology") or {}
    if not top.get("name"):
        return None
    return {"name": str(top["name"]), "n_atoms": meta.get("n_atoms_topology"),
            "n_hydrogens": meta.get("n_hydrogens_topology"), "temperature_K": meta.get("temperature_K")}


def adapt_model(model, kind: str | None = None, data=None):
    """Build an :class:`ExportSpec` from a fitted ``KoopmanModel`` (see :func:`mdkoop.export.spec_from_model`)."""
    kind = check_kind(kind or "singular")  # KoopmanModel.transform's default kind
    cfg = getattr(model, "encoder_config", None)
    enc_kind = getattr(cfg, "kind", type(model).__name__)
    structural = enc_kind in STRUCTURAL_ENCODERS or hasattr(getattr(model, "encoder_f", None), "forward_frames")
    if not structural or not getattr(model, "atoms", None):
        raise ModelFormatError(
            "Only structural models (an encoder of atom positions, e.g. SchNet) can be exported: this model's encoder "
            f"is {enc_kind!r}, whose inputs are features computed outside the model. Fit with --encoder schnet, distances "
            "or torsions on a trajectory store."
        )
    enc: nn.Module = model.encoder_f
    atoms = model.atoms
    z = np.asarray(atoms["atomic_numbers"], dtype=np.int64)
    descriptor = getattr(cfg, "kind", None) in DESCRIPTOR_ENCODERS
    cutoff = None if descriptor else float(getattr(enc, "cutoff", None) or getattr(cfg, "cutoff", 0.6))
    if hasattr(enc, "forward_frames"):
        features: nn.Module = FrameEncoderFeatures(enc, len(z))
    else:
        features = GraphEncoderFeatures(enc, z, cutoff)
    try:
        weight, bias = model.linear.linear_map(kind=kind)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise ConfigError(f"Cannot build the {kind} functions of this model: {exc}") from exc
    if kind == "singular":
        values = np.asarray(model.singular_values, dtype=np.float64)
    else:
        values = np.abs(np.asarray(model.eigenvalues))
    try:
        timescales = np.asarray(model.timescales(), dtype=np.float64)
    except Exception:  # noqa: BLE001 - timescales are informative metadata only
        timescales = None
    time_ps = model.time_unit == "ps"

    if data is None:
        data = training_data_path(model)
    samples, stride = None, 1
    if data is not None:
        log.info("computing the CV ranges on %s", data)
        data, stride = _range_data(data, len(z))
        samples = [np.asarray(s) for s in model.transform(data, kind=kind)]
    else:
        log.warning("the training data are not available: CV ranges and kernel widths are left out (pass --data STORE)")
    residue_ids, residue_names = training_residues(model)
    topology = training_topology(model)
    return ExportSpec(
        features=features, weight=np.asarray(weight), bias=np.asarray(bias), kind=kind,
        atom_indices=np.asarray(atoms["indices"], dtype=np.int64), atom_names=list(atoms.get("names") or []),
        atomic_numbers=z, cutoff_nm=cutoff, lagtime_frames=int(model.lagtime),
        lagtime_ps=model.lagtime_ps, timestep_ps=float(model.timestep) if time_ps else None,
        values=values, timescales_ps=timescales if time_ps else None, samples=samples, samples_stride=stride,
        topology=topology, residue_ids=residue_ids, residue_names=residue_names,
        temperature_K=None if topology is None else topology.get("temperature_K"),
    )
