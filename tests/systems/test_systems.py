"""Known-answer systems of :mod:`mdkoop.systems`: exact spectra and sampler statistics (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from mdkoop.errors import InputError, LagError
from mdkoop.systems import logistic_map as lm
from mdkoop.systems import prinz


def test_logistic_map_exact_eigenvalues():
    lam = lm.exact_eigenvalues()
    assert lam.shape == (21,) and abs(lam[0] - 1) < 1e-10
    np.testing.assert_allclose(sorted(lam[1:3], key=np.imag), [-0.1933 - 0.1909j, -0.1933 + 0.1909j], atol=2e-4)
    assert np.all(np.abs(lam[3:]) < 0.03)


def test_logistic_map_singular_values_match_a_3000_state_discretisation():
    s = lm.exact_singular_values(4)
    np.testing.assert_allclose(s, [0.9296, 0.882, 0.6987, 0.6426], atol=2e-4)
    # converged in the quadrature sizes, and decreasing in (0, 1)
    np.testing.assert_allclose(lm.exact_singular_values(6, n_quad=1000, n_grid=2048), lm.exact_singular_values(6), atol=1e-8)
    full = lm.exact_singular_values()
    assert full.shape == (20,) and np.all(np.diff(full) <= 1e-12) and 0 < full[-1] and full[0] < 1
    with pytest.raises(InputError, match="k=21"):
        lm.exact_singular_values(21)


def test_logistic_map_sampler_has_the_kernel_statistics():
    rng = np.random.default_rng(0)
    x, xp = lm.sample_pairs(200_000, rng)
    assert x.shape == xp.shape == (200_000,) and np.all((xp >= 0) & (xp < 1))
    # E[exp(2 pi i m (x' - F(x)))] = a_m for |m| <= 10 (the noise's Fourier coefficients), 0 beyond
    m, a = lm.noise_coefficients()
    noise = xp - lm.logistic(x)
    for mm in (1, 2, 5, 10, 11, 13):
        emp = np.mean(np.exp(2j * np.pi * mm * noise))
        expected = a[m == mm][0] if mm <= 10 else 0.0
        assert abs(emp - expected) < 0.01, (mm, emp, expected)
    assert abs(a[m == 1][0] - 10 / 11) < 1e-12
    # x is uniform
    assert abs(x.mean() - 0.5) < 0.005
    # same seed, same pairs
    np.testing.assert_array_equal(lm.sample_pairs(10, 3)[1], lm.sample_pairs(10, 3)[1])


def _cca(a, b):
    """Canonical correlations of two feature sets (n, p), (n, q) (constants removed by centring)."""
    a, b = a - a.mean(0), b - b.mean(0)
    wa, wb = np.linalg.cholesky(a.T @ a), np.linalg.cholesky(b.T @ b)
    c = np.linalg.solve(wa, a.T @ b) @ np.linalg.inv(wb).T
    return np.linalg.svd(c, compute_uv=False)


def test_logistic_map_empirical_cca_matches_exact_singular_values():
    """CCA of samples in bases of the kernel's left/right ranges reproduces the exact singular values.

    Left singular functions lie in span{exp(2 pi i m F(x))}, right ones in span{exp(2 pi i m y) / rho'(y)}
    (|m| <= 10), where rho' is the density of x'.
    """
    x, xp = lm.sample_pairs(100_000, np.random.default_rng(1))
    m, a = lm.noise_coefficients()
    left = lm.fourier_features(lm.logistic(x))
    rho = lm._output_density(xp, m, a, 2000)
    right = lm.fourier_features(xp) / rho[:, None]
    right = np.column_stack([right, 1 / rho])
    np.testing.assert_allclose(_cca(left, right)[:4], lm.exact_singular_values(4), atol=0.01)


def test_fourier_features():
    f = lm.fourier_features(np.array([0.0, 0.25]))
    assert f.shape == (2, 20)
    np.testing.assert_allclose(f[0], np.r_[np.ones(10), np.zeros(10)], atol=1e-12)
    np.testing.assert_allclose(f[1, [0, 10]], [0.0, 1.0], atol=1e-12)  # cos, sin of pi/2
    with pytest.raises(InputError, match="1D"):
        lm.fourier_features(np.zeros((3, 2)))


def test_prinz_generator_eigenvalues_match_the_paper():
    lam = prinz.generator_eigenvalues()
    np.testing.assert_allclose(lam[:5], [0.0, -1.199, -7.889, -15.36, -82.08], rtol=2e-3, atol=1e-3)
    np.testing.assert_allclose(prinz.exact_timescales(3), -1 / lam[1:4], rtol=1e-10)
    # potential: four wells, symmetric x^8 confinement
    assert prinz.potential(0.0) == pytest.approx(4 * (0.8 + 0.2 * np.exp(-20) + 0.5 * np.exp(-10)))
    with pytest.raises(InputError, match="hi > lo"):
        prinz.generator_eigenvalues(lo=1.0, hi=-1.0)


def test_prinz_simulation_and_reference_msm():
    traj = prinz.simulate(40_000, seed=11)
    assert traj.shape == (40_000,) and traj.dtype == np.float64
    np.testing.assert_array_equal(traj[:100], prinz.simulate(100, seed=11))  # reproducible
    assert -1.3 < traj.min() and traj.max() < 1.3  # inside the SqRA grid
    # occupies all four wells (minima near -0.75, -0.25, 0.25, 0.75)
    hist = np.histogram(traj, bins=[-1.3, -0.5, 0.0, 0.5, 1.3])[0]
    assert np.all(hist > 0.05 * traj.size)
    # the fine-grid MSM's slowest timescale is near the exact one (lag-limited, 40k frames: 25%)
    ts = prinz.msm_timescales(traj, lag=10, k=2)
    np.testing.assert_allclose(ts[0], prinz.exact_timescales(1)[0], rtol=0.25)
    with pytest.raises(LagError):
        prinz.msm_timescales(traj[:20], lag=30)
    with pytest.raises(InputError, match="1D"):
        prinz.discretize(np.zeros((5, 2)))
