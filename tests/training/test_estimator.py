"""The issue-3 public API on feature arrays: a 3-state Markov chain embedded in 2-D with noise.

Reference: deeptime's VAMP on the one-hot true states at the same lag (the optimal features for this chain,
up to the noise that the MLP has to see through).
"""

import numpy as np
import pytest
import torch

import mdkoop
from mdkoop.errors import InputError, TrainingError

from .conftest import markov_chain_2d


@pytest.fixture(scope="module")
def fitted(chain_data):
    trajs, states = chain_data
    est = mdkoop.KoopmanSVD(lagtime=20, n_modes=3, encoder="mlp", nesting="joint", seed=0,
                            epochs=8, batch_size=256, lr=5e-3, val_fraction=0.0)
    model = est.fit(trajs).fetch_model()
    return est, model


def test_issue3_example_recovers_the_chain_singular_values(fitted, chain_data):
    from deeptime.decomposition import VAMP

    trajs, states = chain_data
    est, model = fitted
    ref = VAMP(lagtime=20).fit([np.eye(3)[s] for s in states]).fetch_model().singular_values[:2]
    sv = model.singular_values
    assert sv.shape == (2,)
    np.testing.assert_allclose(sv, ref, atol=0.04)
    assert np.all(np.diff(sv) < 0)


def test_timescales_positive_descending_in_frames(fitted):
    _, model = fitted
    ts = model.timescales()
    assert ts.shape == (2,) and np.all(ts > 0) and np.all(np.isfinite(ts)) and ts[0] > ts[1]
    # timescale = -lag / ln(lambda) in frames (timestep 1)
    np.testing.assert_allclose(ts, -20 / np.log(np.abs(model.eigenvalues)), rtol=1e-10)
    assert model.lagtime == 20 and isinstance(model.lagtime, int) and model.lagtime_ps is None


def test_to_deeptime_and_transform(fitted, chain_data):
    trajs, states = chain_data
    _, model = fitted
    dt = model.to_deeptime()
    assert dt.lagtime == 20
    np.testing.assert_allclose(dt.singular_values[:2], model.singular_values, rtol=1e-8)
    cvs = model.transform(trajs)
    assert len(cvs) == len(trajs) and all(c.shape == (len(t), 2) for c, t in zip(cvs, trajs))
    # the slowest CV separates the states: its means per state are well apart compared with their spread
    c = np.concatenate(cvs)[:, 0]
    s = np.concatenate(states)
    means = np.array([c[s == i].mean() for i in range(3)])
    assert np.ptp(means) > 3 * max(c[s == i].std() for i in range(3))
    # CVs are whitened: unit variance, mutually uncorrelated on the data (reversible estimate)
    cov = np.cov(np.concatenate(cvs).T)
    np.testing.assert_allclose(cov, np.eye(2), atol=0.1)
    assert model.transform(trajs[0], k=1)[0].shape == (len(trajs[0]), 1)
    assert model.transform(trajs, kind="eigen")[0].shape == (len(trajs[0]), 2)


def test_score_on_test_data(fitted):
    from deeptime.decomposition import VAMP

    _, model = fitted
    test, states = markov_chain_2d(n_traj=2, length=1500, seed=7)
    s2 = model.score(test, r=2)
    assert 1.0 < s2 <= 3.0
    # the one-hot true states are the best features; on the same test data they score about the same
    ref = VAMP(lagtime=20).fit([np.eye(3)[s] for s in states]).fetch_model().score(2)
    assert s2 == pytest.approx(ref, abs=0.1)
    assert model.score(test, r="E") == pytest.approx(s2, abs=0.2)


def test_fetch_model_is_independent(fitted, chain_data):
    est, model = fitted
    other = est.fetch_model()
    with torch.no_grad():
        for p in other.encoder_f.parameters():
            p.add_(1.0)
    a = model.transform(chain_data[0][:1])[0]
    b = est.fetch_model().transform(chain_data[0][:1])[0]
    np.testing.assert_array_equal(a, b)


