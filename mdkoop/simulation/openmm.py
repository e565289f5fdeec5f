"""Demo-data simulations with OpenMM: CLN025 and alanine dipeptide in implicit solvent.

Physics (recorded in every run's ``metadata.json``):

* Amber14 (``amber14-all.xml``, ff14SB for the protein) with GBn2 implicit
  solvent (``implicit/gbn2.xml``), non-periodic; non-bonded cutoff
  ``cutoff_nm`` (``None`` = no cutoff).
* Hydrogen mass repartitioning (hydrogens 4 amu, mass taken from the bonded
  heavy atom), bonds to hydrogen constrained, 4 fs steps.
* ``LangevinMiddleIntegrator`` at the chosen temperature, friction 1/ps.
* Energy minimisation, then a short equilibration (not saved), then production.

Output directory (written atomically): ``topology.pdb`` (the saved atoms, at the
final state), ``trajectory.xtc`` (nm, one frame every ``save_every_ps``),
``metadata.json``.
"""

from __future__ import annotations

import json
import math
import platform as _platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DependencyError, DeviceError
from ..utils.files import atomic_dir, check_output_dir
from ..utils.logging import get_logger

__all__ = ["SYSTEMS", "SimulationResult", "simulate", "plan_steps", "heavy_atom_indices"]

log = get_logger("simulate")

#: Systems that :func:`simulate` knows, with a one-line description.
SYSTEMS = {
    "cln025": "CLN025 (chignolin variant YYDPETGTWY, ACE/NME caps), starting folded from the bundled structure",
    "ala2": "alanine dipeptide (ACE-ALA-NME), built from internal coordinates",
}
PLATFORMS = ("CPU", "CUDA", "OpenCL", "Reference")
FORCE_FIELD = ("amber14-all.xml", "implicit/gbn2.xml")
TIMESTEP_PS = 0.004
HYDROGEN_MASS_AMU = 4.0
FRICTION_PER_PS = 1.0


@dataclass(frozen=True)
class SimulationResult:
    """Files and numbers of a finished run.

    Attributes
    ----------
    out : Path
        The output directory.
    topology : Path
        PDB of the saved atoms.
    trajectory : Path
        XTC trajectory (nm).
    metadata : dict
        Contents of ``metadata.json``.
    """

    out: Path
    topology: Path
    trajectory: Path
    metadata: dict


def plan_steps(ns: float, save_every_ps: float, timestep_ps: float = TIMESTEP_PS) -> tuple[int, int]:
    """Number of integration steps and the save interval in steps.

    Parameters
    ----------
    ns : float
        Production length in ns (> 0).
    save_every_ps : float
        Frame spacing in ps; must be a whole multiple of ``timestep_ps``.
    timestep_ps : float
        Integration step in ps.

    Returns
    -------
    (n_steps, save_interval) : tuple of int
        ``n_steps`` is rounded down to a whole number of save intervals (at least one).

    Raises
    ------
    ConfigError
        For non-positive or non-finite values, or a spacing that is not a multiple of the step.
    """
    if not (isinstance(ns, (int, float)) and math.isfinite(ns) and ns > 0):
        raise ConfigError(f"--ns must be a positive number of nanoseconds, got {ns!r}.")
    if not (isinstance(save_every_ps, (int, float)) and math.isfinite(save_every_ps) and save_every_ps > 0):
        raise ConfigError(f"--save-every must be a positive number of picoseconds, got {save_every_ps!r}.")
    interval = save_every_ps / timestep_ps
    if abs(interval - round(interval)) > 1e-6 or round(interval) < 1:
        raise ConfigError(
            f"--save-every {save_every_ps} ps is not a whole multiple of the {timestep_ps} ps time step; "
            f"use e.g. {max(1, round(interval)) * timestep_ps:g} ps."
        )
    interval = int(round(interval))
    n_saves = int(math.floor(ns * 1000.0 / save_every_ps + 1e-9))
    if n_saves < 1:
        raise ConfigError(f"--ns {ns} is shorter than one frame spacing ({save_every_ps} ps); simulate longer or save more often.")
    return n_saves * interval, interval


def heavy_atom_indices(elements: list[str]) -> np.ndarray:
    """Indices of the atoms that are not hydrogen.

    Parameters
    ----------
    elements : list of str
        Element symbols, one per atom.

    Returns
    -------
    ndarray of int64, shape (n_heavy,)
    """
    return np.array([i for i, e in enumerate(elements) if e not in ("H", "D")], dtype=np.int64)


