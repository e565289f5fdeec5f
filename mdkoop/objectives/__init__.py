"""mdkoop.objectives: nested LoRA, VAMP and DPNet objectives (pure torch functions and thin modules)."""

from mdkoop.objectives.functional import (
    add_constant,
    dpnet_loss,
    lora_from_moments,
    lora_loss,
    second_moments,
    vamp_score,
)
from mdkoop.objectives.losses import DPNetLoss, LoRALoss, VAMPLoss, make_loss

__all__ = [
    "add_constant", "second_moments", "lora_from_moments", "lora_loss", "vamp_score", "dpnet_loss",
    "make_loss", "LoRALoss", "VAMPLoss", "DPNetLoss",
]
