"""Export learned CVs to enhanced-sampling tools: TorchScript, PLUMED (``PYTORCH_MODEL``), OpenMM (openmm-torch).

Main entry point: :func:`export_model` (``mdkoop export`` on the command line).
"""

from .api import export_model, export_spec, remap_to_topology, spec_from_model
from .spec import FORMATS, KINDS, ExportSpec, cv_statistics, parse_cvs
from .torchscript import METADATA_NAME, CVModule, OpenMMCVModule, PlumedCVModule, read_metadata

__all__ = [
    "FORMATS",
    "KINDS",
    "METADATA_NAME",
    "ExportSpec",
    "CVModule",
    "PlumedCVModule",
    "OpenMMCVModule",
    "cv_statistics",
    "export_model",
    "export_spec",
    "parse_cvs",
    "read_metadata",
    "remap_to_topology",
    "spec_from_model",
]
