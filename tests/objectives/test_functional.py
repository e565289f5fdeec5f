"""Unit tests of the pure objective functions against explicit reference computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mdkoop.errors import ConfigError, InputError
from mdkoop.objectives import dpnet, lora, make_loss, moments, vamp


def _batch(B=40, k=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    f = torch.randn(B, k, generator=gen, dtype=torch.float64)
    g = 0.6 * f + 0.8 * torch.randn(B, k, generator=gen, dtype=torch.float64)
    w = torch.rand(B, generator=gen, dtype=torch.float64) + 0.1
    return f, g, w


def _prefix_lora(f, g, i, w=None):
    """Plain LoRA of modes 0..i (explicit, biased)."""
    Mf, Mg, T = moments.second_moments(f[:, : i + 1], g[:, : i + 1], w)
    return -2 * torch.trace(T) + torch.trace(Mf @ Mg)


def test_second_moments_match_numpy_with_weights():
    f, g, w = _batch()
    Mf, Mg, T = moments.second_moments(f, g, w)
    wn = (w / w.sum()).numpy()
    fn, gn = f.numpy(), g.numpy()
    np.testing.assert_allclose(Mf.numpy(), (fn * wn[:, None]).T @ fn, rtol=1e-12)
    np.testing.assert_allclose(Mg.numpy(), (gn * wn[:, None]).T @ gn, rtol=1e-12)
    np.testing.assert_allclose(T.numpy(), (fn * wn[:, None]).T @ gn, rtol=1e-12)
    # integer weights == repeating samples
    rep = torch.tensor([1, 2, 3] * 13 + [1], dtype=torch.float64)
    idx = torch.repeat_interleave(torch.arange(40), rep.long())
    for a, b in zip(moments.second_moments(f, g, rep), moments.second_moments(f[idx], g[idx])):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_joint_equals_weighted_sum_of_prefix_losses():
    f, g, w = _batch()
    k = f.shape[1]
    loss = lora.lora_loss(f, g, nesting="joint", unbiased=False, weights=w)
    fc, gc = moments.add_constant(f), moments.add_constant(g)
    ref = sum(_prefix_lora(fc, gc, i, w) for i in range(1, k + 1)) / k + 1.0  # +1: trivial pair removed
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    # "none" is the full LoRA
    torch.testing.assert_close(lora.lora_loss(f, g, nesting="none", unbiased=False, weights=w),
                               _prefix_lora(fc, gc, k, w) + 1.0, rtol=1e-12, atol=1e-12)


def test_sequential_gradients_are_prefix_gradients_with_stop_gradients():
    f0, g0, _ = _batch(B=30, k=3, seed=1)
    f = f0.clone().requires_grad_(True)
    g = g0.clone().requires_grad_(True)
    lora.lora_loss(f, g, nesting="sequential", unbiased=False).backward()
    # reference: mode i gets the gradient of L(0..i) with modes < i detached
    ref_f, ref_g = torch.zeros_like(f0), torch.zeros_like(g0)
    for i in range(3):
        fi = f0.clone().requires_grad_(True)
        gi = g0.clone().requires_grad_(True)
        mask = torch.zeros(3, dtype=torch.float64)
        mask[i] = 1
        fm = fi * mask + fi.detach() * (1 - mask)
        gm = gi * mask + gi.detach() * (1 - mask)
        _prefix_lora(moments.add_constant(fm), moments.add_constant(gm), i + 1).backward()
        ref_f[:, i], ref_g[:, i] = fi.grad[:, i], gi.grad[:, i]
    torch.testing.assert_close(f.grad, ref_f, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g.grad, ref_g, rtol=1e-10, atol=1e-12)
    # its value is the plain LoRA value
    torch.testing.assert_close(lora.lora_loss(f0, g0, nesting="sequential", unbiased=False),
                               lora.lora_loss(f0, g0, nesting="none", unbiased=False))


@pytest.mark.parametrize("nesting", ["none", "joint", "sequential"])
def test_unbiased_is_the_u_statistic_over_distinct_pairs(nesting):
    f, g, w = _batch(B=12, k=3, seed=2)
    fc, gc = moments.add_constant(f), moments.add_constant(g)
    k = fc.shape[1]
    if nesting == "joint":
        vec, mat = moments.joint_masks(k)
    else:
        vec, mat = torch.ones(k, dtype=torch.float64), torch.ones(k, k, dtype=torch.float64)
    wn = w / w.sum()
    lin = (vec * torch.diagonal(moments.second_moments(fc, gc, w)[2])).sum()
    num = den = 0.0
    for a in range(12):
        for b in range(12):
            if a != b:
                Xa, Yb = torch.outer(fc[a], fc[a]), torch.outer(gc[b], gc[b])
                num = num + wn[a] * wn[b] * (mat * Xa * Yb.T).sum()
                den = den + wn[a] * wn[b]
    ref = -2 * lin + num / den + vec[0]
    got = lora.lora_loss(f, g, nesting=nesting, unbiased=True, weights=w)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)


def test_learned_singular_values_rescale_functions():
    f, g, _ = _batch()
    s = torch.tensor([0.9, 0.5, 0.3, 0.1], dtype=torch.float64)
    a = lora.lora_loss(f, g, singular_values=s)
    b = lora.lora_loss(f * s.sqrt(), g * s.sqrt())
    torch.testing.assert_close(a, b)
    loss = make_loss("lora", n_learned=4, learn_singular_values=True)
    val = loss(f, g)
    val.backward()
    assert loss.raw_singular_values.grad is not None and torch.all(torch.isfinite(loss.raw_singular_values.grad))
    assert torch.all(loss.singular_values > 0)


def test_vamp_scores_match_deeptime():
    from deeptime.decomposition.deep import vamp_score as dt_vamp_score

    f, g, _ = _batch(B=200, k=3, seed=3)
    for r, name in ((1, "VAMP1"), (2, "VAMP2"), ("E", "VAMPE")):
        ours = vamp.vamp_score(f, g, r=r, epsilon=1e-6, mode="trunc")
        ref = dt_vamp_score(f, g, method=name, epsilon=1e-6, mode="trunc")
        # deeptime uses the Bessel-corrected covariance; VAMP-1/2 are scale invariant, VAMP-E is not exactly
        torch.testing.assert_close(ours, ref, rtol=1e-6 if r != "E" else 2e-2, atol=1e-8)


def test_vamp2_equals_uncentered_whitened_norm_with_constant():
    """Mean removal == prepending the constant: VAMP-2 = ||M_f^-1/2 T M_g^-1/2||_F^2 of [1, f], [1, g]."""
    f, g, _ = _batch(B=300, k=3, seed=4)
    Mf, Mg, T = moments.second_moments(moments.add_constant(f), moments.add_constant(g))
    K = vamp.sym_inv_sqrt(Mf, 0.0, "trunc") @ T @ vamp.sym_inv_sqrt(Mg, 0.0, "trunc")
    torch.testing.assert_close(vamp.vamp_score(f, g, r=2, epsilon=0.0, mode="trunc"), (K * K).sum(), rtol=1e-10, atol=0)


def test_dpnet_losses_finite_and_optimal_at_singular_functions():
    f, g, _ = _batch(B=200, k=3, seed=5)
    for name in ("dpnet", "dpnet-relaxed"):
        val = make_loss(name)(f, g)
        assert torch.isfinite(val)
    # relaxed DPNet without regulariser is scale invariant; DPNet equals VAMP-2 of [1,f] (no reg)
    a = dpnet.dpnet_score(f, g, relaxed=False, reg=0.0, epsilon=0.0)
    b = vamp.vamp_score(f, g, r=2, epsilon=0.0, mode="trunc")
    torch.testing.assert_close(a, b, rtol=1e-8, atol=0)
    torch.testing.assert_close(dpnet.dpnet_score(3 * f, g, relaxed=True, reg=0.0, constant=False),
                               dpnet.dpnet_score(f, g, relaxed=True, reg=0.0, constant=False))


def test_make_loss_names_and_errors():
    f, g, _ = _batch()
    for name in ("lora", "vamp1", "vamp2", "vampe", "dpnet", "dpnet-relaxed"):
        assert make_loss(name)(f, g).dim() == 0
    with pytest.raises(ConfigError, match="unknown loss"):
        make_loss("vamp3")
    with pytest.raises(ConfigError, match="nesting"):
        make_loss("lora", nesting="diagonal")
    with pytest.raises(ConfigError, match="invalid option"):
        make_loss("vamp2", nesting="joint")
    with pytest.raises(InputError, match="same shape"):
        lora.lora_loss(f, g[:, :2])
    with pytest.raises(InputError, match="weights"):
        lora.lora_loss(f, g, weights=-torch.ones(f.shape[0], dtype=f.dtype))
    with pytest.raises(InputError, match="at least 2"):
        lora.lora_loss(f[:1], g[:1])
