"""Loss modules with one interface: ``forward(f, g, weights=None) -> scalar``.

``f`` and ``g`` are the *learned* functions of shape (B, k-1) (no constant).
How each loss treats the constant function:

* ``lora``: prepends the constant as column 0 (fixed mode 0 of the nesting;
  its own -1 is removed, see :mod:`mdkoop.objectives.functional`).
* ``vamp1``, ``vamp2``, ``vampe``: mean removal (deeptime's convention); the
  loss is ``-(1 + ...)``, i.e. the constant's 1 is included.
* ``dpnet``, ``dpnet-relaxed``: prepends the constant as column 0.

Under ``torch.distributed`` the moment sums are all-reduced (autograd-aware),
so the loss equals the loss of the global batch; see
:mod:`mdkoop.objectives.distributed` for the gradient convention under DDP.
"""

from __future__ import annotations

import torch
from torch import nn

from mdkoop.errors import ConfigError
from mdkoop.objectives import functional as F
from mdkoop.objectives.distributed import auto_reducer
from mdkoop.registry import LOSSES, NESTINGS

__all__ = ["LoRALoss", "VAMPLoss", "DPNetLoss", "make_loss"]



class LoRALoss(nn.Module):
    """Nested LoRA loss (Jeong et al., NeurIPS 2025).

    Parameters
    ----------
    nesting : {"joint", "sequential", "none"}
    unbiased : bool
        U-statistic estimate of the quadratic term (unbiased gradients; default False,
        see :func:`mdkoop.objectives.functional.lora_loss` for the measured cost).
    n_learned : int, optional
        Number of learned functions (k-1); required with ``learn_singular_values``.
    learn_singular_values : bool
        Learn positive singular values ``s_i = softplus(theta_i)``; the encoder
        outputs are then normalised singular functions.
    distributed : {"auto", "off"}
        All-reduce moment sums under ``torch.distributed``.
    """

    def __init__(self, nesting: str = "joint", unbiased: bool = False, n_learned: int | None = None,
                 learn_singular_values: bool = False, distributed: str = "auto"):
        super().__init__()
        if nesting not in NESTINGS:
            raise ConfigError(f"unknown nesting {nesting!r}; choose one of {', '.join(NESTINGS)}.")
        self.nesting = nesting
        self.unbiased = bool(unbiased)
        self._reduce = auto_reducer(distributed)
        if learn_singular_values:
            if not n_learned or n_learned < 1:
                raise ConfigError("learn_singular_values=True needs n_learned (the number of learned functions, k-1).")
            # initial singular values descending in (0, 1)
            init = torch.linspace(0.9, 0.1, n_learned)
            self.raw_singular_values = nn.Parameter(torch.log(torch.expm1(init)))
        else:
            self.register_parameter("raw_singular_values", None)

    @property
    def singular_values(self) -> torch.Tensor | None:
        """Learned singular values (k-1,) or None."""
        if self.raw_singular_values is None:
            return None
        return nn.functional.softplus(self.raw_singular_values)

    def forward(self, f: torch.Tensor, g: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of a batch; ``f``, ``g`` (B, k-1), ``weights`` (B,) optional. Returns a scalar."""
        return F.lora_loss(f, g, nesting=self.nesting, unbiased=self.unbiased, weights=weights,
                           singular_values=self.singular_values, reduce=self._reduce)


class VAMPLoss(nn.Module):
    """Negative VAMP-r score (deeptime's definitions, ε-regularised inverses).

    Parameters
    ----------
    r : {1, 2, "E"}
    epsilon : float
    mode : {"regularize", "trunc"}
    distributed : {"auto", "off"}
    """

    def __init__(self, r="2", epsilon: float = 1e-6, mode: str = "regularize", distributed: str = "auto"):
        super().__init__()
        self.r = F._parse_r(r)
        self.epsilon = float(epsilon)
        self.mode = mode
        self._reduce = auto_reducer(distributed)

    def forward(self, f: torch.Tensor, g: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of a batch; ``f``, ``g`` (B, k-1). Returns a scalar."""
        return -F.vamp_score(f, g, r=self.r, epsilon=self.epsilon, mode=self.mode, weights=weights,
                             reduce=self._reduce)


class DPNetLoss(nn.Module):
    """Negative DPNet score (Kostic et al., ICLR 2024), optionally relaxed.

    Parameters
    ----------
    relaxed : bool
    reg : float
        Metric-distortion regularisation weight.
    epsilon : float
    distributed : {"auto", "off"}
    """

    def __init__(self, relaxed: bool = False, reg: float = 1e-2, epsilon: float = 1e-6, distributed: str = "auto"):
        super().__init__()
        self.relaxed = bool(relaxed)
        self.reg = float(reg)
        self.epsilon = float(epsilon)
        self._reduce = auto_reducer(distributed)

    def forward(self, f: torch.Tensor, g: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of a batch; ``f``, ``g`` (B, k-1). Returns a scalar."""
        return F.dpnet_loss(f, g, relaxed=self.relaxed, reg=self.reg, epsilon=self.epsilon, weights=weights,
                            reduce=self._reduce)


def make_loss(name: str, **kw) -> nn.Module:
    """Build a loss module by name.

    Parameters
    ----------
    name : {"lora", "vamp1", "vamp2", "vampe", "dpnet", "dpnet-relaxed"}
    **kw
        Passed to the module (``nesting``, ``unbiased``, ``epsilon``, ...).

    Returns
    -------
    torch.nn.Module
        ``forward(f, g, weights=None) -> scalar`` with learned ``f``, ``g`` (B, k-1).

    Raises
    ------
    ConfigError
        Unknown name or option.
    """
    key = str(name).lower().replace("_", "-")
    try:
        if key == "lora":
            return LoRALoss(**kw)
        if key in ("vamp1", "vamp2", "vampe"):
            return VAMPLoss(r=key[4:], **kw)
        if key == "dpnet":
            return DPNetLoss(relaxed=False, **kw)
        if key == "dpnet-relaxed":
            return DPNetLoss(relaxed=True, **kw)
    except TypeError as exc:
        raise ConfigError(f"invalid option for loss {name!r}: {exc}") from None
    raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}.")
