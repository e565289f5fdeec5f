"""Loss modules with one interface: ``forward(f, g, weights=None) -> scalar``.

``f`` and ``g`` are the *learned* functions of shape (B, k-1) (no constant).
How each loss treats the constant function:

* ``lora``: prepends the constant as column 0 (fixed mode 0 of the nesting;
  its own -1 is removed, see :mod:`mdkoop.objectives.lora`).
* ``vamp1``, ``vamp2``, ``vampe``: mean removal (deeptime's convention); the
  loss is ``-(1 + ...)``, i.e. the constant's 1 is included.
* ``dpnet``, ``dpnet-relaxed``: prepends the constant as column 0.

Under ``torch.distributed`` the moment sums are all-reduced (autograd-aware),
so the loss equals the loss of the global batch; see
:mod:`mdkoop.objectives.distributed` for the gradient convention under DDP.
"""

from __future__ import annotations

from torch import nn

from mdkoop.errors import ConfigError
from mdkoop.objectives.dpnet import DPNetLoss
from mdkoop.objectives.lora import LoRALoss
from mdkoop.objectives.vamp import VAMPLoss
from mdkoop.registry import LOSSES

__all__ = ["make_loss"]


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
