"""Known answer 3: the noisy logistic map x' = 4x(1-x) + xi mod 1 with the cos^N noise kernel, N = 20.

The transition kernel p(y|x) = sum_m a_m exp(2 pi i m (y - F(x))), |m| <= N/2, has finite rank 21,
so the exact Koopman eigenvalues are those of a 21 x 21 matrix. The dynamics is not reversible, so the
left (f) and right (g) singular functions differ: two lobes are trained with nested LoRA, and the
eigenvalues come from the learned rank-k SVD (:func:`mdkoop.estimation.decompositions.svd_koopman`,
EDMD in the learned singular basis). The system itself lives in :mod:`mdkoop.systems.logistic_map`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import directed_hausdorff

from mdkoop.estimation import MomentAccumulator, cca
from mdkoop.estimation.decompositions import svd_koopman
from mdkoop.nn.mlp import MLPEncoder
from mdkoop.systems.logistic_map import exact_eigenvalues, exact_singular_values
from mdkoop.systems.logistic_map import fourier_features as _embed
from mdkoop.systems.logistic_map import sample_pairs as sample
from mdkoop.testing import features, fit_pairs


def _as_points(z):
    return np.column_stack([np.real(z), np.imag(z)])


def test_exact_spectrum_of_the_finite_rank_kernel():
    lam = exact_eigenvalues()
    assert abs(lam[0] - 1) < 1e-10
    # leading non-trivial pair (cross-checked against a 3000-state discretisation of the kernel)
    np.testing.assert_allclose(sorted(lam[1:3], key=np.imag), [-0.1933 - 0.1909j, -0.1933 + 0.1909j], atol=2e-4)
    assert np.all(np.abs(lam[3:]) < 0.03)


@pytest.mark.slow
def test_nested_lora_two_lobes_recover_the_leading_eigenvalues():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    x, xp = sample(40000, rng)
    f = MLPEncoder(20, 12, hidden=(64, 64), activation="tanh")
    g = MLPEncoder(20, 12, hidden=(64, 64), activation="tanh")
    fit_pairs(f, _embed(x), _embed(xp), encoder_tau=g, epochs=30, batch_size=500, lr=3e-3, nesting="joint")
    # estimation on fresh pairs
    x, xp = sample(100000, rng)
    fx, gy, fy = features(f, _embed(x)), features(g, _embed(xp)), features(f, _embed(xp))
    acc = MomentAccumulator().partial_fit(fx, gy)
    svd = cca(acc.cov_00, acc.cov_0t, acc.cov_tt)
    exact_sv = exact_singular_values(4)  # 0.9296, 0.882, 0.6987, 0.6426 (also from a 3000-state discretisation)
    np.testing.assert_allclose(svd.singular_values[:4], exact_sv, atol=0.03)
    lagged = MomentAccumulator().partial_fit(gy, fy)
    eig = svd_koopman(svd, lagged.cov_0t, lagged.mean_y, acc.mean_x)
    est = np.concatenate([[1.0], eig.eigenvalues])
    leading = exact_eigenvalues()[:3]
    d = directed_hausdorff(_as_points(leading), _as_points(est[:3]))[0]
    assert d <= 0.05, (leading, est[:5])
