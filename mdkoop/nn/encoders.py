"""Encoders: frames of atoms -> k-1 learned functions, and the lobes that use them.

* :class:`SchNetEncoder` -- SchNet representation (lean, or schnetpack's own as the
  reference), a per-atom head, an optional per-atom normalisation, and pooling over
  the atoms of each frame. Outputs ``(B, n_out)`` with ``n_out = k - 1``; the constant
  function is added by the objective.
* :class:`SchnetpackSchNet` -- ``schnetpack.representation.SchNet`` fed with mdkoop's
  radius graph; same call signature as :class:`~mdkoop.nn.schnet.LeanSchNet`.
* torch-geometric models live in :mod:`mdkoop.nn.pyg`.
* :class:`KoopmanLobes` -- one shared lobe (f = g) or separate lobes for x_t and x_t+tau.

Normalisation
-------------
``normalization="none"`` (default) or ``"layernorm"`` (a LayerNorm over the ``n_out``
head outputs of each atom, before pooling). Both act on each atom alone. The default is
``"none"`` because the LoRA objective is not scale invariant and a per-atom LayerNorm
forces the ``n_out`` functions of every atom to zero mean across modes.

``standardize_output=True`` adds a BatchNorm layer on the *pooled* outputs: in training each
function is standardised over the frames of its batch and multiplied by a learned scale; in
evaluation the running statistics are used, so the CV of a frame never depends on other
frames (``transform`` and the exported models run in evaluation mode). It puts every learned
function at the scale of the LoRA optimum from the first step (see
:meth:`SchNetEncoder.set_output_standardization`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..data.graphs import radius_graph
from ..errors import ConfigError, InputError
from ..registry import IMPLEMENTATIONS, POOLINGS
from .schnet import DEFAULT_EDGE_CHUNK, LeanSchNet, shifted_softplus

__all__ = [
    "SchNetEncoder",
    "SchnetpackSchNet",
    "AtomwiseHead",
    "KoopmanLobes",
    "apply_encoder",
    "encode_pair",
    "as_atomic_numbers",
]

_NORMS = ("none", "layernorm")


def as_atomic_numbers(atomic_numbers) -> Tensor:
    z = torch.as_tensor(atomic_numbers)
    if z.dim() != 1 or z.numel() == 0 or z.dtype.is_floating_point:
        raise InputError(
            f"atomic_numbers must be a non-empty 1-D integer array (one per atom), got shape {tuple(z.shape)} "
            f"and dtype {z.dtype}; pass e.g. store.atomic_numbers."
        )
    z = z.to(torch.long)
    if bool((z < 1).any()):
        raise InputError(
            "atomic_numbers must all be >= 1 (0 is reserved for padding); check the topology's elements."
        )
    return z


class SchnetpackSchNet(nn.Module):
    """The reference: ``schnetpack.representation.SchNet`` on mdkoop's radius graph.

    Parameters
    ----------
    n_atom_basis, n_interactions, n_rbf, cutoff, max_z, n_filters
        As :class:`~mdkoop.nn.schnet.LeanSchNet`. ``cutoff`` is in nm and positions are fed
        in nm: the GaussianRBF centres run over ``[0, cutoff]`` nm (schnetpack's own
        pipelines use Angstrom; here both implementations use nm).

    Notes
    -----
    ``forward(z (N,), pos (N, 3) nm, edge_index (2, E)) -> (N, n_atom_basis)``. The inputs
    are converted into schnetpack's dict: ``_atomic_numbers``, ``_Rij = pos[j] - pos[i]``
    (no periodic offsets), ``_idx_i``, ``_idx_j``. The wrapped module is ``self.module``.
    """

    def __init__(
        self,
        n_atom_basis: int = 64,
        n_interactions: int = 3,
        n_rbf: int = 20,
        cutoff: float = 0.6,
        max_z: int = 100,
        n_filters: int | None = None,
    ):
        super().__init__()
        from .._compat import import_schnetpack

        spk = import_schnetpack()
        self.n_atom_basis = int(n_atom_basis)
        self.cutoff = float(cutoff)
        self.module = spk.representation.SchNet(
            n_atom_basis=n_atom_basis,
            n_interactions=n_interactions,
            radial_basis=spk.nn.GaussianRBF(n_rbf=n_rbf, cutoff=cutoff),
            cutoff_fn=spk.nn.CosineCutoff(cutoff),
            n_filters=n_filters,
            max_z=max_z,
        )
        props = spk.properties
        self._keys = (props.Z, props.Rij, props.idx_i, props.idx_j)

    def forward(self, z: Tensor, pos: Tensor, edge_index: Tensor) -> Tensor:
        """Per-atom features (N, n_atom_basis); see the class notes."""
        kz, krij, ki, kj = self._keys
        idx_i, idx_j = edge_index[0], edge_index[1]
        inputs = {kz: z, krij: pos[idx_j] - pos[idx_i], ki: idx_i, kj: idx_j}
        return self.module(inputs)["scalar_representation"]


class AtomwiseHead(nn.Module):
    """Per-atom MLP ``F -> hidden... -> n_out`` with shifted-softplus activations.

    Parameters
    ----------
    n_in : int
        Input feature size.
    n_out : int
        Output size.
    hidden : sequence of int
        Hidden layer sizes (may be empty: one linear layer).
    """

    def __init__(self, n_in: int, n_out: int, hidden: Sequence[int] = (64,)):
        super().__init__()
        sizes = [int(n_in)] + [int(h) for h in hidden] + [int(n_out)]
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])

    def forward(self, x: Tensor) -> Tensor:
        """(N, n_in) -> (N, n_out)."""
        n = len(self.layers)
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k < n - 1:
                x = shifted_softplus(x)
        return x


class SchNetEncoder(nn.Module):
    """SchNet encoder: frames of one atom set -> ``(B, n_out)`` learned functions.

    Parameters
    ----------
    n_out : int
        Number of learned functions, ``k - 1`` (the constant is added by the objective).
    atomic_numbers : array_like of int, shape (n_atoms,)
        Atomic numbers of the atoms of every frame (e.g. ``store.atomic_numbers``); kept
        as the buffer ``z``.
    n_atom_basis : int, default 64
    n_interactions : int, default 3
    n_rbf : int, default 20
    cutoff : float, default 0.6
        Cutoff in nm, used both for the radius graph and the cosine cutoff.
    head_hidden : sequence of int, default (64,)
        Hidden sizes of the per-atom head.
    pooling : {"mean", "sum", "attention"}
        Pooling over the atoms of a frame.
    normalization : {"none", "layernorm"}
        Per-atom normalisation of the head outputs (see the module docstring).
    implementation : {"lean", "schnetpack"}
        ``"lean"`` (default; :class:`~mdkoop.nn.schnet.LeanSchNet`, equal to schnetpack's to 1e-5,
        TorchScript-able) or ``"schnetpack"`` (the reference).
    max_z : int, default 100
    edge_chunk : int, default 16384
        Lean implementation only: edges per chunk.
    checkpoint : bool, default True
        Lean implementation only: recompute edge tensors in backward.
    standardize_output : bool, default False
        Normalise the pooled outputs with a BatchNorm layer (batch statistics and a learned scale in
        training, running statistics in evaluation); see :meth:`set_output_standardization`. mdkoop's
        trainer builds encoders with True (:class:`~mdkoop.training.config.EncoderConfig`).

    Notes
    -----
    ``forward(z, pos, batch, edge_index, num_graphs)`` works on a flat graph batch
    (``z`` (N,), ``pos`` (N, 3) nm, ``batch`` (N,), ``edge_index`` (2, E)) and returns
    ``(num_graphs, n_out)``. ``forward_frames(pos)`` takes frames
    ``(B, n_atoms, 3)`` in nm, builds the radius graph on their device and returns
    ``(B, n_out)``. Both compile with ``torch.jit.script`` for the lean implementation.
    """

    def __init__(
        self,
        n_out: int,
        atomic_numbers,
        *,
        n_atom_basis: int = 64,
        n_interactions: int = 3,
        n_rbf: int = 20,
        cutoff: float = 0.6,
        head_hidden: Sequence[int] = (64,),
        pooling: str = "mean",
        normalization: str = "none",
        implementation: str = "lean",
        max_z: int = 100,
        edge_chunk: int = DEFAULT_EDGE_CHUNK,
        checkpoint: bool = True,
        standardize_output: bool = False,
    ):
        super().__init__()
        if int(n_out) < 1:
            raise ConfigError(f"n_out must be >= 1 (number of modes - 1), got {n_out}.")
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling={pooling!r} is not one of {POOLINGS}.")
        if normalization not in _NORMS:
            raise ConfigError(
                f"normalization={normalization!r} is not one of {_NORMS} (BatchNorm is not offered: it makes a "
                "frame's output depend on its batch)."
            )
        if normalization == "layernorm" and int(n_out) < 2:
            raise ConfigError(
                "normalization='layernorm' needs n_out >= 2 (it would zero a single output); use 'none'."
            )
        if implementation not in IMPLEMENTATIONS:
            raise ConfigError(f"implementation={implementation!r} is not one of {IMPLEMENTATIONS}.")
        z = as_atomic_numbers(atomic_numbers)
        if int(z.max()) >= max_z:
            raise InputError(f"atomic number {int(z.max())} >= max_z={max_z}; raise max_z.")
        self.n_out = int(n_out)
        self.n_atoms = int(z.numel())
        self.cutoff = float(cutoff)
        self.pooling = pooling
        self.normalization = normalization
        self.implementation = implementation
        self.register_buffer("z", z)
        if implementation == "lean":
            self.representation = LeanSchNet(
                n_atom_basis,
                n_interactions,
                n_rbf,
                cutoff,
                max_z,
                edge_chunk=edge_chunk,
                checkpoint=checkpoint,
            )
        else:
            self.representation = SchnetpackSchNet(n_atom_basis, n_interactions, n_rbf, cutoff, max_z)
        self.head = AtomwiseHead(n_atom_basis, self.n_out, head_hidden)
        self.norm = nn.LayerNorm(self.n_out) if normalization == "layernorm" else nn.Identity()
        self._mean = pooling == "mean"
        self._attention = pooling == "attention"
        # attention readout: a learned score per atom, softmax over the atoms of a frame, weighted sum
        self.gate = nn.Linear(n_atom_basis, 1) if self._attention else nn.Identity()
        # Output normalisation: BatchNorm over the frames of a batch, with a learned scale (see
        # set_output_standardization and the module docstring); identity when standardize_output is False.
        self.standardize_output = bool(standardize_output)
        self.out_norm = nn.BatchNorm1d(self.n_out) if self.standardize_output else nn.Identity()

    @torch.jit.ignore
    @torch.no_grad()
    def set_output_standardization(self, frames: Tensor, batch_size: int = 256) -> SchNetEncoder:
        """Set the output normalisation's running statistics from frames (before training).

        With ``standardize_output=True`` the pooled outputs pass through a BatchNorm layer: in training each
        function is standardised over the frames of the batch and multiplied by a learned scale ``gamma_i``
        (initially 1); in evaluation (``transform``, export) the running mean and variance are used, so a
        frame's CV never depends on other frames. The nested-LoRA optimum is ``f_i = sqrt(sigma_i) u_i`` with
        unit-variance singular functions ``u_i``: the normalisation gives every function that scale from the
        first step, and ``gamma_i**2`` learns ``sigma_i``. Without it, a fresh mean-pooled SchNet varies
        between frames by ~1/400 of that scale, LoRA's gradient for a function shrinks with its scale, and
        the first function takes over the shared layers: the others never grow (docs/dev/lora_rare_events.md).

        Parameters
        ----------
        frames : Tensor, shape (n, n_atoms, 3), float32
            Positions in nm of training frames (a few hundred spread over the data suffice).
        batch_size : int
            Frames per forward pass.

        Returns
        -------
        self
        """
        if not isinstance(self.out_norm, nn.BatchNorm1d):
            raise ConfigError("This encoder was built with standardize_output=False: it has no output normalisation.")
        if frames.dim() != 3 or frames.shape[0] < 2 or not bool(torch.isfinite(frames).all()):
            raise InputError("The output standardisation needs at least 2 finite frames of shape "
                             f"(n, {self.n_atoms}, 3) in nm; got {tuple(frames.shape)}. Check the coordinates.")
        was_training = self.training
        self.eval()
        norm, self.out_norm = self.out_norm, nn.Identity()
        try:
            dev = self.z.device
            out = torch.cat([self.forward_frames(frames[i:i + batch_size].to(dev, torch.float32))
                             for i in range(0, frames.shape[0], batch_size)]).double()
        finally:
            self.out_norm = norm
        norm.running_mean.copy_(out.mean(0).to(norm.running_mean))
        norm.running_var.copy_(out.var(0).to(norm.running_var))
        self.train(was_training)
        return self

    def config(self) -> dict:
        """JSON-able architecture description (for ``model.json``)."""
        rep = self.representation
        sp = rep.module if isinstance(rep, SchnetpackSchNet) else rep
        return {
            "encoder": "schnet",
            "n_out": self.n_out,
            "n_atoms": self.n_atoms,
            "atomic_numbers": self.z.tolist(),
            "n_atom_basis": int(sp.n_atom_basis),
            "n_interactions": len(sp.interactions),
            "n_rbf": int(rep.n_rbf) if isinstance(rep, LeanSchNet) else int(sp.radial_basis.n_rbf),
            "cutoff_nm": self.cutoff,
            "head_hidden": [layer.out_features for layer in self.head.layers[:-1]],
            "pooling": self.pooling,
            "normalization": self.normalization,
            "implementation": self.implementation,
            "standardize_output": self.standardize_output,
            "max_z": int(sp.embedding.num_embeddings),
        }

    def atom_features(self, z: Tensor, pos: Tensor, edge_index: Tensor) -> Tensor:
        """Per-atom head outputs after normalisation, (N, n_out)."""
        return self._atom_outputs(z, pos, edge_index)[0]

    def _atom_outputs(self, z: Tensor, pos: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        """Per-atom head outputs (N, n_out) and attention scores (N,) (zeros without attention pooling)."""
        h = self.representation(z, pos, edge_index)
        out = self.norm(self.head(h))
        if self._attention:
            return out, self.gate(h).squeeze(-1)
        return out, torch.zeros(h.shape[0], dtype=h.dtype, device=h.device)

    def forward(self, z: Tensor, pos: Tensor, batch: Tensor, edge_index: Tensor, num_graphs: int) -> Tensor:
        """Learned functions of a flat graph batch.

        Parameters
        ----------
        z : Tensor, shape (N,), int64
        pos : Tensor, shape (N, 3), float
            Positions in nm.
        batch : Tensor, shape (N,), int64
            Graph of each node.
        edge_index : Tensor, shape (2, E), int64
        num_graphs : int

        Returns
        -------
        Tensor, shape (num_graphs, n_out), dtype of ``pos``
        """
        h, score = self._atom_outputs(z, pos, edge_index)
        if self._attention:  # softmax of the scores over the atoms of each graph
            top = torch.full((num_graphs,), -1e30, dtype=h.dtype, device=h.device).scatter_reduce(
                0, batch, score, reduce="amax", include_self=True)
            w = torch.exp(score - top[batch])
            norm = torch.zeros(num_graphs, dtype=h.dtype, device=h.device).index_add(0, batch, w)
            h = h * (w / norm[batch]).unsqueeze(1)
        out = torch.zeros(num_graphs, h.shape[1], dtype=h.dtype, device=h.device).index_add(0, batch, h)
        if self._mean:
            counts = torch.zeros(num_graphs, dtype=h.dtype, device=h.device).index_add(
                0, batch, torch.ones_like(batch, dtype=h.dtype)
            )
            out = out / counts.clamp(min=1.0).unsqueeze(1)
        return self.out_norm(out)

    @torch.jit.export
    def forward_frames(self, pos: Tensor) -> Tensor:
        """Learned functions of frames.

        Parameters
        ----------
        pos : Tensor, shape (B, n_atoms, 3), float
            Positions in nm of the encoder's atoms.

        Returns
        -------
        Tensor, shape (B, n_out), dtype of ``pos``
        """
        if pos.dim() != 3 or pos.shape[1] != self.n_atoms or pos.shape[2] != 3:
            raise InputError(
                "forward_frames expects positions of shape (B, "
                + str(self.n_atoms)
                + ", 3) in nm, got "
                + str(pos.shape)
                + "; select the same atoms the encoder was built for."
            )
        B = pos.shape[0]
        n = self.n_atoms
        edge_index = radius_graph(pos, self.cutoff)
        z = self.z.repeat(B)
        h, score = self._atom_outputs(z, pos.reshape(B * n, 3), edge_index)
        h = h.reshape(B, n, self.n_out)
        if self._attention:
            pooled = (h * torch.softmax(score.reshape(B, n), dim=1).unsqueeze(2)).sum(dim=1)
        elif self._mean:
            pooled = h.mean(dim=1)
        else:
            pooled = h.sum(dim=1)
        return self.out_norm(pooled)



def apply_encoder(encoder: nn.Module, x: Tensor) -> Tensor:
    """Apply an encoder to a batch of frames.

    Parameters
    ----------
    encoder : torch.nn.Module
        An mdkoop encoder. Structural encoders (with a ``forward_frames`` method) get positions;
        any other module is called on ``x`` directly.
    x : Tensor, shape (B, d) or (B, n_atoms, 3), float32
        Features, or positions in nm.

    Returns
    -------
    Tensor, shape (B, n_modes - 1)
        The learned functions (without the constant).
    """
    if x.dim() == 3 and hasattr(encoder, "forward_frames"):
        return encoder.forward_frames(x)
    return encoder(x)


def encode_pair(lobe: nn.Module, lobe_tau: nn.Module | None, x_t: Tensor, x_tau: Tensor) -> tuple[Tensor, Tensor]:
    """``(f(x_t), g(x_tau))`` of a shared (``lobe_tau=None``) or separate pair of lobes.

    With a shared lobe and inputs of equal shape both halves go through the encoder as one batch of 2B (one
    graph build, one pass); the result is the same as two calls.

    Parameters
    ----------
    lobe, lobe_tau : torch.nn.Module
        Encoders of x_t and x_t+tau (``lobe_tau=None``: ``lobe`` for both).
    x_t, x_tau : Tensor, shape (B, d) or (B, n_atoms, 3)
        Features, or positions in nm.

    Returns
    -------
    (f, g) : Tensor, each shape (B, n_out)
    """
    if lobe_tau is None:
        if x_t.shape == x_tau.shape:
            out = apply_encoder(lobe, torch.cat([x_t, x_tau], dim=0))
            return out[: x_t.shape[0]], out[x_t.shape[0] :]
        return apply_encoder(lobe, x_t), apply_encoder(lobe, x_tau)
    return apply_encoder(lobe, x_t), apply_encoder(lobe_tau, x_tau)


class KoopmanLobes(nn.Module):
    """The two lobes ``f`` (for x_t) and ``g`` (for x_t+tau).

    Parameters
    ----------
    lobe : torch.nn.Module
        Encoder for x_t. Frames ``(B, n_atoms, 3)`` go through its ``forward_frames``
        when it has one (SchNet/PyG encoders); anything else through ``lobe(x)``
        (e.g. the MLP encoder on ``(B, d)`` features).
    lobe_tau : torch.nn.Module, optional
        Separate encoder for x_t+tau. ``None`` (default) shares ``lobe`` (f = g).

    Notes
    -----
    ``forward(x_t, x_tau) -> (f, g)``, each ``(B, n_out)``. With a shared lobe and inputs
    of equal shape, both halves go through the encoder as one batch of 2B (one graph
    build, one pass); the result is the same as two calls.
    """

    def __init__(self, lobe: nn.Module, lobe_tau: nn.Module | None = None):
        super().__init__()
        self.lobe = lobe
        self.lobe_tau = lobe_tau

    @property
    def shared(self) -> bool:
        """True if ``f`` and ``g`` are the same network."""
        return self.lobe_tau is None

    def forward(self, x_t: Tensor, x_tau: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(f(x_t), g(x_tau))`` (:func:`encode_pair`)."""
        return encode_pair(self.lobe, self.lobe_tau, x_t, x_tau)
