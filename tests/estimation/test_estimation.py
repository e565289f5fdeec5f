"""Moments, decompositions and LinearKoopmanModel against deeptime and exact answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mdkoop.errors import InputError, ModelFormatError
from mdkoop.estimation import LinearKoopmanModel, MomentAccumulator, implied_timescales
from mdkoop.estimation.decompositions import edmd

LAG = 3


def _features(n=3000, seed=0):
    """Nonlinear features of a 2D AR(1) process (non-Gaussian, correlated in time)."""
    rng = np.random.default_rng(seed)
    A = np.array([[0.95, 0.05], [-0.05, 0.8]])
    z = np.zeros((n, 2))
    for t in range(1, n):
        z[t] = z[t - 1] @ A.T + 0.3 * rng.normal(size=2)
    return np.column_stack([z[:, 0], z[:, 1], np.tanh(z[:, 0]) + 0.1 * z[:, 1] ** 2, np.sin(z[:, 1])])


def _pairs(X, lag=LAG):
    return X[:-lag], X[lag:]


def test_streaming_moments_equal_batch_and_deeptime():
    from deeptime.covariance import Covariance

    X = _features()
    x, y = _pairs(X)
    w = np.random.default_rng(1).random(len(x)) + 0.2
    acc = MomentAccumulator()
    for i in range(0, len(x), 317):
        acc.partial_fit(x[i:i + 317], y[i:i + 317], w[i:i + 317])
    ref = Covariance(lagtime=None, compute_c0t=True, compute_ctt=True, remove_data_mean=True, bessels_correction=False)
    ref = ref.partial_fit((x, y), weights=w).fetch_model()
    for ours, theirs in ((acc.mean_x, ref.mean_0), (acc.mean_y, ref.mean_t), (acc.cov_00, ref.cov_00),
                         (acc.cov_0t, ref.cov_0t), (acc.cov_tt, ref.cov_tt)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert acc.n_pairs == len(x)
    M00, M0t, _ = acc.uncentered()
    np.testing.assert_allclose(M00[0], np.concatenate([[1], acc.mean_x]))
    np.testing.assert_allclose(M0t[1:, 1:], (x * w[:, None]).T @ y / w.sum(), rtol=1e-10)


@pytest.mark.parametrize("r", [1, 2, "E"])
def test_scores_equal_deeptime_vamp(r):
    from deeptime.decomposition import VAMP

    train, test = _features(seed=0), _features(n=2000, seed=5)
    model = LinearKoopmanModel.from_features(*_pairs(train), lagtime=LAG, reversible=False)
    dt_train = VAMP(lagtime=LAG).fit(train).fetch_model()
    dt_test = VAMP(lagtime=LAG).fit(test).fetch_model()
    np.testing.assert_allclose(model.singular_values, dt_train.singular_values, rtol=1e-8)
    ours = model.score_features(*_pairs(test), r=r)
    theirs = dt_train.score(r, test_model=dt_test)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)
    # the converted model gives the same number in deeptime
    np.testing.assert_allclose(model.to_deeptime().score(r, test_model=dt_test), theirs, rtol=1e-8)


def test_singular_functions_match_deeptime_transform():
    from deeptime.decomposition import VAMP

    X = _features()
    model = LinearKoopmanModel.from_features(*_pairs(X), lagtime=LAG, reversible=False)
    ref = VAMP(lagtime=LAG).fit(X).fetch_model().transform(X)
    ours = model.transform_features(X, kind="singular")
    signs = np.sign(np.sum(ours * ref, axis=0))
    np.testing.assert_allclose(ours * signs, ref, rtol=1e-7, atol=1e-8)


def test_reversible_estimate_and_deeptime_model():
    X = _features()
    model = LinearKoopmanModel.from_features(*_pairs(X), lagtime=LAG, timestep=0.5, reversible=True)
    ev = model.eigenvalues
    assert np.isrealobj(ev)
    np.testing.assert_allclose(np.abs(ev), model.singular_values, rtol=1e-10)  # symmetric: |lambda| = sigma
    ts = model.timescales()
    np.testing.assert_allclose(ts, -LAG * 0.5 / np.log(np.abs(ev)), rtol=1e-12)
    dm = model.to_deeptime()
    assert dm.lagtime == LAG
    np.testing.assert_allclose(dm.timescales(), ts / 0.5, rtol=1e-10)  # deeptime: frames
    # eigenfunctions: unit variance, uncorrelated, mean zero under the symmetrised distribution
    psi = model.transform_features(np.concatenate([X[:-LAG], X[LAG:]]), kind="eigen")
    np.testing.assert_allclose(psi.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(psi.T @ psi / len(psi), np.eye(psi.shape[1]), atol=1e-8)
    # Chapman-Kolmogorov test with deeptime (models at multiples of the lag)
    models = [LinearKoopmanModel.from_features(X[:-m * LAG], X[m * LAG:], lagtime=m * LAG).to_deeptime()
              for m in (1, 2, 3)]
    ck = models[0].ck_test(models, n_observables=2)
    assert ck.predictions.shape == ck.estimates.shape and ck.predictions.shape[0] == 4
    # the slow process is Markovian in these features: prediction tracks estimate
    np.testing.assert_allclose(ck.predictions[:, 0, 0], ck.estimates[:, 0, 0], atol=0.1)


def test_edmd_exact_on_linear_system():
    """EDMD of x' = A x (+ noise) in the linear dictionary has the eigenvalues of A (and the offset is handled)."""
    rng = np.random.default_rng(3)
    A = np.array([[0.9, 0.2], [0.05, 0.6]])
    x = rng.normal(size=(20000, 2)) + np.array([1.0, -2.0])
    y = x @ A.T + 0.01 * rng.normal(size=x.shape)
    model = LinearKoopmanModel.from_features(x, y, lagtime=1, reversible=False)
    np.testing.assert_allclose(np.sort_complex(model.eigenvalues), np.sort_complex(np.linalg.eigvals(A)), atol=2e-3)
    # right eigenfunctions are eigenfunctions: E[psi(y)|x] = lambda psi(x) (exact up to noise here)
    psi_x = model.transform_features(x, kind="eigen")
    psi_y = model.transform_features(y, kind="eigen")
    for i, lam in enumerate(model.eigenvalues):
        np.testing.assert_allclose(psi_y[:, i], lam * psi_x[:, i], atol=0.05)


