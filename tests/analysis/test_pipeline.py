"""analyze_run on a tiny fitted SchNet run (real CLN025 structure, two-state dynamics; built once per session)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mdkoop.analysis.cktest import ck_test_cvs
from mdkoop.analysis.pipeline import SUMMARY_KEYS, analyze_run, parse_lags, resolve_store
from mdkoop.analysis.rmsd import reference_for_atoms, rmsd_to_reference
from mdkoop.analysis.scores import vamp_scores
from mdkoop.analysis.timescales import its_vs_lag, linear_fit
from mdkoop.errors import InputError, LagError, MissingFileError, OutputExistsError

from ._runs import fitted_run, held_out_store

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return fitted_run(tmp_path_factory)


@pytest.fixture(scope="module")
def analysis(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("an") / "analysis"
    summary = analyze_run(run["run"], test_store=held_out_store(tmp_path_factory).path, reference=run["pdb"],
                          n_bootstrap=30, out=out, n_clusters=20)
    return out, summary


def test_summary_and_files(analysis, run):
    out, s = analysis
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(s))
    assert set(SUMMARY_KEYS) <= set(on_disk)
    for name in s["files"]:
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    for png in ("implied_timescales.png", "ck_test.png", "spectrum.png", "free_energy.png", "cv_timeseries.png",
                "training_curves.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG", png
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len([f for f in s["files"] if f.endswith(".png")])
    assert s["n_frames"] == 1200 and s["lag_ps"] == 20.0 and s["lag_frames"] == 2 and s["timestep_ps"] == 10.0
    assert s["store"] == str(run["store"].path.absolute())  # default: the store recorded in config.json


def test_timescales_positive_descending(analysis, run):
    _, s = analysis
    ts = np.array(s["timescales_ps"], dtype=float)
    assert ts.size >= 1 and np.all(np.isfinite(ts)) and np.all(ts > 0)
    assert np.all(np.diff(ts) <= 0)
    assert np.allclose(ts, run["model"].timescales()[: ts.size])
    # the two-state chain: exact ITS = -10 ps / ln(0.91) = 106 ps; a 5-epoch SchNet gets the right magnitude
    assert 30.0 < ts[0] < 200.0
    lo, hi = s["timescales_ci_lower_ps"][0], s["timescales_ci_upper_ps"][0]
    assert lo <= s["timescales_reestimated_ps"][0] <= hi
    sv = np.array(s["singular_values"])
    assert np.all((sv > 0) & (sv < 1)) and np.all(np.diff(sv) <= 0)
    its = s["implied_timescales"]
    assert 2 in its["lags_frames"] and its["mode"] == "reestimate"


def test_scores(analysis):
    _, s = analysis
    sv = np.array(s["singular_values"])
    assert s["vamp2_train"] == pytest.approx(1 + np.sum(sv**2), rel=0.05)  # training data: 1 + sum sigma^2
    assert 1.0 <= s["vamp2_test"] <= 1.0 + len(sv) + 1e-9
    assert s["vampe_test"] is not None and s["vamp_test_reason"] is None
    assert s["vamp2_test"] < s["vamp2_train"] + 0.1


def test_ck_test_summary(analysis):
    _, s = analysis
    ck = s["ck_test"]
    pred, est = np.array(ck["predictions"]), np.array(ck["estimates"])
    assert pred.shape == est.shape == (len(ck["lagtimes_ps"]), 2, 2)
    assert np.all((pred >= -1e-9) & (pred <= 1 + 1e-9)) and np.all((est >= -1e-9) & (est <= 1 + 1e-9))
    assert ck["lagtimes_ps"][:2] == [0.0, 20.0]
    assert ck["max_abs_error"] < 0.15  # the dynamics are Markovian


def test_rmsd_known_answer(run):
    m = run["model"]
    ref = reference_for_atoms(run["pdb"], m.atoms["indices"], m.atoms["names"])
    assert ref.n_atoms == 10
    pos = [run["store"].trajectory(i) for i in range(run["store"].n_trajectories)]
    r = rmsd_to_reference(pos, ref)
    s = np.concatenate(run["states"])
    r = np.concatenate(r)
    # folded frames: only the 0.01 nm noise per coordinate (RMSD ~ 0.017 nm); open frames: halves 0.4 nm apart
    assert np.median(r[s == 0]) < 0.03
    assert np.all(r[s == 1] > 0.1)


def test_reestimation_at_training_lag_reproduces_model(run):
    """Features on the training split (as the trainer used it) -> the model's own timescales."""
    from mdkoop.training.split import validation_split

    m = run["model"]
    cfg = json.loads((run["run"] / "config.json").read_text())["train"]
    st = run["store"]
    segs = validation_split(st.trajectory_lengths, cfg["lagtime"], cfg["val_fraction"], cfg["seed"])["train"]
    feats = m.features(st)
    train = [feats[g.traj][g.start:g.stop] for g in segs]
    r = its_vs_lag(train, [m.lagtime], timestep_ps=st.timestep_ps, fit=linear_fit(m.linear.reversible),
                   n_bootstrap=0)
    k = len(m.timescales())
    assert np.allclose(r.timescales_ps[0, :k], m.timescales(), rtol=1e-5)  # float32 encoder outputs, batched differently
    # VAMP-2 of the model on its own training features: 1 + sum sigma^2 (up to the time-symmetrisation)
    sc = vamp_scores(m.linear, train, m.lagtime)
    assert sc["vamp2"] == pytest.approx(1.0 + np.sum(m.singular_values**2), rel=0.02)


