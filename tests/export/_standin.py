"""A small TorchScript-able graph encoder and model, used by the export tests.

It has the encoder contract of ``mdkoop.nn.encoders.SchNetEncoder``
(``forward(z, pos, batch, edge_index, num_graphs) -> (num_graphs, n_out)``) and a
reference ``transform`` computed with :func:`mdkoop.data.graphs.radius_graph`, so the
export tests exercise the real export path on real CLN025 coordinates without
needing a trained network.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from mdkoop.data.graphs import radius_graph


class StandInEncoder(nn.Module):
    """Distance-RBF message passing with a smooth cosine cutoff, mean pooling, linear head."""

    def __init__(self, n_out: int = 3, n_rbf: int = 8, cutoff: float = 0.6, max_z: int = 20):
        super().__init__()
        self.embed = nn.Embedding(max_z, n_rbf)
        self.register_buffer("centers", torch.linspace(0.1, cutoff, n_rbf))
        self.lin1 = nn.Linear(n_rbf, n_rbf)
        self.lin2 = nn.Linear(n_rbf, n_out)
        self.cutoff = float(cutoff)

    def forward(self, z: Tensor, pos: Tensor, batch: Tensor, edge_index: Tensor, num_graphs: int) -> Tensor:
        i, j = edge_index[0], edge_index[1]
        d = ((pos[i] - pos[j]) ** 2).sum(-1).sqrt()
        fcut = 0.5 * (torch.cos(d * math.pi / self.cutoff) + 1.0) * (d < self.cutoff).to(pos.dtype)
        rbf = torch.exp(-((d.unsqueeze(-1) - self.centers) ** 2) / 0.005) * fcut.unsqueeze(-1)
        msg = rbf * self.embed(z[j])
        h = torch.zeros(pos.shape[0], msg.shape[1], dtype=pos.dtype, device=pos.device).index_add(0, i, msg)
        h = torch.tanh(self.lin1(h))
        pooled = torch.zeros(num_graphs, h.shape[1], dtype=pos.dtype, device=pos.device).index_add(0, batch, h)
        counts = torch.bincount(batch, minlength=num_graphs).to(pos.dtype).unsqueeze(-1)
        return self.lin2(pooled / counts)


def reference_features(encoder: StandInEncoder, z, pos: np.ndarray, cutoff: float) -> np.ndarray:
    """Learned functions of frames (T, n, 3) through the package's own radius_graph."""
    p = torch.as_tensor(pos, dtype=torch.float32)
    B, n, _ = p.shape
    zz = torch.as_tensor(z, dtype=torch.long)
    with torch.no_grad():
        out = encoder(zz.repeat(B), p.reshape(B * n, 3), torch.arange(B).repeat_interleave(n), radius_graph(p, cutoff), B)
    return out.numpy()