def test_complex_pairs_give_real_linear_map():
    rng = np.random.default_rng(4)
    th = 0.3
    A = 0.9 * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    x = rng.normal(size=(5000, 2))
    y = x @ A.T + 0.05 * rng.normal(size=x.shape)
    e = edmd(np.cov(x.T, bias=True), (x - x.mean(0)).T @ (y - y.mean(0)) / len(x), x.mean(0), y.mean(0))
    assert np.iscomplexobj(e.eigenvalues) and e.eigenvalues[0].imag > 0
    model = LinearKoopmanModel.from_features(x, y, lagtime=1, reversible=False)
    W, b = model.linear_map(kind="eigen")
    assert W.dtype == np.float64 and np.isrealobj(W) and W.shape == (2, 2)
    # Re/Im columns span the complex eigenfunction
    psi = (x - model._eig.mean) @ model._eig.right[:, 0] + model._eig.right_offset[0]
    np.testing.assert_allclose(x @ W[:, 0] + b[0], psi.real, atol=1e-10)
    np.testing.assert_allclose(x @ W[:, 1] + b[1], psi.imag, atol=1e-10)
    np.testing.assert_allclose(model.timescales(), [-1 / np.log(0.9)] * 2, rtol=0.05)


@pytest.mark.parametrize("kind,side", [("singular", "left"), ("singular", "right"), ("eigen", "right"),
                                       ("eigen", "left"), ("eigen", None)])
