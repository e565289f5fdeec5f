"""Lean SchNet: schnetpack's SchNet representation, computed with less memory.

The maths is exactly that of ``schnetpack.representation.SchNet`` with a
Gaussian radial basis and a cosine cutoff (the paper's setting: 64 features,
3 interactions, 20 Gaussians, cutoff 0.6 nm). For edge ``(i, j)`` with distance
``d_ij`` (nm) and atom features ``x`` (N, F)::

    rbf_ij  = exp(-0.5 / w**2 * (d_ij - mu)**2)                      (E, n_rbf)
    W_ij    = (ssp(rbf_ij @ W1.T + b1) @ W2.T + b2) * fcut(d_ij)      (E, F)
    v_i     = out2(ssp(out1( sum_j (x @ Win.T)[j] * W_ij )))           (N, F)
    x      <- x + v

with ``ssp(x) = softplus(x) - ln 2`` and ``fcut(d) = 0.5 (cos(pi d / rc) + 1)``
for ``d < rc`` (else 0).

Why it is leaner
----------------
schnetpack materialises the edge tensors of all three interactions at once and
keeps them for the backward pass: about six ``(E, F)`` float32 tensors per
interaction, i.e. ~10 GB per training step for 384 CLN025 pairs. Here the
continuous-filter convolution is computed in chunks of whole centre atoms (edges
sorted by the centre ``i``, as :func:`mdkoop.data.graphs.radius_graph` returns
them). The radial basis ``(E, n_rbf)`` and the cutoff ``(E,)`` are computed once
and shared by the interactions; the filter is generated inside the chunk; the
``- ln 2`` of the shifted softplus is folded into the second filter layer's bias;
the filter depends only on the distance, so for a symmetric graph (both directions
of every pair, as the radius graph gives) it is generated once per atom pair and
shared by ``(i, j)`` and ``(j, i)`` (half the filter-network work, bitwise the same
filter); chunks are cut between frames so both directions of a pair stay in one
chunk; and, when gradients are recorded, each chunk is wrapped in non-reentrant
activation checkpointing, so only the radial basis, the edge indices and the
``(N, F)`` node features are kept for the backward pass. The chunk's edge tensors
are recomputed in the backward pass (one extra filter-network forward); they are
small (4 MB at the default chunk of 16384 edges), so the allocator recycles them instead of
faulting in fresh pages for every step.

Units: positions and ``cutoff`` in nm. The schnetpack reference is built with the
same cutoff in nm (see :class:`mdkoop.nn.encoders.SchnetpackSchNet`): schnetpack's
own pipelines assume Angstrom, mdkoop never does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ModelFormatError
from .schnet_ops import chunk_boundaries, cosine_cutoff, gaussian_rbf, shifted_softplus

__all__ = [
    "LeanSchNet",
    "LeanInteraction",
    "shifted_softplus",
    "gaussian_rbf",
    "cosine_cutoff",
    "chunk_boundaries",
    "DEFAULT_EDGE_CHUNK",
]

LN2 = math.log(2.0)
DEFAULT_EDGE_CHUNK = 1 << 14  # edges per chunk: the chunk's (E_c, 64) float32 tensors are ~4 MB


class LeanInteraction(nn.Module):
    """One SchNet interaction block (weights laid out as schnetpack's ``SchNetInteraction``).

    Parameters
    ----------
    n_atom_basis : int
        Feature size F.
    n_rbf : int
        Number of radial basis functions.
    n_filters : int
        Filter size.
    """

    def __init__(self, n_atom_basis: int, n_rbf: int, n_filters: int):
        super().__init__()
        self.in2f = nn.Linear(n_atom_basis, n_filters, bias=False)
        self.filter1 = nn.Linear(n_rbf, n_filters)
        self.filter2 = nn.Linear(n_filters, n_filters)
        self.out1 = nn.Linear(n_filters, n_atom_basis)
        self.out2 = nn.Linear(n_atom_basis, n_atom_basis)
        for lin in (self.in2f, self.filter1, self.filter2, self.out1, self.out2):
            nn.init.xavier_uniform_(lin.weight)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)

    def cfconv_chunk(
        self,
        xf: Tensor,
        rbf: Tensor,
        fcut: Tensor,
        pair_local: Tensor,
        idx_i_local: Tensor,
        idx_j: Tensor,
        bias2: Tensor,
        n_local: int,
    ) -> Tensor:
        """Continuous-filter convolution for one chunk of centre atoms.

        Parameters
        ----------
        xf : Tensor, shape (N, n_filters)
            Filter-space features of all nodes (``in2f(x)``).
        rbf : Tensor, shape (P_c, n_rbf)
            Radial basis of the chunk's atom pairs (each unordered pair once when the graph is
            symmetric: the filter of ``(i, j)`` equals that of ``(j, i)``, so it is generated once).
        fcut : Tensor, shape (P_c,)
            Cosine cutoff of the chunk's pairs.
        pair_local : Tensor, shape (E_c,), int64
            Pair (row of ``rbf``) of each directed edge.
        idx_i_local : Tensor, shape (E_c,), int64
            Centre atoms, relative to the chunk's first node.
        idx_j : Tensor, shape (E_c,), int64
            Neighbour atoms (global indices into ``xf``).
        bias2 : Tensor, shape (n_filters,)
            ``filter2.bias - ln2 * filter2.weight.sum(1)``: the ``- ln 2`` of the shifted softplus,
            folded into the second filter layer (one pass over the (E_c, F) tensor less).
        n_local : int
            Number of nodes in the chunk.

        Returns
        -------
        Tensor, shape (n_local, n_filters)
        """
        h = F.softplus(self.filter1(rbf))
        w = F.linear(h, self.filter2.weight, bias2) * fcut.unsqueeze(-1)
        msg = xf.index_select(0, idx_j) * w.index_select(0, pair_local)
        out = torch.zeros(n_local, xf.shape[1], dtype=xf.dtype, device=xf.device)
        return out.index_add(0, idx_i_local, msg)

    @torch.jit.unused
    def _checkpointed_chunk(
        self,
        xf: Tensor,
        rbf: Tensor,
        fcut: Tensor,
        pair_local: Tensor,
        idx_i_local: Tensor,
        idx_j: Tensor,
        bias2: Tensor,
        n_local: int,
    ) -> Tensor:
        from torch.utils.checkpoint import checkpoint

        return checkpoint(
            self.cfconv_chunk,
            xf,
            rbf,
            fcut,
            pair_local,
            idx_i_local,
            idx_j,
            bias2,
            n_local,
            use_reentrant=False,
        )

    def forward(
        self,
        x: Tensor,
        rbf: Tensor,
        fcut: Tensor,
        pair_of_edge: Tensor,
        idx_i: Tensor,
        idx_j: Tensor,
        bounds: list[int],
        edge_bounds: list[int],
        pair_bounds: list[int],
        closed: bool,
        use_checkpoint: bool,
    ) -> Tensor:
        """Interaction update ``v`` (N, F), to be added to ``x``; see the module docstring.

        ``rbf`` (P, n_rbf) and ``fcut`` (P,) are the radial basis and cutoff of the atom pairs,
        ``pair_of_edge`` (E,) the pair of each directed edge; ``bounds``/``edge_bounds``/``pair_bounds``
        the node/edge/pair chunk boundaries (:func:`chunk_boundaries`); ``closed`` if no edge
        crosses a node boundary.
        """
        xf = self.in2f(x)
        bias2 = self.filter2.bias - 0.6931471805599453 * self.filter2.weight.sum(1)
        n_chunks = len(bounds) - 1
        # Split (one autograd node, whose backward is one concatenation) rather than slice per
        # chunk: a slice's backward writes a zero-filled tensor of the full size for every chunk.
        p_sizes = [pair_bounds[k + 1] - pair_bounds[k] for k in range(n_chunks)]
        rbf_parts = torch.split(rbf, p_sizes, 0)
        fcut_parts = torch.split(fcut, p_sizes, 0)
        if closed:  # no edge leaves its chunk: neighbours are chunk-local too
            xf_parts = torch.split(xf, [bounds[k + 1] - bounds[k] for k in range(n_chunks)], 0)
        else:
            xf_parts = [xf for _ in range(n_chunks)]
        parts: list[Tensor] = []
        for k in range(n_chunks):
            a, b = bounds[k], bounds[k + 1]
            s, e = edge_bounds[k], edge_bounds[k + 1]
            il = idx_i[s:e] - a
            jl = idx_j[s:e] - a if closed else idx_j[s:e]
            pl = pair_of_edge[s:e] - pair_bounds[k]
            if use_checkpoint and not torch.jit.is_scripting():
                parts.append(
                    self._checkpointed_chunk(
                        xf_parts[k], rbf_parts[k], fcut_parts[k], pl, il, jl, bias2, b - a
                    )
                )
            else:
                parts.append(
                    self.cfconv_chunk(xf_parts[k], rbf_parts[k], fcut_parts[k], pl, il, jl, bias2, b - a)
                )
        y = parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)
        return self.out2(shifted_softplus(self.out1(y)))


# schnetpack key suffix (per interaction) -> lean key suffix
_SP_INTERACTION_KEYS = {
    "in2f.weight": "in2f.weight",
    "filter_network.0.weight": "filter1.weight",
    "filter_network.0.bias": "filter1.bias",
    "filter_network.1.weight": "filter2.weight",
    "filter_network.1.bias": "filter2.bias",
    "f2out.0.weight": "out1.weight",
    "f2out.0.bias": "out1.bias",
    "f2out.1.weight": "out2.weight",
    "f2out.1.bias": "out2.bias",
}


class LeanSchNet(nn.Module):
    """SchNet representation (per-atom features), numerically equal to schnetpack's.

    Parameters
    ----------
    n_atom_basis : int, default 64
        Feature size F.
    n_interactions : int, default 3
        Number of interaction blocks.
    n_rbf : int, default 20
        Number of Gaussians, centred on ``linspace(0, cutoff, n_rbf)`` with width equal to their spacing.
    cutoff : float, default 0.6
        Cosine cutoff radius in nm (the paper's 6 Angstrom).
    max_z : int, default 100
        Largest atomic number + 1 (embedding size).
    n_filters : int, optional
        Filter size; defaults to ``n_atom_basis``.
    edge_chunk : int, default 16384
        Edges per chunk of the continuous-filter convolution (memory/speed trade-off; the
        result does not depend on it beyond float rounding).
    checkpoint : bool, default True
        Recompute each chunk's edge tensors in the backward pass instead of storing them.
        Only active in eager mode with gradients enabled.

    Notes
    -----
    ``forward(z, pos, edge_index)`` takes atomic numbers ``z`` (N,) int64, positions ``pos``
    (N, 3) in nm and ``edge_index`` (2, E) int64 (row 0 centre ``i``, row 1 neighbour ``j``,
    both directions) and returns (N, F) features. Edges need not be sorted (they are sorted
    by ``i`` internally when they are not). The module compiles with ``torch.jit.script``.
    Weights load from schnetpack with :meth:`from_schnetpack` / :meth:`load_schnetpack_state_dict`.
    """

    def __init__(
        self,
        n_atom_basis: int = 64,
        n_interactions: int = 3,
        n_rbf: int = 20,
        cutoff: float = 0.6,
        max_z: int = 100,
        n_filters: int | None = None,
        edge_chunk: int = DEFAULT_EDGE_CHUNK,
        checkpoint: bool = True,
    ):
        super().__init__()
        if (
            n_atom_basis < 1
            or n_interactions < 1
            or n_rbf < 2
            or not cutoff > 0
            or max_z < 2
            or edge_chunk < 1
        ):
            from ..errors import ConfigError

            raise ConfigError(
                f"LeanSchNet needs n_atom_basis >= 1, n_interactions >= 1, n_rbf >= 2, cutoff > 0 (nm), "
                f"max_z >= 2 and edge_chunk >= 1; got {n_atom_basis}, {n_interactions}, {n_rbf}, {cutoff}, "
                f"{max_z}, {edge_chunk}."
            )
        self.n_atom_basis = int(n_atom_basis)
        self.n_interactions = int(n_interactions)
        self.n_rbf = int(n_rbf)
        self.n_filters = int(n_filters or n_atom_basis)
        self.cutoff = float(cutoff)
        self.max_z = int(max_z)
        self.edge_chunk = int(edge_chunk)
        self.checkpoint = bool(checkpoint)
        self.embedding = nn.Embedding(self.max_z, self.n_atom_basis, padding_idx=0)
        offsets = torch.linspace(0.0, self.cutoff, self.n_rbf)
        widths = torch.abs(offsets[1] - offsets[0]) * torch.ones_like(offsets)
        self.register_buffer("offsets", offsets)
        self.register_buffer("widths", widths)
        self.interactions = nn.ModuleList(
            [
                LeanInteraction(self.n_atom_basis, self.n_rbf, self.n_filters)
                for _ in range(self.n_interactions)
            ]
        )

    def forward(self, z: Tensor, pos: Tensor, edge_index: Tensor) -> Tensor:
        """Per-atom features.

        Parameters
        ----------
        z : Tensor, shape (N,), int64
            Atomic numbers.
        pos : Tensor, shape (N, 3), float
            Positions in nm.
        edge_index : Tensor, shape (2, E), int64
            Row 0: centre ``i``; row 1: neighbour ``j``.

        Returns
        -------
        Tensor, shape (N, n_atom_basis), dtype of ``pos``
        """
        n_nodes = pos.shape[0]
        idx_i = edge_index[0]
        idx_j = edge_index[1]
        n_edges = idx_i.shape[0]
        key = idx_i * n_nodes + idx_j
        if n_edges > 1 and bool((key[1:] < key[:-1]).any()):
            order = torch.argsort(key)
            idx_i = idx_i[order]
            idx_j = idx_j[order]
            key = key[order]
        # Each unordered pair once: the filter depends only on the distance, so W_ij == W_ji.
        upper = idx_i < idx_j
        pair_key = key[upper]
        n_pairs = pair_key.shape[0]
        symmetric = False
        pair_of_edge = torch.arange(n_edges, dtype=idx_i.dtype, device=idx_i.device)
        if n_pairs > 0 and 2 * n_pairs == n_edges:
            edge_key = torch.where(upper, key, idx_j * n_nodes + idx_i)
            pos_in_pairs = torch.searchsorted(pair_key, edge_key).clamp(max=n_pairs - 1)
            if bool((pair_key[pos_in_pairs] == edge_key).all()):
                symmetric = True
                pair_of_edge = pos_in_pairs
        if symmetric:
            p_i = idx_i[upper]
            p_j = idx_j[upper]
        else:
            p_i = idx_i
            p_j = idx_j
        d = torch.norm(pos.index_select(0, p_j) - pos.index_select(0, p_i), dim=1)
        bounds = chunk_boundaries(idx_i, idx_j, n_nodes, self.edge_chunk, symmetric)
        closed = symmetric  # chunk_boundaries cut only between unconnected node ranges
        if len(bounds) > 2:
            bt = torch.tensor(bounds, dtype=idx_i.dtype, device=idx_i.device)
            edge_bounds: list[int] = torch.searchsorted(idx_i, bt).tolist()
            pair_bounds: list[int] = torch.searchsorted(p_i, bt).tolist() if symmetric else edge_bounds
        else:
            edge_bounds = [0, n_edges]
            pair_bounds = [0, p_i.shape[0]]
        use_ckpt = self.checkpoint and torch.is_grad_enabled() and self.training
        x = self.embedding(z)
        x = x.to(pos.dtype)
        rbf = gaussian_rbf(d, self.offsets.to(pos.dtype), self.widths.to(pos.dtype))  # (P, n_rbf), shared
        fcut = cosine_cutoff(d, self.cutoff)
        for interaction in self.interactions:
            x = x + interaction(
                x, rbf, fcut, pair_of_edge, idx_i, idx_j, bounds, edge_bounds, pair_bounds, closed, use_ckpt
            )
        return x

    # ----------------------------------------------------------------- schnetpack weights
    @torch.jit.unused
    def load_schnetpack_state_dict(self, state_dict) -> None:
        """Load the weights of a ``schnetpack.representation.SchNet`` (its ``state_dict()``).

        Parameters
        ----------
        state_dict : mapping of str to Tensor
            schnetpack keys: ``embedding.weight``, ``radial_basis.offsets``/``widths``,
            ``cutoff_fn.cutoff``, ``interactions.{k}.in2f.weight``,
            ``interactions.{k}.filter_network.{0,1}.{weight,bias}``, ``interactions.{k}.f2out.{0,1}.{weight,bias}``.

        Raises
        ------
        ModelFormatError
            If keys are missing, shapes differ, or the cutoff differs from ``self.cutoff``.
        """
        sd = {k: v for k, v in state_dict.items()}
        mapped = {}
        try:
            mapped["embedding.weight"] = sd["embedding.weight"]
            mapped["offsets"] = sd["radial_basis.offsets"]
            mapped["widths"] = sd["radial_basis.widths"]
            for k in range(self.n_interactions):
                for src, dst in _SP_INTERACTION_KEYS.items():
                    mapped[f"interactions.{k}.{dst}"] = sd[f"interactions.{k}.{src}"]
        except KeyError as exc:
            raise ModelFormatError(
                f"The schnetpack state dict lacks the key {exc}; it must come from "
                f"schnetpack.representation.SchNet with GaussianRBF and {self.n_interactions} interactions."
            ) from None
        if "cutoff_fn.cutoff" in sd:
            sp_cut = float(sd["cutoff_fn.cutoff"].reshape(-1)[0])
            if not math.isclose(sp_cut, self.cutoff, rel_tol=1e-6):
                raise ModelFormatError(
                    f"The schnetpack model's cutoff is {sp_cut}, this LeanSchNet's is {self.cutoff} (nm); "
                    "build LeanSchNet with the same cutoff (from_schnetpack does this)."
                )
        own = self.state_dict()
        for key, val in mapped.items():
            if tuple(own[key].shape) != tuple(val.shape):
                raise ModelFormatError(
                    f"Shape mismatch for {key}: schnetpack {tuple(val.shape)} vs lean {tuple(own[key].shape)}; "
                    "build LeanSchNet with the same n_atom_basis, n_filters, n_rbf and max_z."
                )
        self.load_state_dict(mapped, strict=True)

    @classmethod
    def from_schnetpack(cls, module, **kwargs) -> LeanSchNet:
        """Build a LeanSchNet with the architecture and weights of a schnetpack SchNet.

        Parameters
        ----------
        module : schnetpack.representation.SchNet
            Must use ``GaussianRBF`` and ``CosineCutoff`` and the shifted-softplus activation.
        **kwargs
            ``edge_chunk`` and ``checkpoint`` for the lean module.

        Returns
        -------
        LeanSchNet
            On the same device/dtype as ``module``.
        """
        from .._compat import import_schnetpack

        spk = import_schnetpack()
        if not isinstance(module, spk.representation.SchNet):
            raise ModelFormatError(
                f"from_schnetpack needs a schnetpack.representation.SchNet, got {type(module)!r}."
            )
        if not isinstance(module.radial_basis, spk.nn.GaussianRBF) or not isinstance(
            module.cutoff_fn, spk.nn.CosineCutoff
        ):
            raise ModelFormatError(
                "LeanSchNet implements SchNet with GaussianRBF and CosineCutoff only; got "
                f"{type(module.radial_basis).__name__} and {type(module.cutoff_fn).__name__}."
            )
        act = module.interactions[0].f2out[0].activation
        if act is not spk.nn.activations.shifted_softplus:
            raise ModelFormatError(
                f"LeanSchNet uses the shifted softplus activation; the module uses {act!r}."
            )
        lean = cls(
            n_atom_basis=module.n_atom_basis,
            n_interactions=len(module.interactions),
            n_rbf=module.radial_basis.n_rbf,
            cutoff=float(module.cutoff.reshape(-1)[0]),
            max_z=module.embedding.num_embeddings,
            n_filters=module.n_filters,
            **kwargs,
        )
        ref = next(module.parameters())
        lean = lean.to(device=ref.device, dtype=ref.dtype)
        lean.load_schnetpack_state_dict(module.state_dict())
        return lean
