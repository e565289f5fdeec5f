"""deeptime's conventions: KoopmanSVD is a deeptime Estimator (get/set_params, clone), scores follow deeptime's
signature and agree with it, and cross-validation refits the encoder per fold."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.base
from deeptime.base import Estimator
from deeptime.decomposition import VAMP

import mdkoop
from mdkoop.analysis.cross_validation import StoreSegments, block_folds
from mdkoop.errors import ConfigError, InputError

from .conftest import markov_chain_2d

KW = dict(lagtime=5, n_modes=3, epochs=4, batch_size=256, seed=0, hidden=(16,))


@pytest.fixture(scope="module")
def chain():
    trajs, _ = markov_chain_2d(n_traj=3, length=900, seed=5)
    return trajs


@pytest.fixture(scope="module")
def fitted(chain):
    return mdkoop.KoopmanSVD(val_fraction=0.2, **KW).fit(chain).fetch_model()


def test_estimator_protocol_get_set_params_and_clone():
    est = mdkoop.KoopmanSVD(patience=2, pooling="sum", n_atom_basis=8, **KW)
    assert isinstance(est, Estimator)
    params = est.get_params()
    assert params["patience"] == 2 and params["pooling"] == "sum" and params["n_atom_basis"] == 8
    assert params["lagtime"] == 5 and params["hidden"] == (16,)
    twin = sklearn.base.clone(est)
    assert twin is not est and twin.get_params() == params and not twin.has_model
    assert twin.set_params(lr=0.01, cutoff=1.0) is twin
    assert (twin.lr, twin.cutoff) == (0.01, 1.0) and est.lr != 0.01
    with pytest.raises(ValueError, match="Invalid parameter"):
        twin.set_params(not_a_parameter=1)
    # every TrainConfig/EncoderConfig field reachable from KoopmanSVD is a parameter, with the config's default
    from mdkoop.training.config import EncoderConfig, TrainConfig

    defaults = mdkoop.KoopmanSVD().get_params()
    for name in ("weight_decay", "grad_clip", "schedule", "plateau_patience", "tol", "checkpoint_every", "method"):
        assert defaults[name] == getattr(TrainConfig, name), name
    for name in ("n_atom_basis", "n_interactions", "n_rbf", "cutoff", "pooling", "standardize_output"):
        assert defaults[name] == getattr(EncoderConfig, name), name


def test_fit_fetch_and_settings_reach_the_config(chain):
    est = mdkoop.KoopmanSVD(val_fraction=0.0, grad_clip=0.5, weight_decay=1e-4, **KW)
    model = est.fit_fetch(chain)
    train = model.extra["config"]["train"]
    assert (train["grad_clip"], train["weight_decay"]) == (0.5, 1e-4)


def test_score_signatures_agree_with_deeptime(fitted, chain):
    feats = [f.astype(np.float64) for f in fitted.features(chain)]
    test_model = VAMP(lagtime=5, epsilon=1e-6).fit_fetch(feats)
    on_data = fitted.score(chain, r=2)
    assert fitted.score(2, test_model=test_model) == pytest.approx(on_data, abs=1e-10)
    assert fitted.score(r=2, test_model=test_model.cov) == pytest.approx(on_data, abs=1e-10)
    assert fitted.to_deeptime().score(2, test_model=test_model) == pytest.approx(on_data, abs=1e-10)
    # without data: the training covariances, as deeptime's score(r)
    assert fitted.score(2) == pytest.approx(fitted.to_deeptime().score(2), abs=1e-12)
    assert fitted.score("E") == pytest.approx(fitted.to_deeptime().score("E"), abs=1e-12)
    with pytest.raises(InputError, match="not both"):
        fitted.score(chain, test_model=test_model)


def test_training_score_differs_from_the_score_on_all_data_only_by_the_data(chain):
    """score(r) uses the training pairs (no validation split; symmetrised if reversible); score(data, r) every pair."""
    split = mdkoop.KoopmanSVD(val_fraction=0.2, method="nonreversible", **KW).fit(chain).fetch_model()
    assert abs(split.score(2) - split.score(chain, 2)) > 1e-4  # the validation pairs are left out of score(2)
    whole = mdkoop.KoopmanSVD(val_fraction=0.0, method="nonreversible", **KW).fit(chain).fetch_model()
    assert whole.score(2) == pytest.approx(whole.score(chain, 2), abs=1e-8)  # same pairs: the same number
    rev = mdkoop.KoopmanSVD(val_fraction=0.0, method="reversible", **KW).fit(chain).fetch_model()
    assert rev.score(2) == pytest.approx(rev.score(chain, 2), abs=1e-3)  # symmetrised covariances: close


def test_block_folds_hold_out_contiguous_blocks():
    folds = block_folds([10, 6], 2, lag=2)
    assert folds[0] == ([(0, 5, 10), (1, 3, 6)], [(0, 0, 5), (1, 0, 3)])
    assert folds[1] == ([(0, 0, 5), (1, 0, 3)], [(0, 5, 10), (1, 3, 6)])
    train, test = block_folds([30], 3, lag=2)[1]
    assert test == [(0, 10, 20)] and train == [(0, 0, 10), (0, 20, 30)]  # pieces on both sides stay separate
    with pytest.raises(ConfigError, match="shortest block"):
        block_folds([10], 5, lag=2)
    with pytest.raises(ConfigError, match="n_splits"):
        block_folds([10], 1, lag=2)


def test_vamp_score_cv_refits_the_encoder_per_fold(chain, monkeypatch):
    fits = []
    original = mdkoop.KoopmanSVD.fit

    def counting_fit(self, data):
        fits.append(sum(len(x) for x in data))
        return original(self, data)

    monkeypatch.setattr(mdkoop.KoopmanSVD, "fit", counting_fit)
    est = mdkoop.KoopmanSVD(val_fraction=0.0, **KW)
    scores = mdkoop.vamp_score_cv(est, chain, n_splits=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert np.all((scores > 1.0) & (scores <= 3.0 + 1e-9))  # VAMP-2 of 2 functions + constant
    assert fits == [600 * 3] * 3  # each fold trains on the other two thirds of every trajectory
    assert not est.has_model  # the estimator given is not touched


def test_store_segments_view(tmp_path, cln025_pdb):
    from mdkoop.io.store import prepare

    from .conftest import write_cln025_trajectories

    (tmp_path / "dcd").mkdir()
    paths, _ = write_cln025_trajectories(cln025_pdb, tmp_path / "dcd", n_traj=2, n_frames=30)
    store = prepare(cln025_pdb, paths, tmp_path / "store", select="name CA", timestep_ps=10.0)
    view = StoreSegments(store, [(1, 5, 12), (0, 0, 3)])
    assert view.trajectory_lengths.tolist() == [7, 3] and view.n_frames == 10
    np.testing.assert_array_equal(view.trajectory(0), store.trajectory(1)[5:12])
    np.testing.assert_array_equal(view.frames([7, 8]), store.trajectory(0)[:2])
    view.check_finite()
    assert view.atom_indices.tolist() == store.atom_indices.tolist()


def test_array_timestep_with_a_lag_in_ps(chain):
    m = mdkoop.KoopmanSVD(**{**KW, "lagtime": "2.5ps"}, timestep=0.5, val_fraction=0.0).fit(chain).fetch_model()
    assert (m.lagtime, m.time_unit, m.lagtime_ps) == (5, "ps", 2.5)
    m2 = mdkoop.KoopmanSVD(**{**KW, "lagtime": "2.5ps"}, timestep="500fs", val_fraction=0.0).fit(chain).fetch_model()
    assert m2.lagtime == 5 and m2.time_unit == "ps"
    np.testing.assert_allclose(m.timescales(), 0.5 * mdkoop.KoopmanSVD(**KW, val_fraction=0.0).fit(chain)
                               .fetch_model().timescales(), rtol=1e-6)
    with pytest.raises(ConfigError, match="timestep must be a positive"):
        mdkoop.KoopmanSVD(**KW, timestep=-1.0).fit(chain)