def test_linear_map_reproduces_transform(kind, side):
    X = _features()
    model = LinearKoopmanModel.from_features(*_pairs(X), lagtime=LAG, reversible=False)
    W, b = model.linear_map(kind, k=3, side=side)
    assert W.shape == (4, 3) and b.shape == (3,)
    np.testing.assert_allclose(X @ W + b, model.transform_features(X, kind, 3, side), rtol=1e-12, atol=1e-12)


def test_json_round_trip():
    X = _features()
    for rev in (True, False):
        m = LinearKoopmanModel.from_features(*_pairs(X), lagtime=LAG, timestep=2.0, reversible=rev)
        m2 = LinearKoopmanModel.from_dict(json.loads(json.dumps(m.to_dict())))
        np.testing.assert_array_equal(m2.singular_values, m.singular_values)
        np.testing.assert_array_equal(m2.timescales(), m.timescales())
        np.testing.assert_array_equal(m2.transform_features(X[:10]), m.transform_features(X[:10]))
    with pytest.raises(ModelFormatError):
        LinearKoopmanModel.from_dict({"format": "something else"})


def test_implied_timescales_and_errors():
    np.testing.assert_allclose(implied_timescales([np.exp(-1.0), np.exp(-0.5)], lagtime=10, timestep=0.2), [2.0, 4.0])
    assert np.isinf(implied_timescales([1.0], 1)[0])
    with pytest.raises(InputError):
        implied_timescales([0.5], 0)
    with pytest.raises(InputError, match="constant"):
        LinearKoopmanModel.from_features(np.ones((50, 2)), np.ones((50, 2)), lagtime=1)
    with pytest.raises(InputError, match="NaN"):
        MomentAccumulator().partial_fit(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(InputError, match="lagtime"):
        LinearKoopmanModel.from_features(np.random.rand(50, 2), np.random.rand(50, 2), lagtime=0)
    m = LinearKoopmanModel.from_features(np.random.rand(50, 2), np.random.rand(50, 2), lagtime=1)
    with pytest.raises(InputError, match="columns"):
        m.transform_features(np.zeros((3, 5)))


def test_svd_koopman_is_exact_for_a_nonreversible_markov_chain():
    """One-hot lobes and pair weights rho0(x) P(x, x'): the full-rank SVD gives the exact eigenvalues of P."""
    from mdkoop.estimation import cca
    from mdkoop.estimation.decompositions import svd_koopman

    rng = np.random.default_rng(2)
    n = 5
    P = rng.random((n, n)) ** 2 + 0.3 * np.roll(np.eye(n), 1, axis=1)  # a cyclic drift: non-reversible
    P /= P.sum(1, keepdims=True)
    rho0 = rng.random(n) + 0.5
    rho0 /= rho0.sum()
    rho1 = rho0 @ P
    xs, ys = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    E = np.eye(n)
    fx, gy = E[xs.ravel()], E[ys.ravel()]
    w = (rho0[:, None] * P).ravel()
    acc = MomentAccumulator().partial_fit(fx, gy, w)
    svd = cca(acc.cov_00, acc.cov_0t, acc.cov_tt, epsilon=1e-12)
    # time-lagged frames y ~ rho1: moments of (g(y), f(y)) with weights rho1
    lagged = MomentAccumulator().partial_fit(E, E, rho1)
    eig = svd_koopman(svd, lagged.cov_0t, lagged.mean_y, acc.mean_x)
    exact = np.linalg.eigvals(P)
    exact = exact[np.argsort(-np.abs(exact))][1:]
    np.testing.assert_allclose(np.sort_complex(eig.eigenvalues), np.sort_complex(exact), atol=1e-10)
    assert np.iscomplexobj(exact)  # the test exercises complex pairs
    # right eigenfunctions on the states: P psi = lambda psi
    W = eig.right
    psi = (E - eig.mean) @ W + eig.right_offset
    np.testing.assert_allclose(P @ psi, psi * eig.eigenvalues, atol=1e-10)
