"""torch-geometric models as mdkoop encoders.

* :class:`RadiusInteractionGraph` -- mdkoop's radius graph as a torch-geometric ``interaction_graph``;
* :func:`pyg_schnet` -- torch-geometric's ``SchNet`` with that graph and ``n_out`` outputs;
* :class:`PyGEncoder` -- plug any model that maps ``(z, pos, batch)`` to per-graph features
  (same interface as :class:`mdkoop.nn.encoders.SchNetEncoder`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..data.graphs import radius_graph
from ..errors import InputError
from .encoders import as_atomic_numbers

__all__ = ["RadiusInteractionGraph", "pyg_schnet", "PyGEncoder"]


class RadiusInteractionGraph(nn.Module):
    """mdkoop's radius graph as a torch-geometric ``interaction_graph`` callable.

    Parameters
    ----------
    cutoff : float
        Cutoff in nm.
    n_atoms : int
        Atoms per graph (all graphs of a batch have the same atoms, stored frame-major).

    Notes
    -----
    ``forward(pos (N, 3), batch (N,)) -> (edge_index (2, E), edge_weight (E,))``, with
    ``N = B * n_atoms`` and ``edge_weight`` the distances in nm. PyG's message passing
    uses ``source_to_target`` flow; the graph is symmetric, so the edge set is the same.
    """

    def __init__(self, cutoff: float, n_atoms: int):
        super().__init__()
        self.cutoff = float(cutoff)
        self.n_atoms = int(n_atoms)

    def forward(self, pos: Tensor, batch: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """See the class notes."""
        n = self.n_atoms
        if pos.shape[0] % n != 0:
            raise InputError(
                f"RadiusInteractionGraph was built for graphs of {n} atoms; got {pos.shape[0]} nodes, not a multiple."
            )
        edge_index = radius_graph(pos.reshape(-1, n, 3), self.cutoff)
        # PyG convention: row 0 source (neighbour j), row 1 target (centre i).
        edge_index = edge_index.flip(0)
        weight = (pos[edge_index[0]] - pos[edge_index[1]]).norm(dim=-1)
        return edge_index, weight


def pyg_schnet(
    n_out: int,
    n_atoms: int,
    *,
    cutoff: float = 0.6,
    hidden_channels: int = 64,
    num_filters: int = 64,
    num_interactions: int = 3,
    num_gaussians: int = 20,
    readout: str = "mean",
):
    """torch-geometric's ``SchNet`` with mdkoop's radius graph and ``n_out`` outputs.

    Parameters
    ----------
    n_out : int
        Number of learned functions (the final per-atom layer is replaced to give ``n_out``).
    n_atoms : int
        Atoms per frame.
    cutoff : float
        Cutoff in nm.
    hidden_channels, num_filters, num_interactions, num_gaussians, readout
        Passed to ``torch_geometric.nn.models.SchNet``.

    Returns
    -------
    torch_geometric.nn.models.SchNet
    """
    from torch_geometric.nn.models import SchNet

    model = SchNet(
        hidden_channels=hidden_channels,
        num_filters=num_filters,
        num_interactions=num_interactions,
        num_gaussians=num_gaussians,
        cutoff=cutoff,
        interaction_graph=RadiusInteractionGraph(cutoff, n_atoms),
        readout=readout,
    )
    model.lin2 = nn.Linear(model.lin2.in_features, int(n_out))
    return model


class PyGEncoder(nn.Module):
    """Adapter: any torch-geometric model ``model(z, pos, batch) -> (num_graphs, n_out)``.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``z`` (N,), ``pos`` (N, 3) nm and ``batch`` (N,) to per-graph features; it builds
        its own graph (e.g. via :class:`RadiusInteractionGraph`, see :func:`pyg_schnet`).
    atomic_numbers : array_like of int, shape (n_atoms,)
        Kept as the buffer ``z``.

    Notes
    -----
    Same interface as :class:`SchNetEncoder`: ``forward(z, pos, batch, edge_index, num_graphs)``
    (``edge_index`` is ignored: the model builds its own) and ``forward_frames(pos (B, n, 3))``.
    """

    def __init__(self, model: nn.Module, atomic_numbers):
        super().__init__()
        z = as_atomic_numbers(atomic_numbers)
        self.model = model
        self.n_atoms = int(z.numel())
        self.register_buffer("z", z)

    def forward(
        self,
        z: Tensor,
        pos: Tensor,
        batch: Tensor,
        edge_index: Tensor | None = None,
        num_graphs: int | None = None,
    ) -> Tensor:
        """(num_graphs, n_out) features of a flat batch; see the class notes."""
        return self.model(z, pos, batch)

    def forward_frames(self, pos: Tensor) -> Tensor:
        """(B, n_out) features of frames ``pos`` (B, n_atoms, 3) in nm."""
        if pos.dim() != 3 or pos.shape[1] != self.n_atoms or pos.shape[2] != 3:
            raise InputError(
                f"forward_frames expects positions of shape (B, {self.n_atoms}, 3) in nm, got {tuple(pos.shape)}."
            )
        B, n = pos.shape[0], self.n_atoms
        batch = torch.arange(B, device=pos.device).repeat_interleave(n)
        return self.model(self.z.repeat(B), pos.reshape(B * n, 3), batch)