def test_deeptime_on_model_outputs(run):
    import matplotlib

    matplotlib.use("Agg", force=True)
    from deeptime.plots import plot_ck_test, plot_implied_timescales
    from deeptime.util.validation import ck_test, implied_timescales

    m = run["model"]
    dm = m.to_deeptime()
    assert dm.lagtime == m.lagtime
    feats = m.features(run["store"])
    r = its_vs_lag(feats, [2, 4, 6], timestep_ps=10.0, fit=linear_fit(m.linear.reversible), n_bootstrap=0)
    models = [x.to_deeptime() for x in r.models]
    data = implied_timescales(models)
    assert np.allclose(data.timescales_for_process(0) * 10.0, r.timescales_ps[:, 0], rtol=1e-6)
    plot_implied_timescales(data)
    # deeptime's Koopman CK test (CovarianceKoopmanModel.ck_test -> deeptime.util.validation.ck_test)
    ck = models[0].ck_test(models)
    assert ck.predictions.shape == ck.estimates.shape and ck.lagtimes.tolist() == [0, 2, 4, 6]
    # at the test model's own lag, prediction and estimate are the same model's numbers
    assert np.allclose(ck.predictions[1], ck.estimates[1], atol=1e-8)
    # (deeptime leaves lag 0 undefined (NaN) for Koopman models, also for its own VAMP models)
    assert np.all(np.isfinite(ck.predictions[1:])) and np.all(np.isfinite(ck.estimates[1:]))
    assert np.all(np.abs(ck.predictions[1:]) <= 1 + 1e-9)  # correlations of normalised singular functions
    plot_ck_test(ck)
    # the generic entry point, with the PCCA+ memberships observable deeptime built for our CK test on the CVs
    cvs = m.transform(run["store"])
    r_ck = ck_test_cvs(cvs, m.lagtime, timestep_ps=10.0, n_clusters=10, multiples=3)
    generic = ck_test([r_ck.msm], r_ck.deeptime_test._observable, test_model=r_ck.msm)
    assert np.allclose(generic.predictions[1], r_ck.predictions[1], atol=1e-8)


def test_refusals(run, tmp_path, analysis):
    out, _ = analysis
    with pytest.raises(OutputExistsError, match="--overwrite"):
        analyze_run(run["run"], out=out)
    with pytest.raises(MissingFileError, match="does not exist"):
        resolve_store(run["run"], tmp_path / "nope")
    with pytest.raises(LagError):
        parse_lags(["15ps"], 10.0)  # not a multiple of the frame spacing
    assert parse_lags(["10ps,20ps", "5"], 10.0) == [1, 2, 5]
    with pytest.raises(InputError, match="reference"):
        bad = tmp_path / "bad.pdb"
        bad.write_text("ATOM      1  CA  ALA A   1       0.000   0.000   0.000  1.00  0.00           C\nEND\n")
        reference_for_atoms(bad, run["model"].atoms["indices"], run["model"].atoms["names"])
