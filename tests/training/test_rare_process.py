"""The public estimator's defaults find a rare slow process whose answer is known (mdkoop.systems.rare_basin).

The slow process is the exchange with a shallow basin that holds 2.6% of the population; its implied
timescale is exact (a fine-grid generator). Nothing is tuned here: ``KoopmanSVD`` with its defaults, given
only the lag and the number of modes, must train until converged and land near the exact timescale -- with
an MLP on plain features, and with SchNet on a four-atom "molecule" whose slow coordinate is a torsion.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdkoop
from mdkoop.systems import rare_basin


@pytest.fixture(scope="module")
def exact_t1():
    t = rare_basin.exact_timescales(2)
    assert t[0] > 50 * t[1]  # one slow process, well separated from the rest
    assert 0.015 < rare_basin.minor_population() < 0.04  # rarely visited
    return float(t[0])


def test_mlp_defaults_find_the_rare_slow_process(exact_t1):
    trajs = rare_basin.simulate(n_walkers=100, n_frames=800, seed=0)
    x = rare_basin.features(trajs, seed=0)
    model = mdkoop.KoopmanSVD(lagtime=2, n_modes=3, encoder="mlp", timestep=rare_basin.DT_FRAME, seed=0,
                              device="cpu").fit(x).fetch_model()
    assert model.extra["training"]["converged"] is True
    np.testing.assert_allclose(model.timescales()[0], exact_t1, rtol=0.2)
    # the second learned function has no slow process to find: its value is near zero
    assert model.singular_values[0] > 0.85 and model.singular_values[1] < 0.1


@pytest.mark.slow
def test_schnet_defaults_find_the_torsion_of_a_rare_basin_molecule(exact_t1, tmp_path):
    store = rare_basin.molecule_store(tmp_path / "store", n_walkers=10, n_frames=4000, seed=0)
    assert store.timestep_ps == rare_basin.DT_FRAME and store.n_atoms == 4
    model = mdkoop.KoopmanSVD(lagtime="1ps", n_modes=3, encoder="schnet", seed=0, device="cpu").fit(store) \
        .fetch_model()
    assert model.extra["training"]["converged"] is True
    np.testing.assert_allclose(model.timescales()[0], exact_t1, rtol=0.25)
    # the learned slow CV separates the basins: it correlates with cos(phi) of the generating torsion
    phi = np.concatenate(rare_basin.simulate(n_walkers=10, n_frames=4000, seed=0))
    cv = np.concatenate(model.transform(store))[:, 0]
    assert abs(np.corrcoef(cv, np.cos(phi))[0, 1]) > 0.8
