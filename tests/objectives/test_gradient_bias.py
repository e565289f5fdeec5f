"""Known answer 5: minibatch gradient bias of the plain LoRA estimator, and its absence for the U-statistic."""

from __future__ import annotations

import torch

from mdkoop.objectives import lora


def _data(n=4096, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    y = 0.8 * x + 0.6 * torch.randn(n, 2, generator=gen, dtype=torch.float64)  # AR(1) pairs
    return x, y


def _grad(theta, x, y, unbiased, nesting="joint"):
    theta = theta.clone().requires_grad_(True)
    f = torch.tanh(x @ theta[:, :2]) + 0.3 * x @ theta[:, 2:]
    g = torch.tanh(y @ theta[:, :2]) + 0.3 * y @ theta[:, 2:]
    lora.lora_loss(f, g, nesting=nesting, unbiased=unbiased).backward()
    return theta.grad


def test_unbiased_minibatch_gradient_matches_full_data_gradient():
    x, y = _data()
    n, B = x.shape[0], 8
    theta = torch.tensor([[0.7, -0.4, 0.2, 0.1], [0.3, 0.9, -0.1, 0.4]], dtype=torch.float64)
    # population gradient: U-statistic on all data (difference to the plain one is O(1/n))
    full = _grad(theta, x, y, unbiased=True)
    gen = torch.Generator().manual_seed(1)
    n_batches = 2000
    mean_u = torch.zeros_like(theta)
    mean_b = torch.zeros_like(theta)
    sq_u = torch.zeros_like(theta)
    for _ in range(n_batches):
        idx = torch.randint(0, n, (B,), generator=gen)
        gu = _grad(theta, x[idx], y[idx], unbiased=True)
        mean_u += gu / n_batches
        sq_u += gu * gu / n_batches
        mean_b += _grad(theta, x[idx], y[idx], unbiased=False) / n_batches
    # sampling from the empirical distribution of the full data: E[minibatch U-stat gradient] = full-data
    # U-statistic gradient up to O(1/n) (with-replacement sampling); compare within 4 standard errors
    se = ((sq_u - mean_u ** 2) / n_batches).sqrt()
    err_u = (mean_u - full).abs()
    assert torch.all(err_u < 4 * se + 2e-3), (err_u, se)
    # the plain estimator is biased by O(1/B): its deviation is many standard errors and larger than the unbiased one
    err_b = (mean_b - full).norm()
    assert err_b > 10 * se.norm()
    assert err_b > 5 * err_u.norm()
