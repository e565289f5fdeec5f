"""Known answers 1 and 2: a finite Markov chain with one-hot features.

With one-hot features, f = e_x A and g = e_x' B, and the pair weights
rho0(x) P(x, x') make the weighted batch moments *exactly* the population
moments, so the LoRA minimiser must give the singular values of
D0^1/2 P D1^-1/2 (the first, 1, is the constant pair).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mdkoop.objectives import lora, moments

N_STATES, N_LEARNED = 6, 3


def _chain():
    rng = np.random.default_rng(7)
    P = rng.random((N_STATES, N_STATES)) ** 3 + np.eye(N_STATES) * 2.0
    P /= P.sum(1, keepdims=True)
    rho0 = rng.random(N_STATES) + 0.5
    rho0 /= rho0.sum()  # not stationary: rho1 != rho0
    rho1 = rho0 @ P
    K = np.sqrt(rho0)[:, None] * P / np.sqrt(rho1)[None, :]
    U, s, Vt = np.linalg.svd(K)
    # all pairs (x, x') with weights rho0(x) P(x, x')
    xs, ys = np.meshgrid(np.arange(N_STATES), np.arange(N_STATES), indexing="ij")
    w = (rho0[:, None] * P).ravel()
    X = np.eye(N_STATES)[xs.ravel()]
    Y = np.eye(N_STATES)[ys.ravel()]
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    return dict(P=P, rho0=rho0, rho1=rho1, s=s, U=U, V=Vt.T, X=t(X), Y=t(Y), w=t(w))


def test_exact_singular_values_nontrivial():
    c = _chain()
    assert abs(c["s"][0] - 1) < 1e-12  # constant pair
    assert np.all(np.diff(c["s"][: N_LEARNED + 2]) < -1e-3)  # well separated, so the test is meaningful


@pytest.mark.parametrize("nesting", ["joint", "none", "sequential"])
def test_closed_form_minimiser_gives_minus_sum_sigma_squared(nesting):
    c = _chain()
    s, U, V = c["s"], c["U"], c["V"]
    A = (U[:, 1:N_LEARNED + 1] * np.sqrt(s[1:N_LEARNED + 1])) / np.sqrt(c["rho0"])[:, None]
    B = (V[:, 1:N_LEARNED + 1] * np.sqrt(s[1:N_LEARNED + 1])) / np.sqrt(c["rho1"])[:, None]
    f, g = c["X"] @ torch.as_tensor(A), c["Y"] @ torch.as_tensor(B)
    m = moments.nesting_weights(N_LEARNED + 1).numpy()[1:] if nesting == "joint" else np.ones(N_LEARNED)
    expected = -np.sum(m * s[1:N_LEARNED + 1] ** 2)
    loss = lora.lora_loss(f, g, nesting=nesting, unbiased=False, weights=c["w"])
    assert abs(loss.item() - expected) < 1e-6
    # a stationary point: zero gradient w.r.t. the coefficients
    At = torch.as_tensor(A).requires_grad_(True)
    Bt = torch.as_tensor(B).requires_grad_(True)
    lora.lora_loss(c["X"] @ At, c["Y"] @ Bt, nesting=nesting, unbiased=False, weights=c["w"]).backward()
    assert At.grad.abs().max() < 1e-8 and Bt.grad.abs().max() < 1e-8
    # and a minimum: random perturbations increase the loss
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        dA = 1e-2 * torch.randn(A.shape, generator=gen, dtype=torch.float64)
        dB = 1e-2 * torch.randn(B.shape, generator=gen, dtype=torch.float64)
        pert = lora.lora_loss(c["X"] @ (At.detach() + dA), c["Y"] @ (Bt.detach() + dB), nesting=nesting,
                           unbiased=False, weights=c["w"])
        assert pert.item() > loss.item()


def _descend(c, nesting, steps=3000, lr=0.05, seed=0):
    gen = torch.Generator().manual_seed(seed)
    A = (0.3 * torch.randn(N_STATES, N_LEARNED, generator=gen, dtype=torch.float64)).requires_grad_(True)
    B = (0.3 * torch.randn(N_STATES, N_LEARNED, generator=gen, dtype=torch.float64)).requires_grad_(True)
    opt = torch.optim.Adam([A, B], lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1000, gamma=0.3)
    for _ in range(steps):
        opt.zero_grad()
        lora.lora_loss(c["X"] @ A, c["Y"] @ B, nesting=nesting, unbiased=False, weights=c["w"]).backward()
        opt.step()
        sched.step()
    return (c["X"] @ A).detach(), (c["Y"] @ B).detach()


@pytest.mark.parametrize("nesting", ["joint", "sequential"])
def test_gradient_descent_recovers_ordered_singular_values(nesting):
    """Known answers 1 (to 1e-3 by gradient descent) and 2 (nesting orders the modes)."""
    c = _chain()
    f, g = _descend(c, nesting)
    Mf, Mg, T = moments.second_moments(f, g, c["w"])
    learned = torch.diagonal(T).sqrt().numpy()  # T_ii = sigma_i E[u_i v_i] = sigma_i^2 at f_i = sqrt(sigma_i) u_i
    exact = c["s"][1:N_LEARNED + 1]
    np.testing.assert_allclose(learned, exact, atol=1e-3)
    assert np.all(np.diff(learned) < 0)
    # the modes are the singular functions up to the free scale f_i -> c f_i, g_i -> g_i / c:
    # M_f and M_g diagonal with M_f,ii M_g,ii = sigma_i^2, and mean-free (orthogonal to the constants)
    Mf, Mg = Mf.numpy(), Mg.numpy()
    np.testing.assert_allclose(np.diag(Mf) * np.diag(Mg), exact ** 2, atol=2e-3)
    np.testing.assert_allclose(Mf - np.diag(np.diag(Mf)), 0, atol=2e-3)
    np.testing.assert_allclose(Mg - np.diag(np.diag(Mg)), 0, atol=2e-3)
    np.testing.assert_allclose((c["w"] @ f).numpy(), 0, atol=2e-3)


def test_gradient_descent_without_nesting_finds_the_subspace_only():
    c = _chain()
    f, g = _descend(c, "none")
    Mf, Mg, T = moments.second_moments(moments.add_constant(f), moments.add_constant(g), c["w"])
    # singular values of the learned rank-k operator: CCA of the learned functions
    Lf = torch.linalg.cholesky(Mf)
    Lg = torch.linalg.cholesky(Mg)
    W = torch.linalg.solve_triangular(Lf, torch.linalg.solve_triangular(Lg, T.T, upper=False).T, upper=False)
    sv = torch.linalg.svdvals(W).numpy()
    np.testing.assert_allclose(sv, c["s"][: N_LEARNED + 1], atol=1e-3)
