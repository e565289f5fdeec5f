"""mdkoop: slow dynamics of molecules from MD trajectories.

Parametric SVD of the Koopman operator (nested LoRA objective, Jeong et al.,
NeurIPS 2025) with SchNet encoders; deeptime-compatible models; export of the
learned collective variables to PLUMED and OpenMM.

Internal units are nm and ps. The public API is re-exported here and imported
lazily, so ``import mdkoop`` is cheap.
"""

from __future__ import annotations

import importlib

from .utils.threads import prepare_openmp_environment

__version__ = "0.1.0"

# OpenMP must not spin-wait (training collapses when other processes share the cores); this can only take
# effect before torch is imported, and never overrides the user's environment (mdkoop.utils.threads).
prepare_openmp_environment()

#: public name -> module that defines it
_API = {
    # data
    "TrajectoryStore": "mdkoop.io.store",
    "prepare": "mdkoop.io.store",
    "as_position_list": "mdkoop.io.inputs",
    "TimeLaggedPairs": "mdkoop.data.pairs",
    # training and models (deeptime's Estimator/Model pattern)
    "KoopmanSVD": "mdkoop.training.estimator",
    "KoopmanModel": "mdkoop.training.model",
    "load_model": "mdkoop.training.model",
    "LinearKoopmanModel": "mdkoop.estimation.model",
    # encoders
    "SchNetEncoder": "mdkoop.nn.encoders",
    "MLPEncoder": "mdkoop.nn.mlp",
    "DescriptorEncoder": "mdkoop.nn.descriptors",
    # analysis
    "analyze_run": "mdkoop.analysis.pipeline",
    "its_vs_lag": "mdkoop.analysis.timescales",
    "ck_test_cvs": "mdkoop.analysis.cktest",
    "vamp_score_cv": "mdkoop.analysis.cross_validation",
    # export
    "export_model": "mdkoop.export.api",
    # demo data
    "simulate": "mdkoop.simulation.openmm",
    "fetch": "mdkoop.io.fetch",
    # errors
    "MdkoopError": "mdkoop.errors",
    # CPU threads
    "set_threads": "mdkoop.utils.threads",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mdkoop' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
