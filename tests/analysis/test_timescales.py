"""Implied timescales vs lag on features with an exact answer (indicators of a finite Markov chain)."""

from __future__ import annotations

import numpy as np
import pytest

from mdkoop.analysis.timescales import (
    bootstrap_units,
    default_lags,
    its_vs_lag,
    linear_fit,
    timescales_from_eigenvalues,
)
from mdkoop.errors import InputError, LagError

from ._chains import exact_timescales, indicator_features, simulate

LAGS = [1, 2, 5, 10, 20]


@pytest.fixture(scope="module")
def chain_features():
    return indicator_features(simulate(n_traj=4, n_steps=5000, seed=3))


@pytest.fixture(scope="module")
def its(chain_features):
    return its_vs_lag(chain_features, LAGS, timestep_ps=2.0, n_bootstrap=40, n_blocks=4, seed=1)


def test_timescales_from_eigenvalues():
    t = timescales_from_eigenvalues([0.5, 0.9, -0.2], lag=3, timestep_ps=2.0)
    assert np.allclose(t, [-6 / np.log(0.9), -6 / np.log(0.5), -6 / np.log(0.2)])


def test_its_known_answer(its):
    exact = exact_timescales(timestep_ps=2.0)  # ~ [122, 39, 26] ps
    assert its.timescales_ps.shape == (len(LAGS), 3)
    assert np.all(np.isfinite(its.timescales_ps)) and np.all(its.timescales_ps > 0)
    assert np.all(np.diff(its.timescales_ps, axis=1) <= 0)  # descending at every lag
    # indicators + constant span all functions of the state: the estimate is consistent at every lag,
    # so the timescales are flat in the lag and equal the exact ones within sampling error (20k frames)
    assert np.allclose(its.timescales_ps[:3], exact, rtol=0.12)
    # and the exact value lies inside the bootstrap interval for the slowest process at short lags
    assert np.all(its.ci_lower[:3, 0] <= exact[0]) and np.all(exact[0] <= its.ci_upper[:3, 0])


def test_bootstrap_interval_contains_point(its):
    assert its.resampling == "trajectories"
    assert its.samples_ps.shape == (40, len(LAGS), 3)
    ok = np.isfinite(its.ci_lower)
    assert ok[:, 0].all()
    assert np.all(its.ci_lower[ok] <= its.timescales_ps[ok] * (1 + 1e-9))
    assert np.all(its.timescales_ps[ok] <= its.ci_upper[ok] * (1 + 1e-9))
    assert np.all(its.ci_upper[:, 0] > its.ci_lower[:, 0])  # a real spread


def test_single_trajectory_uses_blocks(chain_features):
    r = its_vs_lag(chain_features[:1], [5], n_bootstrap=20, n_blocks=8, seed=0)
    assert r.resampling == "blocks"
    assert np.all(r.ci_lower[0, :1] < r.ci_upper[0, :1])


def test_reestimation_matches_direct_fit(chain_features):
    fit = linear_fit(reversible=True)
    direct = fit(chain_features, 10)
    r = its_vs_lag(chain_features, [10], timestep_ps=1.0, n_bootstrap=0)
    assert np.allclose(r.timescales_ps[0], direct.timescales(), rtol=1e-10)
    assert r.ci_lower is None and r.resampling == "none"


def test_bootstrap_units():
    assert bootstrap_units([10, 20, 30], n_blocks=3) == [(0, 0, 10), (1, 0, 20), (2, 0, 30)]
    units = bootstrap_units([100], n_blocks=4)
    assert units == [(0, 0, 25), (0, 25, 50), (0, 50, 75), (0, 75, 100)]
    # few trajectories: blocks in proportion to the lengths, covering every frame once
    units = bootstrap_units([100, 300], n_blocks=8)
    assert [u for u in units if u[0] == 0] == [(0, 0, 50), (0, 50, 100)]
    assert len([u for u in units if u[0] == 1]) == 6
    assert sum(b - a for _, a, b in units) == 400


