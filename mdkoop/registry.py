"""The sets of names mdkoop accepts, each defined once.

The configuration's validation, the CLI's ``choices``, the objectives, the encoders and the error messages all
read these tuples; nothing else spells them out. This module imports nothing, so the CLI can build its parser
without importing torch.
"""

from __future__ import annotations

__all__ = ["parse_vamp_r", "VAMP_SCORES", "ENCODERS", "STRUCTURAL_ENCODERS", "DESCRIPTOR_ENCODERS", "TORSIONS", "LOSSES", "NESTINGS", "SCHEDULES", "PRECISIONS", "DEVICES", "METHODS", "POOLINGS", "LOBES",
           "IMPLEMENTATIONS", "MLP_ACTIVATIONS"]

#: encoders of :class:`mdkoop.training.config.EncoderConfig` ("custom": a user's torch module)
ENCODERS = ("mlp", "schnet", "distances", "torsions", "custom")
#: encoders of atom positions (they train on a store, transform trajectories and export to PLUMED/OpenMM)
STRUCTURAL_ENCODERS = ("schnet", "distances", "torsions")
#: encoders that compute descriptors of the positions in torch and feed them to an MLP (:mod:`mdkoop.nn.descriptors`)
DESCRIPTOR_ENCODERS = ("distances", "torsions")
#: the dihedrals a "torsions" encoder can use (found by MDTraj's ``compute_<name>``)
TORSIONS = ("phi", "psi", "omega", "chi1", "chi2")
#: training objectives (:func:`mdkoop.objectives.losses.make_loss`)
LOSSES = ("lora", "vamp1", "vamp2", "vampe", "dpnet", "dpnet-relaxed")
#: nestings of the LoRA objective (:mod:`mdkoop.objectives.lora`)
NESTINGS = ("joint", "sequential", "none")
#: learning-rate schedules of training
SCHEDULES = ("converge", "cosine", "plateau", "none")
#: Lightning precisions
PRECISIONS = ("32", "bf16-mixed")
#: compute devices
DEVICES = ("auto", "cpu", "cuda")
#: estimation of the linear Koopman model after training
METHODS = ("reversible", "nonreversible")
#: pooling of SchNet's atomwise outputs
POOLINGS = ("mean", "sum", "attention")
#: one encoder for both times, or one per time
LOBES = ("shared", "separate")
#: SchNet implementations (mdkoop's lean one, numerically equal to schnetpack's, or schnetpack's own)
IMPLEMENTATIONS = ("lean", "schnetpack")
#: activations of :class:`mdkoop.nn.mlp.MLPEncoder` (the keys of ``mdkoop.nn.mlp.ACTIVATIONS``)
MLP_ACTIVATIONS = ("tanh", "silu", "relu", "elu", "gelu", "softplus")

#: the VAMP scores by name (deeptime's "VAMP1", "VAMP2", "VAMPE")
VAMP_SCORES = ("1", "2", "E")


def parse_vamp_r(r, allow_real: bool = False):
    """The VAMP score ``r`` in one spelling: ``"1"``, ``"2"`` or ``"E"``.

    Accepts ``1``, ``2``, ``"2"``, ``"vamp2"``, ``"VAMP-2"``, ``"e"``, ``"vampe"``, ... With ``allow_real``,
    any real ``r >= 1`` (Schatten norm) is accepted too and returned as a float (``"1"``/``"2"`` stay strings).

    Raises
    ------
    mdkoop.errors.ConfigError
        For any other value.
    """
    from .errors import ConfigError

    key = str(r).strip().lower().replace("vamp", "").replace("-", "")
    if key in ("1", "2", "e"):
        return key.upper()
    if allow_real:
        try:
            value = float(key)
        except ValueError:
            value = float("nan")
        if value >= 1:
            return str(int(value)) if value in (1.0, 2.0) else value
    allowed = "1, 2 (or a real number >= 1)" if allow_real else "1, 2"
    raise ConfigError(f"unknown VAMP score r={r!r}; choose {allowed} or 'E'.")
