"""A plain-torch training loop for known-answer checks of the objectives.

The tests and the ground-truth benchmarks train small encoders on pairs with exactly this loop (Adam, cosine
schedule, fixed batch order), independent of Lightning and of :class:`mdkoop.KoopmanSVD`, so that an objective's
answer on a system with a known spectrum can be checked on its own.
"""

from __future__ import annotations

import numpy as np
import torch

from .estimation.model import LinearKoopmanModel
from .objectives.losses import make_loss

__all__ = ["fit_pairs", "features", "linear_model"]


def fit_pairs(encoder, x0, x1, *, encoder_tau=None, loss="lora", epochs=30, batch_size=512, lr=3e-3, seed=0, weight_decay=0.0, **loss_kw):
    """Train ``encoder`` on pairs ``x0 -> x1`` with Adam and a cosine schedule; return the encoder.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps (n, d) float32 to (n, k-1).
    x0, x1 : ndarray, shape (n, d)
        Instantaneous and time-lagged inputs of the pairs.
    encoder_tau : torch.nn.Module, optional
        A separate right (time-lagged) lobe g; default: the shared lobe (f = g, reversible dynamics).
    loss : str
        A name of :func:`mdkoop.objectives.losses.make_loss`; ``**loss_kw`` go to it.
    epochs, batch_size, seed : int
        Full batches per epoch in an order fixed by ``seed``; the last partial batch is dropped.
    lr, weight_decay : float

    Returns
    -------
    torch.nn.Module
        ``encoder``, trained in place.
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
    """Encoder outputs ``(n, k-1)`` float64 of inputs ``x`` (n, d)."""
    return encoder(torch.as_tensor(x, dtype=torch.float32)).double().numpy()


def linear_model(encoder, x0, x1, lagtime, *, timestep=1.0, reversible=True) -> LinearKoopmanModel:
    """The :class:`~mdkoop.estimation.model.LinearKoopmanModel` of the trained encoder on pairs ``x0 -> x1``."""
    return LinearKoopmanModel.from_features(features(encoder, x0), features(encoder, x1), lagtime,
                                            timestep=timestep, reversible=reversible)
