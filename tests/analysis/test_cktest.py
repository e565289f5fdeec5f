"""CK test on CVs of an exactly solvable Markov chain."""

from __future__ import annotations

import numpy as np
import pytest

from mdkoop.analysis.cktest import ck_test_cvs, discretize_cvs
from mdkoop.errors import InputError, LagError

from ._chains import P4, noisy_positions, simulate


@pytest.fixture(scope="module")
def cvs():
    return noisy_positions(simulate(n_traj=3, n_steps=4000), noise=0.05)


def test_discretize_recovers_states(cvs):
    d = discretize_cvs(cvs, n_clusters=4, seed=0)
    assert [len(x) for x in d] == [len(c) for c in cvs]
    # 4 well separated blobs -> each cluster holds exactly one state's frames
    true = simulate(n_traj=3, n_steps=4000)
    pairs = {(int(a), int(b)) for dd, tt in zip(d, true) for a, b in zip(dd, tt)}
    assert len(pairs) == 4


def test_ck_markov_chain_agrees(cvs):
    r = ck_test_cvs(cvs, lag=5, timestep_ps=10.0, n_sets=2, n_clusters=12, multiples=4)
    assert r.lagtimes.tolist() == [0, 5, 10, 15, 20]
    assert np.allclose(r.lagtimes_ps, [0, 50, 100, 150, 200])
    assert r.predictions.shape == r.estimates.shape == (5, 2, 2)
    for a in (r.predictions, r.estimates):
        assert np.all((a >= -1e-9) & (a <= 1 + 1e-9))
        assert np.allclose(a.sum(axis=2), 1.0, atol=1e-6)  # rows are distributions over sets
    assert np.allclose(r.predictions[0], np.eye(2)) and np.allclose(r.estimates[0], np.eye(2))
    # the chain is exactly Markovian: predictions equal estimates within sampling error
    assert r.max_abs_error < 0.05
    # the staying probability in a set decays with lag
    assert r.estimates[4, 0, 0] < r.estimates[1, 0, 0] < 1.0
    # exact answer for the PCCA+ coarse stationary distribution: pi({0,1}) vs pi({2,3})
    ev, evec = np.linalg.eig(P4.T)
    pi = np.real(evec[:, np.argmax(np.real(ev))])
    pi /= pi.sum()
    exact = sorted([pi[:2].sum(), pi[2:].sum()])
    assert np.allclose(sorted(r.stationary_set_probabilities), exact, atol=0.06)
    d = r.to_dict()
    assert set(d) >= {"lagtimes_ps", "predictions", "estimates", "n_sets", "max_abs_error"}


def test_deeptime_plot_ck_test_runs(cvs):
    import matplotlib

    matplotlib.use("Agg", force=True)
    from deeptime.plots import plot_ck_test

    r = ck_test_cvs(cvs, lag=5, n_sets=2, n_clusters=8, multiples=3)
    grid = plot_ck_test(r.deeptime_test)
    assert grid is not None


def test_ck_refusals(cvs):
    with pytest.raises(LagError, match="longest trajectory"):
        ck_test_cvs(cvs, lag=10_000)
    with pytest.raises(InputError, match="at least 2"):
        ck_test_cvs(cvs, lag=5, n_sets=1)
    bad = [c.copy() for c in cvs]
    bad[1][3, 0] = np.nan
    with pytest.raises(InputError, match="CV array 1"):
        ck_test_cvs(bad, lag=5)