def test_save_load_round_trip_gives_identical_cvs(fitted, chain_data, tmp_path):
    _, model = fitted
    model.save(tmp_path / "m")
    sd = torch.load(tmp_path / "m" / "model.pt", weights_only=True)
    assert all(torch.is_tensor(v) for v in sd.values())
    back = mdkoop.load_model(tmp_path / "m")
    for a, b in zip(model.transform(chain_data[0]), back.transform(chain_data[0])):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.timescales(), back.timescales())
    assert back.lagtime == 20


def test_transform_equals_the_features_used_in_the_estimation(fitted, chain_data):
    """Re-estimating the linear model from model.features() on the training pairs gives the stored model."""
    from mdkoop.estimation.model import LinearKoopmanModel

    trajs, _ = chain_data
    _, model = fitted
    F = model.features(trajs)
    x = np.concatenate([f[:-20] for f in F])
    y = np.concatenate([f[20:] for f in F])
    lin = LinearKoopmanModel.from_features(x, y, lagtime=20)
    np.testing.assert_allclose(lin.cov_00, model.linear.cov_00, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(lin.singular_values, model.singular_values, rtol=1e-5)


def test_fetch_before_fit_and_bad_arrays_are_refused(chain_data):
    est = mdkoop.KoopmanSVD(lagtime=5, n_modes=3)
    with pytest.raises(TrainingError, match="fit"):
        est.fetch_model()
    bad = [np.full((100, 2), np.nan, dtype=np.float32)]
    with pytest.raises(InputError, match="non-finite"):
        est.fit(bad)
    with pytest.raises(InputError, match="same features"):
        est.fit([np.zeros((100, 2)), np.zeros((100, 3))])


def test_timestep_sets_time_units(chain_data):
    trajs, _ = chain_data
    kw = dict(lagtime=20, n_modes=3, seed=0, epochs=1, batch_size=512, val_fraction=0.0)
    m1 = mdkoop.KoopmanSVD(**kw).fit(trajs).fetch_model()
    m2 = mdkoop.KoopmanSVD(timestep=0.5, **kw).fit(trajs).fetch_model()
    np.testing.assert_allclose(m2.timescales(), 0.5 * m1.timescales(), rtol=1e-6)


def test_custom_module_encoder(chain_data, tmp_path):
    trajs, _ = chain_data
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    est = mdkoop.KoopmanSVD(lagtime=20, n_modes=3, encoder=net, epochs=2, batch_size=256, lr=5e-3, seed=0)
    model = est.fit(trajs).fetch_model()
    for k, v in net.state_dict().items():  # the user's module is not trained in place
        torch.testing.assert_close(v, before[k])
    assert model.singular_values[0] > 0.5
    model.save(tmp_path / "custom")
    with pytest.raises(mdkoop.MdkoopError, match="encoder="):
        mdkoop.load_model(tmp_path / "custom")
    back = mdkoop.load_model(tmp_path / "custom", encoder=net)
    np.testing.assert_array_equal(back.transform(trajs[:1])[0], model.transform(trajs[:1])[0])


def test_data_that_never_move_give_a_training_error_not_a_traceback():
    still = [np.ones((300, 2), dtype=np.float32)]
    est = mdkoop.KoopmanSVD(lagtime=5, n_modes=3, epochs=1, batch_size=64, val_fraction=0.0, seed=0)
    with pytest.raises(TrainingError, match="move"):
        est.fit(still)


def test_progress_bar_shows_pairs_per_second_and_loss(chain_data, capsys):
    trajs, _ = chain_data
    mdkoop.KoopmanSVD(lagtime=20, n_modes=3, epochs=1, batch_size=1024, seed=0).fit(trajs, progress=True)
    cap = capsys.readouterr()
    err = cap.out + cap.err  # Lightning's tqdm bar writes to stdout
    assert "pairs_per_s=" in err and "loss=" in err and "val_vampe=" in err and "v_num" not in err
