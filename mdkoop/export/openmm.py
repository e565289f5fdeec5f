"""OpenMM helpers for exported CVs (openmm-torch).

``mdkoop export --format openmm`` writes one TorchScript file per CV,
``cv_<c>.pt``. Each follows openmm-torch's ``TorchForce`` contract: ``forward``
gets the positions of every particle, ``(n_particles, 3)`` in nm (float64 on the
Reference/CPU platforms, float32 or float64 on GPUs), and returns a scalar that
openmm-torch treats as an energy; used inside a ``CustomCVForce`` (or as a
``BiasVariable`` force) that scalar is the CV value. The module selects the
model's atoms itself (0-based indices of the original topology), so the system
must keep the training topology's atom order for those atoms; solvent may
follow. The CV uses interatomic distances only, and OpenMM keeps molecules
whole internally, so no periodic-box input is needed
(``usesPeriodicBoundaryConditions`` stays False).

openmm-torch is imported lazily; without it, the helpers raise
:class:`mdkoop.errors.DependencyError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DependencyError, InputError, MissingFileError
from .torchscript import read_metadata

__all__ = ["import_openmmtorch", "cv_files", "make_torch_forces", "make_cv_force", "make_bias_variables",
           "make_restraint_force", "restraint_parameters", "openmm_readme"]


def import_openmmtorch():
    """Import ``openmmtorch`` (the openmm-torch plugin).

    Raises
    ------
    DependencyError
        When openmm-torch is missing or cannot load (e.g. built against another torch).
    """
    try:
        import openmmtorch
    except Exception as exc:  # ImportError, or an OSError from a libtorch mismatch
        raise DependencyError(
            "OpenMM CV forces need openmm-torch (`conda install -c conda-forge openmm-torch`, built against the same "
            f"PyTorch as mdkoop); importing openmmtorch failed: {exc}"
        ) from exc
    return openmmtorch


def cv_files(source: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The CV files of an OpenMM export.

    Parameters
    ----------
    source : path-like or sequence of path-like
        The export directory (its ``metadata.json`` lists the files in CV order) or explicit ``cv_<c>.pt`` files.

    Returns
    -------
    list of pathlib.Path
    """
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        meta_path = Path(source) / "metadata.json"
        if not meta_path.exists():
            raise MissingFileError(f"{str(source)!r} has no metadata.json; pass the directory written by "
                                   "`mdkoop export --format openmm` or a list of cv_<c>.pt files.")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != "openmm":
            raise InputError(f"{str(source)!r} holds a {meta.get('format')!r} export; re-export with --format openmm.")
        files = [Path(source) / f for f in meta["files"]]
    elif isinstance(source, (str, os.PathLike)):
        files = [Path(source)]
    else:
        files = [Path(f) for f in source]
    if not files:
        raise InputError("No CV files given.")
    for f in files:
        if not f.is_file():
            raise MissingFileError(f"CV file {str(f)!r} does not exist.")
    return files


def _cv_name(meta: dict[str, Any]) -> str:
    return f"cv{meta.get('openmm_cv', 1)}"


def make_torch_forces(source) -> list[tuple[str, Any, dict[str, Any]]]:
    """One ``openmmtorch.TorchForce`` per CV file.

    Returns
    -------
    list of (name, TorchForce, metadata)
        ``name`` is ``cv<c>`` for mdkoop CV number ``c``.
    """
    files = cv_files(source)
    ot = import_openmmtorch()
    out = []
    for f in files:
        meta = read_metadata(f)
        if meta.get("format") != "openmm":
            raise InputError(f"{str(f)!r} is a {meta.get('format')!r} export, not an OpenMM CV; use --format openmm.")
        force = ot.TorchForce(str(f))
        out.append((_cv_name(meta), force, meta))
    return out


def make_cv_force(source, expression: str = "0", parameters: dict[str, float] | None = None):
    """A ``CustomCVForce`` whose collective variables are the exported CVs.

    Parameters
    ----------
    source : path-like or sequence of path-like
        Export directory or ``cv_<c>.pt`` files.
    expression : str
        Energy expression in kJ/mol using the CV names ``cv1``, ``cv2``, ... (mdkoop CV numbers)
        and ``parameters``, e.g. ``"0.5*k*(cv1-s0)^2"``. The default ``"0"`` only computes the CVs
        (read them with ``force.getCollectiveVariableValues(context)``).
    parameters : dict, optional
        Global parameters of the expression and their default values.

    Returns
    -------
    openmm.CustomCVForce
    """
    import openmm

    force = openmm.CustomCVForce(expression)
    for name, value in (parameters or {}).items():
        force.addGlobalParameter(name, float(value))
    for name, tf, _ in make_torch_forces(source):
        force.addCollectiveVariable(name, tf)
    return force


