"""mdkoop.objectives: nested LoRA, VAMP and DPNet objectives (pure torch functions and thin modules).

* :mod:`~mdkoop.objectives.moments` -- the constant column, second moments and their (all-reducible) sums;
* :mod:`~mdkoop.objectives.lora`, :mod:`~mdkoop.objectives.vamp`, :mod:`~mdkoop.objectives.dpnet` -- each
  objective's functional form and its ``nn.Module``;
* :func:`~mdkoop.objectives.losses.make_loss` -- a loss module by name.
"""

from mdkoop.objectives.dpnet import DPNetLoss, dpnet_loss
from mdkoop.objectives.lora import LoRALoss, lora_from_moments, lora_loss
from mdkoop.objectives.losses import make_loss
from mdkoop.objectives.moments import add_constant, second_moments
from mdkoop.objectives.vamp import VAMPLoss, vamp_score

__all__ = [
    "add_constant", "second_moments", "lora_from_moments", "lora_loss", "vamp_score", "dpnet_loss",
    "make_loss", "LoRALoss", "VAMPLoss", "DPNetLoss",
]
