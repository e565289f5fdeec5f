"""Pure functions of the SchNet computation: activation, radial basis, cutoff, edge chunking.

Small, stateless and TorchScript-compilable; used by :mod:`mdkoop.nn.schnet`.
Distances and cutoffs in nm.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["shifted_softplus", "gaussian_rbf", "cosine_cutoff", "chunk_boundaries"]


def shifted_softplus(x: Tensor) -> Tensor:
    """``softplus(x) - ln 2`` (schnetpack's activation); any shape, same shape out."""
    return F.softplus(x) - 0.6931471805599453  # ln 2 (a literal: TorchScript)


def gaussian_rbf(d: Tensor, offsets: Tensor, widths: Tensor) -> Tensor:
    """Gaussian radial basis.

    Parameters
    ----------
    d : Tensor, shape (E,)
        Distances (nm).
    offsets, widths : Tensor, shape (n_rbf,)
        Centres and widths of the Gaussians (nm).

    Returns
    -------
    Tensor, shape (E, n_rbf), dtype of ``d``
        ``exp(-0.5 / widths**2 * (d - offsets)**2)``.
    """
    coeff = -0.5 / torch.pow(widths, 2)
    diff = d.unsqueeze(-1) - offsets
    return torch.exp(coeff * torch.pow(diff, 2))


def cosine_cutoff(d: Tensor, cutoff: float) -> Tensor:
    """Behler cosine cutoff ``0.5 (cos(pi d / cutoff) + 1)`` for ``d < cutoff``, else 0.

    Parameters
    ----------
    d : Tensor, shape (E,)
        Distances (nm).
    cutoff : float
        Cutoff radius (nm).

    Returns
    -------
    Tensor, shape (E,)
    """
    return 0.5 * (torch.cos(d * (math.pi / cutoff)) + 1.0) * (d < cutoff).to(d.dtype)


def chunk_boundaries(idx_i: Tensor, idx_j: Tensor, n_nodes: int, edge_chunk: int, closed: bool) -> list[int]:
    """Split nodes into contiguous ranges holding about ``edge_chunk`` edges each.

    Parameters
    ----------
    idx_i, idx_j : Tensor, shape (E,), int64
        Centre and neighbour of each edge, sorted by ``idx_i``.
    n_nodes : int
        Number of nodes N.
    edge_chunk : int
        Target number of edges per chunk.
    closed : bool
        If True, only cut where no edge crosses the cut (between frames of a batch), so
        that each chunk is a union of whole graphs.

    Returns
    -------
    list of int
        Node boundaries ``[0, a_1, ..., N]``; chunk ``k`` holds nodes ``[a_k, a_{k+1})``
        and all edges whose centre lies in that range.
    """
    n_edges = idx_i.shape[0]
    if n_edges <= edge_chunk or n_nodes <= 1:
        return [0, n_nodes]
    n_chunks = (n_edges + edge_chunk - 1) // edge_chunk
    if not closed:
        per = max(1, (n_nodes + n_chunks - 1) // n_chunks)
        bounds = list(range(0, n_nodes, per))
        bounds.append(n_nodes)
        return bounds
    nodes = torch.arange(n_nodes, dtype=idx_i.dtype, device=idx_i.device)
    reach = nodes.scatter_reduce(0, idx_i, idx_j, "amax", include_self=True)
    reach = torch.cummax(torch.maximum(reach, nodes), 0)[0]  # furthest node linked to any node <= v
    cand = nodes[1:]
    valid = cand[reach[:-1] < cand]  # cuts that no edge crosses
    if valid.numel() == 0:
        return [0, n_nodes]
    before = torch.searchsorted(idx_i, valid)  # edges before each valid cut
    targets = torch.arange(1, n_chunks, dtype=before.dtype, device=before.device) * edge_chunk
    sel = torch.searchsorted(before, targets).clamp(max=valid.numel() - 1)
    chosen: list[int] = valid[sel].tolist()
    bounds = [0]
    for c in chosen:
        if c > bounds[-1] and c < n_nodes:
            bounds.append(c)
    bounds.append(n_nodes)
    return bounds