def _import_openmm():
    try:
        import openmm
        import openmm.app as app
        import openmm.unit as unit
    except ImportError as exc:  # pragma: no cover - openmm is in the environment
        raise DependencyError("`mdkoop simulate` needs OpenMM: `pip install openmm` (or `conda install -c conda-forge openmm`).") from exc
    return openmm, app, unit


def _starting_structure(system: str, forcefield):
    _, app, _ = _import_openmm()
    if system == "cln025":
        from ..resources import resource_path

        pdb = app.PDBFile(str(resource_path("cln025.pdb")))
        return pdb.topology, pdb.positions
    from .structures import build_alanine_dipeptide

    return build_alanine_dipeptide()


def _make_platform(name: str, threads: int | None):
    openmm, _, _ = _import_openmm()
    if name not in PLATFORMS:
        raise ConfigError(f"--platform {name!r} is unknown; choose one of {', '.join(PLATFORMS)}.")
    try:
        plat = openmm.Platform.getPlatformByName(name)
    except Exception as exc:
        have = [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]
        raise DeviceError(
            f"The OpenMM platform {name!r} is not available here (available: {', '.join(have)}). "
            f"Use --platform CPU, or install the OpenMM build for your GPU (e.g. `pip install openmm[cuda12]`)."
        ) from exc
    props = {}
    if name == "CPU" and threads:
        props["Threads"] = str(int(threads))
    if name in ("CUDA", "OpenCL"):
        props["Precision"] = "mixed"
    return plat, props


def simulate(
    system: str,
    ns: float,
    temperature: float,
    out: str | Path,
    *,
    seed: int | None = None,
    save_every_ps: float = 10.0,
    platform: str = "CPU",
    threads: int | None = None,
    atoms: str = "all",
    cutoff_nm: float | None = 1.2,
    equilibrate_ps: float = 20.0,
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
) -> SimulationResult:
    """Run an implicit-solvent simulation of CLN025 or alanine dipeptide and write it to ``out``.

    Parameters
    ----------
    system : {"cln025", "ala2"}
        Which molecule.
    ns : float
        Production length in ns.
    temperature : float
        Thermostat temperature in K (200-800).
    out : path
        Output directory (created atomically; refused if it exists unless ``overwrite``).
    seed : int, optional
        Seed of the initial velocities and of the Langevin noise. With a seed, runs on
        the Reference platform (and the CPU platform with the same thread count) are
        reproducible. ``None`` draws one and records it.
    save_every_ps : float
        Frame spacing of the XTC in ps (multiple of 0.004 ps).
    platform : {"CPU", "CUDA", "OpenCL", "Reference"}
        OpenMM platform.
    threads : int, optional
        CPU-platform threads (default: OpenMM's choice).
    atoms : {"all", "heavy"}
        Save all atoms or only the non-hydrogen atoms (smaller files).
    cutoff_nm : float or None
        Non-bonded (and GB) cutoff in nm; ``None`` for no cutoff.
    equilibrate_ps : float
        Equilibration after minimisation, not saved (ps, >= 0).
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        Show a tqdm progress bar with the speed in ns/day.
    command : str, optional
        The command line to record in the metadata (the CLI passes the command line it ran).

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigError, OutputExistsError, DeviceError, DependencyError
    """
    _check_options(system, temperature, atoms, cutoff_nm, equilibrate_ps, threads)
    n_steps, interval = plan_steps(ns, save_every_ps)
    out = check_output_dir(out, overwrite, "simulation directory", kind="simulation")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))
    seed = int(seed)
    if not 0 <= seed < 2**31:
        raise ConfigError(f"--seed must be in [0, 2**31), got {seed}.")
    openmm, app, unit = _import_openmm()
    plat, props = _make_platform(platform, threads)

    sim, topology = _make_simulation(system, temperature, cutoff_nm, equilibrate_ps, seed, plat, props, platform)

    elements = [a.element.symbol if a.element is not None else "X" for a in topology.atoms()]
    subset = heavy_atom_indices(elements) if atoms == "heavy" else np.arange(len(elements), dtype=np.int64)
    with atomic_dir(out, overwrite=overwrite, what="simulation directory", kind="simulation") as tmp:
        xtc_path = tmp / "trajectory.xtc"
        sim.currentStep = 0
        reporter = app.XTCReporter(str(xtc_path), interval, atomSubset=None if atoms == "all" else [int(i) for i in subset])
        sim.reporters.append(reporter)
        wall, ns_per_day = _run_with_progress(sim, n_steps, interval, progress)
        sim.reporters.clear()
        del reporter
        # Topology of the saved atoms, at the final state.
        state = sim.context.getState(getPositions=True)
        pos = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        _write_topology(app, unit, topology, pos, subset, tmp / "topology.pdb")
        meta = _metadata(openmm, system, cutoff_nm, temperature, seed, equilibrate_ps, n_steps, interval, atoms,
                         subset, len(elements), platform, props, wall, ns_per_day,
                         command if command is not None else _python_call(system, ns, temperature, out, seed,
                                                                          save_every_ps, platform, atoms))
        with open(tmp / "metadata.json", "w") as fh:
            json.dump(meta, fh, indent=2)
            fh.write("\n")
    log.info("wrote %s: %d frames, %.3f ns at %.1f ns/day", out, meta["n_frames"], meta["length_ns"], ns_per_day)
    return SimulationResult(out=Path(out), topology=Path(out) / "topology.pdb", trajectory=Path(out) / "trajectory.xtc", metadata=meta)


