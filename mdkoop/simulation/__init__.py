"""mdkoop.simulation: demo data from short OpenMM simulations (CLN025, alanine dipeptide).

OpenMM is imported only when a simulation runs.
"""

from __future__ import annotations

from .openmm import SYSTEMS, SimulationResult, heavy_atom_indices, plan_steps, simulate

__all__ = ["SYSTEMS", "SimulationResult", "simulate", "plan_steps", "heavy_atom_indices"]