def restraint_parameters(meta: dict[str, Any], k: Sequence[float] | float,
                         centers: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """``[(name, value), ...]`` of the restraint module's global parameters, in the order it reads them.

    Parameters
    ----------
    meta : dict
        The export's ``metadata.json`` (``cvs``, ``openmm_parameters``, ``cv_stats``).
    k : float or sequence of float
        Force constant per exported CV, kJ/mol per CV unit squared (0 leaves a CV free).
    centers : sequence of float, optional
        Restraint centre per CV (CV units); default the CV's mean on the training data.
    """
    names = meta.get("openmm_parameters")
    if not names:
        raise InputError("This export has no restraint module (more CVs than it takes); export at most 8 CVs (--cvs).")
    n = len(meta["cvs"])
    ks = [float(k)] * n if isinstance(k, (int, float)) else [float(v) for v in k]
    if centers is None:
        stats = meta.get("cv_stats")
        if not stats:
            raise InputError("The export carries no CV statistics; pass centers=[...].")
        centers = stats["mean"]
    cs = [float(v) for v in centers]
    if len(ks) != n or len(cs) != n:
        raise InputError(f"Give one force constant and one centre per exported CV ({n}); got {len(ks)} and {len(cs)}.")
    values = [v for pair in zip(ks, cs) for v in pair]
    return list(zip(names, values))


def make_restraint_force(source, k: Sequence[float] | float, centers: Sequence[float] | None = None):
    """One ``TorchForce`` restraining every exported CV, from a **single** model evaluation per step.

    ``E = sum_i 0.5 k_i (cv_i - s_i)^2`` (kJ/mol). The force constants and centres are global parameters
    ``mdkoop_k<c>``, ``mdkoop_s<c>`` (c: mdkoop CV number) that can be changed during the run with
    ``context.setParameter`` (umbrella windows, steered MD). Metadynamics in OpenMM needs one force per
    variable (:func:`make_bias_variables`), which evaluates the model once per CV.

    Parameters
    ----------
    source : path-like
        The directory written by ``mdkoop export --format openmm``.
    k, centers
        As in :func:`restraint_parameters`.

    Returns
    -------
    openmmtorch.TorchForce
    """
    meta_path = Path(source) / "metadata.json"
    if not meta_path.is_file():
        raise MissingFileError(f"{str(source)!r} has no metadata.json; pass the directory of `mdkoop export --format openmm`.")
    meta = json.loads(meta_path.read_text())
    params = restraint_parameters(meta, k, centers)
    ot = import_openmmtorch()
    force = ot.TorchForce(str(Path(source) / meta["restraint_file"]))
    for name, value in params:
        force.addGlobalParameter(name, value)
    return force


def make_bias_variables(source, widths: Sequence[float] | None = None, margin: float = 0.25,
                        ranges: Sequence[tuple[float, float]] | None = None, grid_width: int | None = None):
    """``openmm.app.metadynamics.BiasVariable``s for the exported CVs.

    By default each variable spans the CV's range observed on the training data
    (``cv_stats`` in the metadata), widened by ``margin`` times that range on both
    sides so that the bias can push the system beyond what was sampled, and the
    Gaussian width is the CV's typical fluctuation within one lag time (``sigma``).
    The CVs are not periodic.

    Parameters
    ----------
    source : path-like or sequence of path-like
        Export directory or ``cv_<c>.pt`` files.
    widths : sequence of float, optional
        Gaussian widths per CV (CV units); default the ``sigma`` statistics.
    margin : float
        Fraction of the observed range added on each side.
    ranges : sequence of (min, max), optional
        Explicit ranges per CV (overrides the statistics and ``margin``).
    grid_width : int, optional
        Grid points per variable; OpenMM's default when None.

    Returns
    -------
    list of openmm.app.metadynamics.BiasVariable
    """
    from openmm.app.metadynamics import BiasVariable

    forces = make_torch_forces(source)
    out = []
    for j, (name, tf, meta) in enumerate(forces):
        stats = meta.get("cv_stats")
        col = meta["cvs"].index(meta["openmm_cv"])
        if ranges is not None:
            lo, hi = (float(v) for v in ranges[j])
        elif stats:
            lo, hi = float(stats["min"][col]), float(stats["max"][col])
            span = hi - lo
            lo, hi = lo - margin * span, hi + margin * span
        else:
            raise InputError(f"{name}: the export carries no CV range from training data; pass ranges=[(min, max), ...].")
        if widths is not None:
            width = float(widths[j])
        elif stats:
            width = float(stats["sigma"][col])
        else:
            raise InputError(f"{name}: the export carries no CV statistics; pass widths=[...].")
        if not hi > lo or not width > 0:
            raise InputError(f"{name}: invalid bias range [{lo}, {hi}] or width {width}.")
        kw = {} if grid_width is None else {"gridWidth": int(grid_width)}
        out.append(BiasVariable(tf, lo, hi, width, False, **kw))
    return out


def openmm_readme(meta: dict[str, Any]) -> str:
    """README of an OpenMM export directory (Markdown)."""
    files = meta.get("files", [])
    temp = meta.get("temperature_K")
    temp_text = f"{temp:g}" if temp else "T_SIM"  # the simulation temperature, when the training data recorded it
    restraint = meta.get("restraint_file")
    restraint_lines = [] if not restraint else [
        f"`{restraint}` computes **all** these CVs from one model evaluation and restrains each harmonically,",
        "`E = sum_i 0.5 k_i (cv_i - s_i)^2` (kJ/mol), with the force constants and centres as global parameters",
        f"{', '.join(f'`{p}`' for p in meta.get('openmm_parameters', []))} that `context.setParameter` can change",
        "during the run (umbrella windows, steered MD). OpenMM's metadynamics needs one force per variable, so it",
        f"evaluates the model once per CV per step ({len(files)} times here); the restraint module once.",
        "",
    ]
    return "\n".join([
        "# mdkoop CVs for OpenMM (openmm-torch)",
        "",
        f"One TorchScript file per CV ({', '.join(f'`{f}`' for f in files)}): mdkoop CVs {meta['cvs']}"
        f" ({meta['kind']} functions, lag {meta.get('lagtime_ps')} ps) computed from {meta['n_atoms']} atoms.",
        "",
        *restraint_lines,
        "- input: positions of the **whole system**, `(n_particles, 3)` in nm (as openmm-torch passes them);"
        " the module picks the atoms `atom_indices` (0-based) of `metadata.json` itself, so keep the training"
        " topology's atom order for them (solvent may follow);",
        "- output: the CV value, a scalar (openmm-torch calls it the energy);",
        "- needs openmm-torch built against the same PyTorch (`torch "
        f"{meta.get('torch_version', '?')}`).",
        "",
        "```python",
        "from openmm.app.metadynamics import Metadynamics",
        "from mdkoop.export.openmm import make_bias_variables, make_cv_force",
        "",
        "# well-tempered metadynamics on the exported CVs (ranges and widths from the training data)",
        "bias_vars = make_bias_variables('THIS_DIR')",
        f"meta = Metadynamics(system, bias_vars, temperature={temp_text}*unit.kelvin, biasFactor=10,",
        "                    height=1.2*unit.kilojoules_per_mole, frequency=500)",
        "# ... build the Simulation with `system`, then meta.step(simulation, n_steps)",
        "",
        "# or any bias expression on cv1, cv2, ... (one model evaluation per CV)",
        "system.addForce(make_cv_force('THIS_DIR', '0.5*k*(cv1-s0)^2', {'k': 100.0, 's0': 0.0}))",
        *([] if not restraint else [
            "",
            "# harmonic restraints on every CV from ONE model evaluation (centres default to the training means)",
            "from mdkoop.export.openmm import make_restraint_force",
            "system.addForce(make_restraint_force('THIS_DIR', k=100.0))",
            f"# later: simulation.context.setParameter('{meta.get('openmm_parameters', ['', 'mdkoop_s1'])[1]}', 0.5)",
        ]),
        "```",
        "",
    ])
