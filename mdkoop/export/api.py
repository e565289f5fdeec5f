"""``export_model``: write a fitted model's CVs as TorchScript, PLUMED or OpenMM files.

The export is built from an :class:`ExportSpec` (encoder features, the linear map
from learned functions to CVs, atom metadata, CV statistics), which
:func:`spec_from_model` extracts from a fitted :class:`mdkoop.training.model.KoopmanModel`.
Everything the user can get wrong (CV numbers, kind, format, output directory)
is checked before anything is written; the output directory is written to a
temporary name and renamed at the end.

Output layout
-------------
``torchscript``: ``cv_model.pt`` (``(B, n, 3)`` nm -> ``(B, n_cv)``), ``metadata.json``, ``README.md``.
``plumed``: ``model.ptc`` (``(1, 3n)`` -> ``(1, n_cv)``), ``plumed.dat``, ``README.md``, ``metadata.json``.
``openmm``: ``cv_<c>.pt`` per CV (whole-system ``(n_particles, 3)`` nm -> scalar), ``metadata.json``, ``README.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, InputError, ModelFormatError
from ..utils.files import atomic_dir, check_output_dir
from ..utils.logging import get_logger
from . import plumed as _plumed
from .atoms import ADDRESSED_BY_NUMBER, check_numbering, load_topology, match_atoms
from .spec import (
    FORMATS,
    METADATA_FILE,
    RESTRAINT_FILE,
    TORCHSCRIPT_FILE,
    ExportSpec,
    check_kind,
    cv_statistics,
    parse_cvs,
)
from .torchscript import (
    MAX_RESTRAINED_CVS,
    CVModule,
    OpenMMCVModule,
    OpenMMRestraintModule,
    PlumedCVModule,
    save_scripted,
    script_module,
)

__all__ = ["spec_from_model", "export_model", "export_spec", "remap_to_topology", "default_cvs"]

log = get_logger("export")


def spec_from_model(model, kind: str | None = None, data=None) -> ExportSpec:
    """Build an :class:`ExportSpec` from a fitted ``KoopmanModel``.

    Parameters
    ----------
    model : mdkoop.training.model.KoopmanModel
        A fitted model with a graph encoder (SchNet).
    kind : {"singular", "eigen"}, optional
        CV kind; default: the one ``model.transform`` uses by default.
    data : optional
        Data for the CV ranges (anything ``model.transform`` accepts); default: the model's
        training store when it still exists. Without data, ranges are left out.

    Returns
    -------
    ExportSpec
    """
    from .model_adapter import adapt_model  # isolated: the only place that knows KoopmanModel's internals

    return adapt_model(model, kind=kind, data=data)


def remap_to_topology(spec: ExportSpec, topology: str | os.PathLike) -> ExportSpec:
    """Renumber the model's atoms to the simulation topology ``topology`` (matched by residue number and atom name).

    Parameters
    ----------
    spec : ExportSpec
        Must carry ``residue_ids`` (from the training store).
    topology : path-like
        Topology of the simulated system (PDB, GRO, PSF, PRMTOP, ...).

    Returns
    -------
    ExportSpec
        A copy whose ``atom_indices`` refer to ``topology``.
    """
    if spec.residue_ids is None or not spec.atom_names:
        raise ConfigError("--topology needs the residue numbers and atom names of the model's atoms, which are read from "
                          "the training store; that store is not available. Export without --topology.")
    top = load_topology(topology)
    idx = match_atoms(spec.atom_names, spec.residue_ids, spec.residue_names, top, what=repr(str(topology)))
    for k, i in enumerate(idx):
        el = top.atom(int(i)).element
        if el is not None and el.atomic_number and int(el.atomic_number) != int(spec.atomic_numbers[k]):
            raise InputError(f"Atom {spec.atom_names[k]} of residue {spec.residue_ids[k]} is element {el.symbol} in "
                             f"{str(topology)!r} but atomic number {int(spec.atomic_numbers[k])} in the model.")
    log.info("model atoms renumbered to %s (%d atoms)", topology, top.n_atoms)
    return dataclasses.replace(spec, atom_indices=idx, topology={
        "name": Path(topology).name, "n_atoms": int(top.n_atoms), "trained_on": spec.topology})


def _metadata(spec: ExportSpec, cvs: list[int], fmt: str, stats: dict | None) -> dict[str, Any]:
    from .. import __version__

    sel = [c - 1 for c in cvs]

    def pick(a):
        return None if a is None else [float(np.real(v)) for v in np.asarray(a)[sel]]

    return {
        "format": fmt,
        "mdkoop_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
        "kind": spec.kind,
        "cvs": cvs,
        "n_cv": len(cvs),
        "n_atoms": int(len(spec.atom_indices)),
        "atom_indices": [int(i) for i in spec.atom_indices],
        "atom_indices_base": 0,
        "topology": spec.topology,
        "temperature_K": spec.temperature_K,
        "atom_names": [str(a) for a in spec.atom_names],
        "atomic_numbers": [int(z) for z in spec.atomic_numbers],
        "cutoff_nm": None if spec.cutoff_nm is None else float(spec.cutoff_nm),
        "lagtime_frames": int(spec.lagtime_frames),
        "lagtime_ps": None if spec.lagtime_ps is None else float(spec.lagtime_ps),
        "timestep_ps": None if spec.timestep_ps is None else float(spec.timestep_ps),
        "units": {"length": "nm", "time": "ps", "cv": "dimensionless"},
        "dtype": "float32",
        "values": pick(spec.values),
        "timescales_ps": pick(spec.timescales_ps),
        "cv_stats": stats,
    }


def export_model(model, out: str | os.PathLike, format: str = "torchscript", cvs=None, kind: str | None = None,
                 overwrite: bool = False, data=None, topology: str | os.PathLike | None = None, inputs=(),
                 same_numbering: bool = False, temperature: float | None = None) -> Path:
    """Export a fitted model's CVs.

    Parameters
    ----------
    model : KoopmanModel or ExportSpec
        The fitted model (or a prepared :class:`ExportSpec`).
    out : path-like
        Output directory (created; must not exist unless ``overwrite``).
    format : {"torchscript", "plumed", "openmm"}
    cvs : str or sequence of int, optional
        1-based CV numbers (``"1,2"``); default: the CVs of resolved processes (:func:`default_cvs`).
    kind : {"singular", "eigen"}, optional
        Default: the kind ``transform`` uses by default.
    overwrite : bool
        Replace an existing ``out``.
    data : optional
        Data for CV ranges (default: the model's training data, when available).
    topology : path-like, optional
        Topology of the system to be simulated, when its atom numbering differs from the training
        topology (e.g. training on a heavy-atom-only trajectory): model atoms are matched by residue
        number and atom name, and the exported indices follow this topology.
    inputs : sequence of path-like
        Paths that ``out`` must not be or contain (the run directory the model came from, ...);
        ``data`` and ``topology`` are added when they are paths.
    same_numbering : bool
        For ``plumed`` and ``openmm``, which address atoms by their number in the simulation: state that the
        simulation numbers its atoms as the training topology did. Without it (and without ``topology``)
        the export is refused when the training topology cannot be a simulation's (no hydrogens: a
        heavy-atom trajectory) or is unknown (see :func:`mdkoop.export.atoms.check_numbering`).
    temperature : float, optional
        Simulation temperature in K for the bias examples; default: the training store's, when recorded.

    Returns
    -------
    pathlib.Path
        The output directory.
    """
    if format not in FORMATS:
        raise ConfigError(f"Unknown export format {format!r}; choose one of {', '.join(FORMATS)} (--format).")
    inputs = [*inputs, *(p for p in (data, topology) if isinstance(p, (str, os.PathLike)))]
    check_output_dir(out, overwrite, "export directory", kind="export", inputs=inputs)
    if kind is not None:
        check_kind(kind)
    spec = model if isinstance(model, ExportSpec) else spec_from_model(model, kind=kind, data=data)
    if kind is not None and spec.kind != kind:
        raise ConfigError(f"The export spec holds {spec.kind} CVs but kind={kind!r} was requested.")
    if topology is not None:
        spec = remap_to_topology(spec, topology)
    elif format in ADDRESSED_BY_NUMBER and not same_numbering and not isinstance(model, ExportSpec):
        check_numbering(spec.topology)
    if temperature is not None:
        if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and temperature > 0):
            raise ConfigError(f"--temperature must be a positive number of K, got {temperature!r}.")
        spec = dataclasses.replace(spec, temperature_K=float(temperature))
    return export_spec(spec, out, format=format, cvs=cvs, overwrite=overwrite, inputs=inputs)


def default_cvs(spec: ExportSpec) -> list[int]:
    """The CVs exported when none are named: those of resolved processes (1-based).

    A CV is resolved when its implied timescale exceeds the lag and its singular/eigen value is clearly
    above zero (:func:`mdkoop.estimation.decompositions.resolved_modes`). Without timescales (array data in
    frames) every CV counts as resolved; when none is resolved, CV 1 alone is exported, with a warning.
    """
    n = spec.n_available
    if spec.values is None or spec.timescales_ps is None or spec.lagtime_ps is None:
        return list(range(1, n + 1))
    from ..estimation.decompositions import MIN_RESOLVED_VALUE, resolved_modes

    ok = resolved_modes(np.asarray(spec.values)[:n], np.asarray(spec.timescales_ps)[:n], spec.lagtime_ps)
    chosen = [i + 1 for i in range(n) if ok[i]]
    dropped = [i + 1 for i in range(n) if not ok[i]]
    if dropped:
        log.warning("CV(s) %s are left out: their processes are not resolved (implied timescale below the lag of "
                    "%g ps, or a value below %g). Name them with --cvs to export them anyway.",
                    ",".join(map(str, dropped)), spec.lagtime_ps, MIN_RESOLVED_VALUE)
    if not chosen:
        log.warning("no CV of this model is resolved; exporting CV 1 only")
        chosen = [1]
    return chosen


def export_spec(spec: ExportSpec, out: str | os.PathLike, format: str = "torchscript", cvs=None,
                overwrite: bool = False, inputs=()) -> Path:
    """Write an :class:`ExportSpec` in ``format`` to the directory ``out`` (see :func:`export_model`)."""
    if format not in FORMATS:
        raise ConfigError(f"Unknown export format {format!r}; choose one of {', '.join(FORMATS)} (--format).")
    check_kind(spec.kind)
    check_output_dir(out, overwrite, "export directory", kind="export", inputs=inputs)
    chosen = parse_cvs(cvs, spec.n_available) if cvs is not None else default_cvs(spec)
    sel = [c - 1 for c in chosen]
    weight = np.asarray(spec.weight)
    bias = np.asarray(spec.bias)
    if np.iscomplexobj(weight) or np.iscomplexobj(bias):
        raise ConfigError("The model's eigenfunctions are complex (non-reversible estimate); export singular "
                          "functions instead (--kind singular).")
    n_atoms = int(len(spec.atom_indices))
    if len(spec.atomic_numbers) != n_atoms:
        raise ModelFormatError(f"The model has {n_atoms} atom indices but {len(spec.atomic_numbers)} atomic numbers.")
    cv = CVModule(spec.features, weight[:, sel], bias[sel], n_atoms).eval()
    stats = None
    if spec.samples:
        lag = max(1, round(spec.lagtime_frames / max(1, spec.samples_stride)))
        stats = cv_statistics([np.asarray(s)[:, sel] for s in spec.samples], lag)
    meta = _metadata(spec, chosen, format, stats)

    # Compile everything before touching the disk, so a failure writes nothing.
    if format == "torchscript":
        meta["input"] = f"positions (B, {n_atoms}, 3) or ({n_atoms}, 3) in nm, float32/float64; atoms in atom_indices order"
        meta["output"] = f"(B, {len(chosen)}) float32, the CVs {chosen}"
        modules = {TORCHSCRIPT_FILE: (script_module(cv), meta)}
    elif format == "plumed":
        meta["input"] = f"(1, {3 * n_atoms}) float32 in nm: p1.x,p1.y,p1.z,p2.x,... (PLUMED POSITION order)"
        meta["output"] = f"(1, {len(chosen)}) float32: cv.node-0..cv.node-{len(chosen) - 1}"
        modules = {_plumed.MODEL_FILE: (script_module(PlumedCVModule(cv)), meta)}
    else:
        modules = {}
        whole = "positions of the whole system (n_particles, 3) in nm (openmm-torch TorchForce)"
        for j, c in enumerate(chosen):
            m = dict(meta, openmm_cv=c, output=f"scalar float32: mdkoop CV {c}", input=whole)
            modules[f"cv_{c}.pt"] = (script_module(OpenMMCVModule(cv, spec.atom_indices, j)), m)
        meta["files"] = list(modules)
        if len(chosen) <= MAX_RESTRAINED_CVS:
            params = [f"{p}{c}" for c in chosen for p in ("mdkoop_k", "mdkoop_s")]
            m = dict(meta, input=whole + "; then the global parameters " + ", ".join(params),
                     output="scalar float32: sum_i 0.5*k_i*(cv_i - s_i)^2 in kJ/mol, all CVs from one evaluation",
                     openmm_parameters=params)
            modules[RESTRAINT_FILE] = (script_module(OpenMMRestraintModule(cv, spec.atom_indices)), m)
            meta["restraint_file"] = RESTRAINT_FILE
            meta["openmm_parameters"] = params

    with atomic_dir(out, overwrite, "export directory", kind="export", inputs=inputs) as tmp:
        for name, (mod, m) in modules.items():
            save_scripted(mod, tmp / name, m)
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        if format == "plumed":
            (tmp / _plumed.PLUMED_FILE).write_text(_plumed.plumed_input(
                spec.atom_indices, len(chosen), cv_numbers=chosen, atom_names=spec.atom_names,
                sigma=None if stats is None else stats["sigma"], kind=spec.kind, lagtime_ps=spec.lagtime_ps,
                topology=spec.topology, temperature_K=spec.temperature_K))
            (tmp / "README.md").write_text(_plumed.plumed_readme(meta, stats))
        elif format == "openmm":
            from .openmm import openmm_readme

            (tmp / "README.md").write_text(openmm_readme(meta))
        else:
            (tmp / "README.md").write_text(_torchscript_readme(meta))
    log.info("exported %d CV(s) %s (%s) for %d atoms to %s", len(chosen), chosen, spec.kind, n_atoms, out)
    return Path(out)


def _torchscript_readme(meta: dict[str, Any]) -> str:
    n = meta["n_atoms"]
    return "\n".join([
        "# mdkoop CVs as TorchScript",
        "",
        f"`{TORCHSCRIPT_FILE}` computes mdkoop CVs {meta['cvs']} ({meta['kind']} functions, lag"
        f" {meta['lagtime_ps']} ps) from the positions of {n} atoms.",
        "",
        f"- input: `(B, {n}, 3)` (or `({n}, 3)`) positions in **nm**, the atoms `atom_indices` (0-based, original"
        " topology) of `metadata.json`, in that order; float32 or float64;",
        f"- output: `(B, {meta['n_cv']})` float32; differentiable with autograd;",
        "- needs only PyTorch (no mdkoop):",
        "",
        "```python",
        "import json, torch",
        "extra = {'mdkoop.json': ''}",
        f"model = torch.jit.load('{TORCHSCRIPT_FILE}', _extra_files=extra)",
        "meta = json.loads(extra['mdkoop.json'])",
        "cv = model(torch.as_tensor(xyz_nm[:, meta['atom_indices']], dtype=torch.float32))",
        "```",
        "",
    ])