def _check_options(system, temperature, atoms, cutoff_nm, equilibrate_ps, threads) -> None:
    """Refuse bad :func:`simulate` options before OpenMM starts."""
    if system not in SYSTEMS:
        raise ConfigError(f"Unknown system {system!r}; choose one of: {', '.join(SYSTEMS)}.")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and 200.0 <= temperature <= 800.0):
        raise ConfigError(f"--temperature must be between 200 and 800 K, got {temperature!r}.")
    if atoms not in ("all", "heavy"):
        raise ConfigError(f"--atoms must be 'all' or 'heavy', got {atoms!r}.")
    if cutoff_nm is not None and not (math.isfinite(cutoff_nm) and cutoff_nm > 0.5):
        raise ConfigError(f"--cutoff must be larger than 0.5 nm (or omitted for no cutoff), got {cutoff_nm!r}.")
    if not (math.isfinite(equilibrate_ps) and equilibrate_ps >= 0):
        raise ConfigError(f"--equilibrate must be >= 0 ps, got {equilibrate_ps!r}.")
    if threads is not None and int(threads) < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads!r}.")


def _make_simulation(system, temperature, cutoff_nm, equilibrate_ps, seed, plat, props, platform):
    """``(simulation, topology)``: the force field, a minimised and equilibrated context at ``temperature``."""
    openmm, app, unit = _import_openmm()
    forcefield = app.ForceField(*FORCE_FIELD)
    topology, positions = _starting_structure(system, forcefield)
    method = app.NoCutoff if cutoff_nm is None else app.CutoffNonPeriodic
    kw = {} if cutoff_nm is None else {"nonbondedCutoff": cutoff_nm * unit.nanometer}
    omm_system = forcefield.createSystem(
        topology, nonbondedMethod=method, constraints=app.HBonds, hydrogenMass=HYDROGEN_MASS_AMU * unit.amu, **kw
    )
    integrator = openmm.LangevinMiddleIntegrator(temperature * unit.kelvin, FRICTION_PER_PS / unit.picosecond, TIMESTEP_PS * unit.picoseconds)
    integrator.setRandomNumberSeed(seed)
    try:
        sim = app.Simulation(topology, omm_system, integrator, plat, props)
    except Exception as exc:
        raise DeviceError(f"OpenMM could not create a context on the {platform} platform: {exc}. Try --platform CPU.") from exc
    sim.context.setPositions(positions)
    log.info("minimising %s (%d atoms)", system, topology.getNumAtoms())
    sim.minimizeEnergy(maxIterations=2000)
    sim.context.setVelocitiesToTemperature(temperature * unit.kelvin, seed)
    n_eq = int(round(equilibrate_ps / TIMESTEP_PS))
    if n_eq:
        log.info("equilibrating %.1f ps at %.1f K", equilibrate_ps, temperature)
        sim.step(n_eq)
    return sim, topology


