"""``analyze_run``: everything ``mdkoop analyze`` computes for a fitted run, written to RUN/analysis/.

Steps: load the model and its data (the store recorded in config.json unless
another is given), learned features and CVs, implied timescales vs lag
(re-estimation with bootstrap CIs, or retraining with ``retrain=True``), the
CK test, VAMP scores, RMSD to a reference, the figures, summary.json and
report.html. The output directory is created atomically.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError, LagError, MissingFileError, ModelFormatError
from ..registry import STRUCTURAL_ENCODERS
from ..utils.files import atomic_dir, atomic_file, check_output_dir
from ..utils.threads import limited_threads
from . import plots
from .cktest import ck_test_cvs
from .report import write_report
from .scores import vamp_scores
from .timescales import ITSResult, default_lags, its_vs_lag, linear_fit

__all__ = ["analyze_run", "resolve_store", "parse_lags", "retrain_its", "SUMMARY_KEYS"]

log = logging.getLogger("mdkoop.analysis")

#: Keys that summary.json always holds.
SUMMARY_KEYS = (
    "run_dir", "store", "n_frames", "n_trajectories", "timestep_ps", "lag_ps", "lag_frames", "method",
    "timescales_ps", "timescales_ci_lower_ps", "timescales_ci_upper_ps", "confidence", "singular_values",
    "eigenvalues", "vamp2_train", "vampe_train", "vamp2_test", "vampe_test", "vamp_test_reason",
    "implied_timescales", "ck_test", "ck_test_reason", "files", "mdkoop_version",
)


def _read_config(run_dir: Path) -> dict:
    p = run_dir / "config.json"
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{str(p)!r} is not valid JSON: {exc}.") from exc


def resolve_store(run_dir, store=None):
    """The store to analyse: ``store`` if given, else the one recorded in the run's config.json.

    Parameters
    ----------
    run_dir : path
        Run directory of ``mdkoop fit``.
    store : path or TrajectoryStore, optional

    Returns
    -------
    mdkoop.io.store.TrajectoryStore
    """
    from ..io.store import TrajectoryStore

    if store is not None and not isinstance(store, (str, Path)):
        return store
    if store is None:
        rec = (_read_config(Path(run_dir)).get("data") or {}).get("store")
        if not rec:
            raise ConfigError(
                f"The run {str(run_dir)!r} records no store in config.json (it was fitted on arrays): "
                "give the data with --store."
            )
        if not Path(rec).is_dir():
            raise MissingFileError(
                f"The store recorded in {str(Path(run_dir) / 'config.json')!r} ({rec!r}) no longer exists: "
                "give its new location with --store."
            )
        store = rec
    if not Path(store).is_dir():
        raise MissingFileError(f"The store {str(store)!r} does not exist (create it with `mdkoop prepare`).")
    return TrajectoryStore.open(store)


def parse_lags(values, timestep_ps: float) -> list[int]:
    """Lags from the command line (frames, or times with a unit such as ``200ps``) to frames.

    Parameters
    ----------
    values : list of str or int
        May contain comma-separated items.
    timestep_ps : float
        Frame spacing in ps.

    Returns
    -------
    list of int (ascending, unique)
    """
    from ..units import lag_to_frames

    items = []
    for v in values:
        items.extend(x for x in str(v).split(",") if x.strip())
    if not items:
        raise LagError("--lags is empty: give lags in frames or as times, e.g. --lags 100ps 200ps 500ps 1ns.")
    return sorted({lag_to_frames(x.strip(), timestep_ps) for x in items})


def retrain_its(run_dir, store, lags: list[int], timestep_ps: float, progress: bool = False) -> ITSResult:
    """Retrain the encoder at every lag with the run's settings; timescales of each retrained model.

    Parameters
    ----------
    run_dir : path
        The run whose config.json gives encoder and training settings.
    store : TrajectoryStore
        Training data.
    lags : list of int
        Lags in frames.
    timestep_ps : float
        Frame spacing in ps.
    progress : bool
        Show a progress bar over lags.

    Returns
    -------
    ITSResult
        Without confidence intervals (``resampling == "retrain"``).
    """
    from ..training.config import FitConfig
    from ..training.estimator import KoopmanSVD

    cfg_path = Path(run_dir) / "config.json"
    if not cfg_path.is_file():
        raise ModelFormatError(f"--retrain needs the run's settings, but {str(cfg_path)!r} is missing.")
    cfg = FitConfig.load(cfg_path)
    enc, tr = cfg.encoder, cfg.train
    if enc.kind not in STRUCTURAL_ENCODERS:
        raise ConfigError("--retrain is available for runs on a store (an encoder of positions); this run used a "
                          f"{enc.kind!r} encoder on arrays (retrain it with the Python API at each lag).")
    k = tr.n_modes - 1
    point = np.full((len(lags), k), np.nan)
    models = []
    it = lags
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(lags, desc="retrain per lag", unit="lag")
    for i, lag in enumerate(it):
        log.info("retraining at lag %d frames (%g ps)", lag, lag * timestep_ps)
        est = KoopmanSVD.from_config(cfg, lagtime=int(lag))
        m = est.fit(store).fetch_model()
        models.append(m)
        ts = np.asarray(m.timescales(), dtype=np.float64)[:k]
        point[i, : len(ts)] = -np.sort(-ts)
    return ITSResult(lags=np.asarray(lags, dtype=np.int64), timestep_ps=float(timestep_ps), timescales_ps=point,
                     ci_lower=None, ci_upper=None, samples_ps=None, confidence=0.95, resampling="retrain",
                     models=models)


def _resolved_list(model, timescales_ps: np.ndarray, lag_ps: float) -> list[bool]:
    """Per process (slowest first): is it resolved (timescale above the lag, eigenvalue clearly above zero)?"""
    from ..estimation.decompositions import resolved_modes

    ev = np.abs(np.asarray(model.eigenvalues))[: len(timescales_ps)]
    return [bool(x) for x in resolved_modes(ev, timescales_ps[: len(ev)], lag_ps)]


def _model_features(model, data):
    # The model's linear part is estimated on the left lobe at both times, also for separate lobes
    # (mdkoop.training.run.estimate_linear_model), so re-estimation uses the same pairs.
    return model.features(data, side="left")


def _finite_list(a) -> list:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(a, dtype=np.float64)]


def _eigen_list(ev) -> list:
    ev = np.asarray(ev)
    if np.iscomplexobj(ev) and np.any(np.abs(ev.imag) > 1e-12):
        return [{"real": float(v.real), "imag": float(v.imag)} for v in ev]
    return [float(v) for v in np.real(ev)]


def analyze_run(run_dir, store=None, test_store=None, lags=None, reference=None, retrain: bool = False,
                n_bootstrap: int = 100, confidence: float = 0.95, n_sets: int = 2, n_clusters: int = 50,
                ck_multiples: int = 4, overwrite: bool = False, out=None, seed: int = 0,
                progress: bool = False, threads: int | None = None) -> dict:
    """Analyse a fitted run and write ``RUN/analysis/`` (summary.json, PNG figures, report.html).

    Parameters
    ----------
    run_dir : path
        Run directory of ``mdkoop fit``.
    store : path or TrajectoryStore, optional
        Data to analyse (default: the store recorded in config.json).
    test_store : path or TrajectoryStore, optional
        Held-out data for VAMP-2/VAMP-E test scores.
    lags : list of int or str, optional
        Lags in frames or times (``"200ps"``); default: a geometric list around the training lag.
    reference : path, optional
        Reference structure (PDB); the free-energy figure then shows the RMSD to it (nm).
    retrain : bool
        Retrain the encoder at each lag instead of re-estimating on the learned features.
    n_bootstrap : int
        Bootstrap samples for the ITS confidence intervals.
    confidence : float
        Confidence level of the intervals.
    n_sets, n_clusters, ck_multiples : int
        CK test: PCCA+ sets, k-means states, and lags up to ``ck_multiples`` times the training lag.
    overwrite : bool
        Replace an existing analysis directory.
    out : path, optional
        Output directory (default ``RUN/analysis``).
    seed : int
        Seed of bootstrap and k-means.
    progress : bool
        Progress bars.
    threads : int, optional
        CPU threads for torch during the analysis (restored afterwards); default: the current setting.

    Returns
    -------
    dict
        The content of summary.json.
    """
    with limited_threads(threads):
        return _analyze(run_dir, store, test_store, lags, reference, retrain, n_bootstrap, confidence, n_sets,
                        n_clusters, ck_multiples, overwrite, out, seed, progress)


def _analyze(run_dir, store, test_store, lags, reference, retrain, n_bootstrap, confidence, n_sets, n_clusters,
             ck_multiples, overwrite, out, seed, progress) -> dict:
    """The body of :func:`analyze_run`, run under its thread setting: every check first, then the work."""
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "analysis"
    inputs = [run_dir, *(p for p in (store, test_store, reference) if isinstance(p, (str, os.PathLike)))]
    check_output_dir(out, overwrite, "analysis directory", kind="analysis", inputs=inputs)
    model, st, ref = _checked_inputs(run_dir, store, reference)
    timestep_ps, lag = float(st.timestep_ps), int(model.lagtime)
    lengths = np.asarray(st.trajectory_lengths)
    log.info("analysing %s on %s (%d trajectories, %d frames, %g ps/frame, lag %d frames)", run_dir, st.path,
             len(lengths), int(lengths.sum()), timestep_ps, lag)
    left = _model_features(model, st)
    lag_list = parse_lags(lags, timestep_ps) if lags else default_lags(lag, int(lengths.max()))
    if lag not in lag_list and lag < lengths.max():
        lag_list = sorted(set(lag_list) | {lag})
    its_kw = dict(fit=linear_fit(reversible=model.linear.reversible), k=model.n_modes - 1, n_bootstrap=n_bootstrap,
                  confidence=confidence, seed=seed)
    if retrain:
        its = retrain_its(run_dir, st, lag_list, timestep_ps, progress=progress)
        boot = its_vs_lag(left, [lag], timestep_ps, **its_kw)
    else:
        its = boot = its_vs_lag(left, lag_list, timestep_ps, progress=progress, **its_kw)
    summary = _timescale_summary(model, run_dir, st, boot.at_lag(lag), confidence)
    its_d = its.to_dict()
    its_d["mode"] = "retrain" if retrain else "reestimate"
    summary["implied_timescales"] = its_d
    summary.update(_score_summary(model, run_dir, left, test_store, lag))
    cvs = [np.asarray(model.linear.transform_features(F, kind="singular"), dtype=np.float64) for F in left]
    ck, ck_summary = _ck_summary(cvs, lag, timestep_ps, n_sets, n_clusters, ck_multiples, seed)
    summary.update(ck_summary)
    rmsd = None
    if ref is not None:
        rmsd = _rmsd_to(st, model.atoms or {}, ref)
        summary["reference"] = str(Path(reference).absolute())
        summary["rmsd_nm"] = {"min": float(rmsd.min()), "median": float(np.median(rmsd)), "max": float(rmsd.max())}
    with atomic_dir(out, overwrite=overwrite, what="analysis directory", kind="analysis", inputs=inputs) as tmp:
        images = _plots(tmp, model, its, ck, cvs, rmsd, timestep_ps, lag, retrain, confidence, run_dir)
        summary["files"] = sorted([p.name for p in images.values()] + ["summary.json", "report.html"])
        with atomic_file(tmp / "summary.json", "w") as fh:
            json.dump(summary, fh, indent=2)
        write_report(tmp / "report.html", summary, images, title=f"mdkoop analysis of {run_dir.name}")
    log.info("analysis written to %s", out)
    return summary


def _checked_inputs(run_dir: Path, store, reference):
    """``(model, store, reference or None)``, refused before any work when they do not fit together."""
    from ..training.model import load_model

    model = load_model(run_dir)
    if model.encoder_config.kind not in STRUCTURAL_ENCODERS:
        raise ConfigError(
            f"`mdkoop analyze` works on runs fitted on a store (an encoder of positions); {str(run_dir)!r} holds an "
            f"{model.encoder_config.kind!r} model on arrays: use mdkoop.analysis.its_vs_lag / ck_test_cvs on its "
            "features from Python."
        )
    st = resolve_store(run_dir, store)
    ref = None
    atoms = model.atoms or {}
    if reference is not None:
        from .rmsd import reference_for_atoms

        ref = reference_for_atoms(reference, atoms.get("indices"), atoms.get("names"))
    timestep_ps = float(st.timestep_ps)
    if model.time_unit == "ps" and abs(model.timestep - timestep_ps) > 1e-6 * timestep_ps:
        raise InputError(
            f"The store {str(st.path)!r} has {timestep_ps:g} ps between frames, but the model was trained on "
            f"{model.timestep:g} ps frames: analyse a store with the training frame spacing."
        )
    return model, st, ref


def _timescale_summary(model, run_dir: Path, st, at_lag: dict, confidence: float) -> dict:
    """The run, the data and the model's spectrum at its lag, for ``summary.json``."""
    from .. import __version__

    timestep_ps, lag, k = float(st.timestep_ps), int(model.lagtime), model.n_modes - 1
    lengths = np.asarray(st.trajectory_lengths)
    model_ts = np.asarray(model.timescales(), dtype=np.float64)
    n_est = len(model_ts)
    padded_ts = np.full(k, np.nan)
    padded_ts[: min(k, n_est)] = model_ts[:k]
    return {
        "run_dir": str(run_dir.absolute()),
        "store": str(Path(st.path).absolute()),
        "n_frames": int(lengths.sum()),
        "n_trajectories": int(len(lengths)),
        "timestep_ps": timestep_ps,
        "lag_ps": lag * timestep_ps,
        "lag_frames": lag,
        "method": "reversible" if model.linear.reversible else "nonreversible",
        "timescales_ps": _finite_list(padded_ts),
        "timescales_ci_lower_ps": at_lag["ci_lower_ps"],
        "timescales_ci_upper_ps": at_lag["ci_upper_ps"],
        "timescales_reestimated_ps": at_lag["timescales_ps"],
        "confidence": confidence,
        "singular_values": _finite_list(model.singular_values),
        "eigenvalues": _eigen_list(model.eigenvalues),
        "resolved": _resolved_list(model, model_ts, lag * timestep_ps) + [False] * (k - min(k, n_est)),
        "not_estimated": [{"process": i + 1, "reason": (
            f"the learned functions span only {n_est} independent non-constant directions on the training data; "
            "the others were dropped as numerically dependent, so this process has no timescale")}
            for i in range(n_est, k)],
        "mdkoop_version": __version__,
    }


