"""``mdkoop demo``: the whole job on the bundled CLN025 sample, on CPU, in a few minutes.

prepare (store of the sample's heavy atoms) → fit (small SchNet, nested LoRA) →
analyze (implied timescales vs lag, CK test, scores, report.html) → export (PLUMED).

The settings are chosen to finish in about five minutes on two CPU cores; they are
recorded in ``OUT/demo.json`` together with the summary. For real data, use the
individual commands with the defaults (or larger models and more epochs).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import MissingFileError
from .utils.files import atomic_file, check_output_dir, mark_output, temporary_name
from .utils.logging import get_logger

__all__ = ["DemoSettings", "sample_files", "run_demo", "format_summary"]

log = get_logger("demo")


@dataclass(frozen=True)
class DemoSettings:
    """Settings of the demo run (small on purpose; see the module docstring).

    Attributes
    ----------
    lag : str
        Training lag time (with a unit).
    n_modes : int
        Singular functions including the constant.
    epochs, batch_size : int
    lr : float
    val_fraction : float
        Held-out fraction for validation; 0 by default because the sample is a single
        short trajectory (a 10% block holds only a few dozen lagged pairs).
    n_atom_basis, n_interactions, n_rbf : int
        SchNet size.
    cutoff : float
        SchNet cutoff in nm.
    its_lags : tuple of str
        Lags of the implied-timescale plot.
    n_bootstrap : int
        Bootstrap samples of the ITS confidence intervals.
    n_clusters : int
        k-means states of the CK test MSM.
    seed : int
    """

    lag: str = "20ps"
    n_modes: int = 4
    epochs: int = 60
    batch_size: int = 32
    lr: float = 3e-3
    val_fraction: float = 0.0
    n_atom_basis: int = 32
    n_interactions: int = 2
    n_rbf: int = 16
    cutoff: float = 0.6
    its_lags: tuple = ("4ps", "10ps", "20ps", "40ps", "80ps")
    n_bootstrap: int = 20
    n_clusters: int = 20
    seed: int = 0
    extra: dict = field(default_factory=dict)


def sample_files(sample_dir: str | Path | None = None) -> dict[str, Path]:
    """Paths of the bundled sample: ``topology``, ``trajectory``, ``metadata``, ``reference`` (folded, heavy atoms).

    Parameters
    ----------
    sample_dir : path, optional
        A sample folder made by :func:`mdkoop.simulation.sample.make_sample` (default: the bundled one).

    Raises
    ------
    MissingFileError
        If the sample is not installed.
    """
    from .resources import RESOURCES

    d = Path(sample_dir) if sample_dir is not None else RESOURCES / "sample"
    files = {
        "topology": d / "topology.pdb",
        "trajectory": d / "trajectory.xtc",
        "metadata": d / "metadata.json",
        "reference": d / "reference_folded.pdb",
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise MissingFileError(f"The bundled sample is incomplete (missing {', '.join(missing)}); reinstall mdkoop.")
    return files


def run_demo(out: str | Path = "demo_run", *, overwrite: bool = False, settings: DemoSettings | None = None,
             progress: bool = True, sample_dir: str | Path | None = None) -> dict:
    """Run prepare → fit → analyze → export on the bundled sample.

    Parameters
    ----------
    out : path
        Output directory; holds ``store/``, ``run/`` (with ``run/analysis/report.html``),
        ``export_plumed/`` and ``demo.json``.
    overwrite : bool
        Replace an existing ``out``.
    settings : DemoSettings, optional
        Default: :class:`DemoSettings()`.
    progress : bool
        Progress bars.
    sample_dir : path, optional
        Another sample folder (default: the bundled sample).

    Returns
    -------
    dict
        Summary: timescales (ps), singular values, VAMP-2 scores, paths, wall times (s).
    """
    import shutil

    s = settings or DemoSettings()
    out = check_output_dir(out, overwrite, what="demo directory", kind="demo")
    files = sample_files(sample_dir)
    sample_meta = json.loads(files["metadata"].read_text())
    # The demo's parts record each other's paths (the run records its store), so it is built in place; an
    # existing demo is moved aside first and comes back if this one fails, and a failed one is removed.
    old = None
    if out.exists():
        old = temporary_name(out, "old")
        os.rename(out, old)
    try:
        out.mkdir(parents=True)
        mark_output(out, "demo")
        result = _run_demo_steps(out, s, files, sample_meta, progress)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return result


def _run_demo_steps(out: Path, s: DemoSettings, files: dict, sample_meta: dict, progress: bool) -> dict:
    """prepare → fit → analyze → export into the fresh directory ``out``; write demo.json; return the summary."""
    from .analysis.pipeline import analyze_run
    from .export import export_model
    from .io.store import prepare
    from .training.estimator import KoopmanSVD

    times: dict[str, float] = {}

    t0 = time.perf_counter()
    log.info("1/4 prepare: the bundled CLN025 sample (%s)", sample_meta.get("summary", {}).get("text", "heavy atoms"))
    store = prepare(files["topology"], [files["trajectory"]], out / "store", select="all", progress=progress)
    times["prepare"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    log.info("2/4 fit: SchNet (%d features, %d interactions), nested LoRA, lag %s, %d epochs", s.n_atom_basis,
             s.n_interactions, s.lag, s.epochs)
    est = KoopmanSVD(lagtime=s.lag, n_modes=s.n_modes, encoder="schnet", loss="lora", nesting="joint", epochs=s.epochs,
                     batch_size=s.batch_size, lr=s.lr, device="cpu", seed=s.seed, val_fraction=s.val_fraction,
                     n_atom_basis=s.n_atom_basis, n_interactions=s.n_interactions, n_rbf=s.n_rbf, cutoff=s.cutoff)
    est.fit(store, run_dir=out / "run", progress=progress)
    model = est.fetch_model()
    times["fit"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    log.info("3/4 analyze: implied timescales vs lag, CK test, report")
    summary = analyze_run(out / "run", lags=list(s.its_lags), reference=str(files["reference"]),
                          n_bootstrap=s.n_bootstrap, n_clusters=s.n_clusters, seed=s.seed, progress=progress)
    times["analyze"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    log.info("4/4 export: PLUMED input + TorchScript CV model")
    # Number the atoms as in the full 175-atom CLN025 structure the sample was simulated from (not the 97-atom
    # heavy-atom sample), so plumed.dat fits a simulation of CLN025 whose protein atoms come first.
    from .resources import resource_path

    export_dir = export_model(model, out / "export_plumed", format="plumed", topology=resource_path("cln025.pdb"))
    times["export"] = time.perf_counter() - t0

    result = {
        "sample": {k: sample_meta.get(k) for k in ("system", "temperature_K", "length_ns", "frame_spacing_ps", "command")},
        "sample_summary": sample_meta.get("summary"),
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(s).items() if k != "extra"},
        "lagtime_ps": float(model.lagtime_ps),
        "singular_values": [float(x) for x in model.singular_values],
        "timescales_ps": [None if t is None else float(t) for t in summary.get("timescales_ps", [])],
        "vamp2": summary.get("vamp2_train"),
        "report": str(out / "run" / "analysis" / "report.html"),
        "plumed_dir": str(export_dir),
        "run_dir": str(out / "run"),
        "store": str(store.path),
        "wall_time_s": {k: round(v, 1) for k, v in times.items()},
    }
    with atomic_file(out / "demo.json", "w") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")
    return result


def format_summary(res: dict) -> str:
    """Human-readable summary of :func:`run_demo`'s result (a few lines)."""
    from .units import format_time_ps

    ts = [t for t in res["timescales_ps"] if t is not None][:3]
    sv = ", ".join(f"{x:.3f}" for x in res["singular_values"][:4])
    lines = [
        f"mdkoop demo: CLN025 sample, {res['sample'].get('length_ns')} ns at {res['sample'].get('temperature_K')} K; "
        f"lag {format_time_ps(res['lagtime_ps'])}",
        f"  singular values: {sv}",
        f"  implied timescales: {', '.join(format_time_ps(t) for t in ts) or 'n/a'}",
        f"  VAMP-2 score: {res['vamp2']:.3f}" if isinstance(res.get("vamp2"), (int, float)) else "  VAMP-2 score: n/a",
        f"  report:   {res['report']}",
        f"  PLUMED:   {res['plumed_dir']}/plumed.dat",
        f"  run dir:  {res['run_dir']}",
        "  wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in res["wall_time_s"].items()),
    ]
    return "\n".join(lines)