def test_default_lags():
    lags = default_lags(10, 1000, n=8)
    assert 10 in lags and lags == sorted(set(lags)) and max(lags) <= 500 and min(lags) >= 1
    assert default_lags(5, 12) == sorted(set(default_lags(5, 12)))


def test_refusals(chain_features):
    with pytest.raises(LagError, match="not shorter than the longest"):
        its_vs_lag(chain_features, [6000])
    with pytest.raises(LagError, match="positive"):
        its_vs_lag(chain_features, [0, 1])
    with pytest.raises(InputError, match="different widths"):
        its_vs_lag([np.zeros((10, 2)), np.zeros((10, 3))], [1])


def test_deeptime_round_trips(its, chain_features):
    import matplotlib

    matplotlib.use("Agg", force=True)
    from deeptime.plots import plot_implied_timescales
    from deeptime.util.validation import implied_timescales

    dt_models = [m.to_deeptime() for m in its.models]
    assert [m.lagtime for m in dt_models] == LAGS
    data = implied_timescales(dt_models)
    assert data.n_lagtimes == len(LAGS)
    # deeptime's timescales are in frames; ours in ps (timestep 2 ps)
    assert np.allclose(data.timescales_for_process(0) * 2.0, its.timescales_ps[:, 0], rtol=1e-6)
    ax = plot_implied_timescales(data)
    assert ax is not None
    samples = its.to_deeptime()
    assert samples.has_samples and samples.max_n_samples == 40
    plot_implied_timescales(samples)


def test_separate_lobes_features_right(chain_features):
    same = its_vs_lag(chain_features, [5], features_right=chain_features, n_bootstrap=5, n_blocks=4, seed=0)
    plain = its_vs_lag(chain_features, [5], n_bootstrap=5, n_blocks=4, seed=0)
    assert np.allclose(same.timescales_ps, plain.timescales_ps) and np.allclose(same.samples_ps, plain.samples_ps)
    # a right lobe that is a permutation of the indicator columns spans the same space: the pairs really
    # use features_right (same singular values, which do not depend on the basis of either side)
    perm = [f[:, [2, 0, 1]] for f in chain_features]
    r = its_vs_lag(chain_features, [5], features_right=perm, fit=linear_fit(reversible=False), n_bootstrap=0)
    ref = its_vs_lag(chain_features, [5], fit=linear_fit(reversible=False), n_bootstrap=0)
    assert np.allclose(r.models[0].singular_values, ref.models[0].singular_values, rtol=1e-8)
    shifted = [np.roll(f, 1, axis=0) for f in chain_features]  # a different right side changes the estimate
    r2 = its_vs_lag(chain_features, [5], features_right=shifted, fit=linear_fit(reversible=False), n_bootstrap=0)
    assert not np.allclose(r2.models[0].singular_values, ref.models[0].singular_values, rtol=1e-3)
    with pytest.raises(InputError, match="same shapes"):
        its_vs_lag(chain_features, [5], features_right=chain_features[:2])


def test_fast_bootstrap_equals_refitting(chain_features):
    """The pooled-sums bootstrap of the default estimator equals refitting every resample."""
    fit = linear_fit()
    slow = lambda f, lag, r=None: fit(f, lag, r)  # noqa: E731  (same estimator without the fast path)
    a = its_vs_lag(chain_features, [2, 7], n_bootstrap=8, n_blocks=4, seed=3)
    b = its_vs_lag(chain_features, [2, 7], n_bootstrap=8, n_blocks=4, seed=3, fit=slow)
    assert np.allclose(a.samples_ps, b.samples_ps, rtol=1e-9)
    # blocks of a single trajectory, with an offset far from zero (numerical stability of the sums)
    shifted = [f + 1e3 for f in chain_features[:1]]
    a = its_vs_lag(shifted, [3], n_bootstrap=5, n_blocks=6, seed=1)
    b = its_vs_lag(shifted, [3], n_bootstrap=5, n_blocks=6, seed=1, fit=slow)
    assert a.resampling == "blocks"
    assert np.allclose(a.samples_ps, b.samples_ps, rtol=1e-6)