def _score_summary(model, run_dir: Path, left, test_store, lag: int) -> dict:
    """VAMP-2 and VAMP-E on the analysed store, and on a held-out test store when one is given."""
    train_scores = vamp_scores(model.linear, left, lag)
    out = {"vamp2_train": train_scores["vamp2"], "vampe_train": train_scores["vampe"], "vamp2_test": None,
           "vampe_test": None, "vamp_test_reason": None}
    if test_store is None:
        out["vamp_test_reason"] = ("no --test-store given: test scores need trajectories that training never "
                                   "saw (vamp2_train is on the analysed store, which includes the training data)")
        return out
    ts = resolve_store(run_dir, test_store)
    try:
        test_scores = vamp_scores(model.linear, _model_features(model, ts), lag)
        out.update(vamp2_test=test_scores["vamp2"], vampe_test=test_scores["vampe"],
                   test_store=str(Path(ts.path).absolute()))
    except LagError as exc:
        out["vamp_test_reason"] = f"test store too short: {exc}"
    return out


def _ck_summary(cvs, lag: int, timestep_ps: float, n_sets: int, n_clusters: int, multiples: int, seed: int):
    """``(CKResult or None, summary entries)``: the CK test of a k-means MSM on the slowest CVs."""
    n_ck = int(min(cvs[0].shape[1], max(2, n_sets)))
    try:
        ck = ck_test_cvs([c[:, :n_ck] for c in cvs], lag, timestep_ps=timestep_ps, n_sets=n_sets,
                         n_clusters=n_clusters, multiples=multiples, seed=seed)
    except (InputError, LagError) as exc:
        reason = f"CK test not possible: {exc}"
        log.warning("%s", reason)
        return None, {"ck_test": None, "ck_test_reason": reason}
    return ck, {"ck_test": {**ck.to_dict(), "n_cvs": n_ck}, "ck_test_reason": None}


