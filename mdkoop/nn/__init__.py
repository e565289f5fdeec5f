"""mdkoop.nn: encoders that map frames of atoms to learned functions.

* :class:`~mdkoop.nn.schnet.LeanSchNet` -- SchNet, numerically equal to schnetpack's, leaner.
* :class:`~mdkoop.nn.encoders.SchNetEncoder` -- SchNet + per-atom head + pooling, ``(B, k-1)``.
* :class:`~mdkoop.nn.encoders.KoopmanLobes` -- shared or separate lobes for x_t and x_t+tau.
* :class:`~mdkoop.nn.pyg.PyGEncoder` -- adapter for torch-geometric models.
* :mod:`mdkoop.nn.testing` -- invariance checks for any encoder.
"""

from .encoders import AtomwiseHead, KoopmanLobes, SchNetEncoder, SchnetpackSchNet
from .mlp import MLPEncoder
from .pyg import PyGEncoder, RadiusInteractionGraph, pyg_schnet
from .schnet import LeanSchNet

__all__ = [
    "LeanSchNet",
    "MLPEncoder",
    "SchNetEncoder",
    "SchnetpackSchNet",
    "AtomwiseHead",
    "KoopmanLobes",
    "PyGEncoder",
    "RadiusInteractionGraph",
    "pyg_schnet",
]
