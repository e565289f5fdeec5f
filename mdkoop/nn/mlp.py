"""MLPEncoder: a small multilayer perceptron for plain feature arrays (distances, dihedrals, ...)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from mdkoop.errors import ConfigError, InputError

__all__ = ["MLPEncoder", "ACTIVATIONS"]

ACTIVATIONS = {
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
}


class MLPEncoder(nn.Module):
    """Multilayer perceptron ``(B, n_in) -> (B, n_out)`` with input standardisation.

    Inputs are standardised with the buffers ``in_mean`` / ``in_std`` (identity
    until :meth:`set_standardization` is called with data), then passed through
    ``Linear -> activation`` blocks and a final ``Linear``. TorchScript-able.

    Parameters
    ----------
    n_in : int
        Input feature dimension d.
    n_out : int
        Number of learned functions (``n_modes - 1``; the constant is added by the objective).
    hidden : sequence of int
        Widths of the hidden layers (default (64, 64)).
    activation : {"silu", "tanh", "relu", "elu", "gelu", "softplus"}
        Default ``"silu"`` (smooth, for smooth eigenfunctions).
    """

    def __init__(self, n_in: int, n_out: int, hidden: Sequence[int] = (64, 64), activation: str = "silu"):
        super().__init__()
        if int(n_in) < 1 or int(n_out) < 1:
            raise ConfigError(f"MLPEncoder needs n_in >= 1 and n_out >= 1; got n_in={n_in}, n_out={n_out}.")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}.")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.hidden = tuple(int(h) for h in hidden)
        self.activation = activation
        layers = []
        width = self.n_in
        for h in self.hidden:
            if h < 1:
                raise ConfigError(f"hidden layer widths must be positive; got {tuple(hidden)}.")
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            width = h
        layers.append(nn.Linear(width, self.n_out))
        self.net = nn.Sequential(*layers)
        self.register_buffer("in_mean", torch.zeros(self.n_in))
        self.register_buffer("in_std", torch.ones(self.n_in))

    @torch.jit.ignore
    def set_standardization(self, x) -> MLPEncoder:
        """Set the input mean/std buffers from data.

        Parameters
        ----------
        x : array-like (n, n_in) or list of such arrays
            Training inputs. Constant columns keep std 1.

        Returns
        -------
        self
        """
        if isinstance(x, (list, tuple)):
            x = np.concatenate([np.asarray(a, dtype=np.float64).reshape(len(a), -1) for a in x])
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_in or x.shape[0] < 1:
            raise InputError(f"standardisation data must have shape (n, {self.n_in}); got {x.shape}.")
        std = x.std(0)
        std[std < 1e-12] = 1.0
        self.in_mean.copy_(torch.as_tensor(x.mean(0), dtype=self.in_mean.dtype))
        self.in_std.copy_(torch.as_tensor(std, dtype=self.in_std.dtype))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map inputs (B, n_in) to learned functions (B, n_out)."""
        if x.dim() != 2 or x.shape[1] != self.n_in:
            raise ValueError("MLPEncoder expects input of shape (batch, n_in)")
        return self.net((x - self.in_mean) / self.in_std)