def _rmsd_to(st, atoms: dict, ref) -> np.ndarray:
    """RMSD (nm) of every frame of the store to the reference structure, (n_frames,)."""
    from ..io.inputs import as_position_list
    from .rmsd import rmsd_to_reference

    pos = as_position_list(st, atom_indices=atoms.get("indices"), atom_names=atoms.get("names"))
    return np.concatenate(rmsd_to_reference(pos, ref))


def _plots(tmp: Path, model, its, ck, cvs, rmsd, timestep_ps: float, lag: int, retrain: bool, confidence: float,
           run_dir: Path) -> dict:
    """Write the analysis figures into ``tmp``; return ``{name: path}``."""
    images = {}
    images["its"] = plots.plot_implied_timescales(
        its.lags_ps, its.timescales_ps, tmp / "implied_timescales.png", its.ci_lower, its.ci_upper,
        training_lag_ps=lag * timestep_ps,
        title="Implied timescales" + (" (retrained per lag)" if retrain else " (re-estimated on learned features)"),
        confidence=confidence)
    if ck is not None:
        images["ck"] = plots.plot_ck_test(ck.lagtimes_ps, ck.predictions, ck.estimates, tmp / "ck_test.png")
    images["spectrum"] = plots.plot_spectrum(model.singular_values, tmp / "spectrum.png", eigenvalues=model.eigenvalues)
    allcv = np.concatenate(cvs)
    if allcv.shape[1] >= 2:
        images["fes"] = plots.plot_free_energy(allcv[:, 0], allcv[:, 1], tmp / "free_energy.png", rmsd=rmsd,
                                               rmsd_unit="nm", labels=("CV 1 (slowest singular function)", "CV 2"))
    else:
        log.info("only one CV: free-energy profile along CV 1")
        images["fes"] = plots.plot_free_energy_1d(allcv[:, 0], tmp / "free_energy.png", rmsd=rmsd,
                                                  rmsd_unit="nm", label="CV 1 (slowest singular function)")
    images["cv"] = plots.plot_cv_timeseries(cvs, timestep_ps, tmp / "cv_timeseries.png")
    metrics = run_dir / "metrics.csv"
    if metrics.is_file():
        p = plots.plot_training_curves(metrics, tmp / "training_curves.png")
        if p is not None:
            images["training"] = p
    return images