def _metadata(openmm, system, cutoff_nm, temperature, seed, equilibrate_ps, n_steps, interval, atoms, subset,
              n_atoms, platform, props, wall, ns_per_day, command) -> dict:
    """The contents of a run's ``metadata.json``: the physics, the run and where it came from."""
    return {
        "mdkoop_format": "simulation/1",
        "system": system,
        "description": SYSTEMS[system],
        "engine": "OpenMM",
        "openmm_version": openmm.__version__,
        "force_field": FORCE_FIELD[0],
        "implicit_solvent": FORCE_FIELD[1],
        "nonbonded_method": "NoCutoff" if cutoff_nm is None else "CutoffNonPeriodic",
        "cutoff_nm": cutoff_nm,
        "constraints": "HBonds",
        "hydrogen_mass_amu": HYDROGEN_MASS_AMU,
        "hydrogen_mass_repartitioning": True,
        "integrator": "LangevinMiddleIntegrator",
        "friction_per_ps": FRICTION_PER_PS,
        "timestep_ps": TIMESTEP_PS,
        "temperature_K": float(temperature),
        "seed": seed,
        "minimisation": "LocalEnergyMinimizer, at most 2000 iterations",
        "equilibration_ps": float(equilibrate_ps),
        "n_steps": int(n_steps),
        "length_ns": n_steps * TIMESTEP_PS / 1000.0,
        "save_every_ps": interval * TIMESTEP_PS,
        "frame_spacing_ps": interval * TIMESTEP_PS,
        "n_frames": int(n_steps // interval),
        "atoms_saved": atoms,
        "n_atoms_saved": int(len(subset)),
        "n_atoms_simulated": int(n_atoms),
        "atom_indices_saved": subset.tolist(),
        "platform": platform,
        "platform_properties": props,
        "wall_time_s": round(wall, 2),
        "ns_per_day": round(ns_per_day, 2),
        "units": {"positions": "nm", "time": "ps"},
        "command": command,
        "python": sys.version.split()[0],
        "host": _platform.platform(),
        "starting_structure": "mdkoop/resources/cln025.pdb (noegroup/aggforce, Apache-2.0)" if system == "cln025" else "built by mdkoop.simulation.structures.build_alanine_dipeptide (phi -75, psi 145)",
        "files": {"topology": "topology.pdb", "trajectory": "trajectory.xtc"},
    }


def _python_call(system, ns, temperature, out, seed, save_every_ps, platform, atoms) -> str:
    args = ["mdkoop", "simulate", system, "--ns", f"{ns:g}", "--temperature", f"{temperature:g}", "--out", str(out),
            "--seed", str(seed), "--save-every", f"{save_every_ps:g}", "--platform", platform, "--atoms", atoms]
    return shlex.join(args) + "  # equivalent of the Python call"


def _run_with_progress(sim, n_steps: int, interval: int, progress: bool) -> tuple[float, float]:
    """Step the simulation in chunks of whole save intervals; return (wall seconds, ns/day)."""
    from tqdm.auto import tqdm

    # Chunks of about 1% of the run (whole save intervals) keep the bar live without slowing OpenMM.
    chunk = max(interval, (n_steps // 100) // interval * interval)
    total_ns = n_steps * TIMESTEP_PS / 1000.0
    bar = tqdm(total=n_steps // interval, unit="frame", disable=not progress, desc="simulate", leave=False)
    t0 = time.perf_counter()
    done = 0
    next_log = 0.1
    try:
        while done < n_steps:
            k = min(chunk, n_steps - done)
            sim.step(k)
            done += k
            el = time.perf_counter() - t0
            speed = done * TIMESTEP_PS / 1000.0 / el * 86400.0 if el > 0 else float("nan")
            bar.update(k // interval)
            bar.set_postfix_str(f"{speed:.1f} ns/day")
            if not progress and done / n_steps >= next_log - 1e-9:
                next_log += 0.1
                log.info("%.3f / %.3f ns (%.1f ns/day)", done * TIMESTEP_PS / 1000.0, total_ns, speed)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    return wall, (total_ns / wall * 86400.0 if wall > 0 else float("nan"))


def _write_topology(app, unit, topology, pos_nm: np.ndarray, subset: np.ndarray, path: Path) -> None:
    if len(subset) == topology.getNumAtoms():
        top, xyz = topology, pos_nm
    else:
        keep = set(int(i) for i in subset)
        modeller = app.Modeller(topology, unit.Quantity(pos_nm, unit.nanometer))
        modeller.delete([a for a in topology.atoms() if a.index not in keep])
        top, xyz = modeller.topology, modeller.positions.value_in_unit(unit.nanometer)
    with open(path, "w") as fh:
        app.PDBFile.writeFile(top, unit.Quantity(np.asarray(xyz), unit.nanometer), fh, keepIds=False)

