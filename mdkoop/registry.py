"""The sets of names mdkoop accepts, each defined once.

The configuration's validation, the CLI's ``choices``, the objectives, the encoders and the error messages all
read these tuples; nothing else spells them out. This module imports nothing, so the CLI can build its parser
without importing torch.
"""

from __future__ import annotations

__all__ = ["ENCODERS", "STRUCTURAL_ENCODERS", "DESCRIPTOR_ENCODERS", "TORSIONS", "LOSSES", "NESTINGS", "SCHEDULES", "PRECISIONS", "DEVICES", "METHODS", "POOLINGS", "LOBES",
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
#: nestings of the LoRA objective (:mod:`mdkoop.objectives.functional`)
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
POOLINGS = ("mean", "sum")
#: one encoder for both times, or one per time
LOBES = ("shared", "separate")
#: SchNet implementations (mdkoop's lean one, numerically equal to schnetpack's, or schnetpack's own)
IMPLEMENTATIONS = ("lean", "schnetpack")
#: activations of :class:`mdkoop.nn.mlp.MLPEncoder` (the keys of ``mdkoop.nn.mlp.ACTIVATIONS``)
MLP_ACTIVATIONS = ("tanh", "silu", "relu", "elu", "gelu", "softplus")
