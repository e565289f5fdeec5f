"""A small plain-torch training loop for the known-answer tests (not part of the package)."""

from __future__ import annotations

import numpy as np
import torch

from mdkoop.estimation import LinearKoopmanModel
from mdkoop.objectives import make_loss


def fit_pairs(encoder, x0, x1, *, encoder_tau=None, loss="lora", epochs=30, batch_size=512, lr=3e-3, seed=0, weight_decay=0.0, **loss_kw):
    """Train ``encoder`` on pairs ``x0 -> x1`` (numpy (n, d)) with Adam; returns the encoder.

    ``encoder_tau``: separate right (time-lagged) lobe g; default: shared lobe (f = g, reversible dynamics).
    """
    lobe_tau = encoder if encoder_tau is None else encoder_tau
    gen = torch.Generator().manual_seed(seed)
    crit = make_loss(loss, **loss_kw)
    params = list(encoder.parameters()) + (list(encoder_tau.parameters()) if encoder_tau is not None else []) + list(crit.parameters())
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    X0 = torch.as_tensor(x0, dtype=torch.float32)
    X1 = torch.as_tensor(x1, dtype=torch.float32)
    n = X0.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            value = crit(encoder(X0[idx]), lobe_tau(X1[idx]))
            value.backward()
            opt.step()
        sched.step()
    return encoder


@torch.no_grad()
def features(encoder, x) -> np.ndarray:
    """Encoder outputs as float64 numpy."""
    return encoder(torch.as_tensor(x, dtype=torch.float32)).double().numpy()


def linear_model(encoder, x0, x1, lagtime, *, timestep=1.0, reversible=True) -> LinearKoopmanModel:
    """LinearKoopmanModel of the trained encoder on pairs."""
    return LinearKoopmanModel.from_features(features(encoder, x0), features(encoder, x1), lagtime,
                                            timestep=timestep, reversible=reversible)
