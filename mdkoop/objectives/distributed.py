"""Autograd-aware all-reduce of moment sums for data-parallel training.

Under ``torch.distributed`` every rank computes the moment sums of its local
batch (k x k matrices and a few scalars, never the features), these are summed
across ranks, and every rank evaluates the loss of the *global* batch.

Gradient convention (important for the trainer)
-----------------------------------------------
:class:`AllReduceSum` has the backward of a summed all-reduce: the incoming
gradients are all-reduced (summed) too. Every rank evaluates the same global
loss ``L``, so on rank ``r`` the gradient with respect to its *local* features
is ``world_size * dL/d(features_r)``. DistributedDataParallel then *averages*
parameter gradients over ranks, which divides by ``world_size`` again:

    DDP-averaged gradient = (1/W) sum_r W dL/dtheta|_r = dL/dtheta,

exactly the single-process gradient of the concatenated global batch. The
trainer must therefore **not** rescale the loss under DDP (no multiplication
or division by ``world_size``); use the loss as returned. (Without DDP's
averaging, e.g. with a manual sum-all-reduce of gradients, divide the summed
gradients by ``world_size``.)
"""

from __future__ import annotations

import torch
import torch.distributed as dist

__all__ = ["AllReduceSum", "all_reduce_sum", "distributed_active", "all_reduce_sums", "auto_reducer"]


def distributed_active() -> bool:
    """True when ``torch.distributed`` is initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class AllReduceSum(torch.autograd.Function):
    """Sum a tensor over all ranks; the backward sums the gradients over all ranks."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        y = x.detach().clone()
        dist.all_reduce(y, op=dist.ReduceOp.SUM)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Autograd-aware sum of ``x`` (any shape) over ranks; identity when not distributed."""
    if not distributed_active():
        return x
    return AllReduceSum.apply(x)


def all_reduce_sums(sums: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """All-reduce a dict of moment sums in one communication call.

    Parameters
    ----------
    sums : dict of str -> torch.Tensor
        E.g. the output of :func:`mdkoop.objectives.moments.moment_sums`.
        All tensors must share dtype and device.

    Returns
    -------
    dict of str -> torch.Tensor
        Same keys and shapes, summed over ranks (differentiable).
    """
    if not distributed_active():
        return sums
    keys = sorted(sums)
    flat = torch.cat([sums[k].reshape(-1) for k in keys])
    flat = AllReduceSum.apply(flat)
    out, i = {}, 0
    for k in keys:
        n = sums[k].numel()
        out[k] = flat[i:i + n].reshape(sums[k].shape)
        i += n
    return out


def auto_reducer(mode: str = "auto"):
    """The ``reduce`` callable for the loss functions.

    Parameters
    ----------
    mode : {"auto", "off"}
        ``"auto"``: all-reduce when ``torch.distributed`` is active (checked at
        each call); ``"off"``: never.

    Returns
    -------
    callable or None
    """
    if mode == "off":
        return None
    return all_reduce_sums
