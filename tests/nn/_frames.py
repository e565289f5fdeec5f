"""Real CLN025 frames for the nn tests: the bundled folded structure plus perturbed copies."""

from __future__ import annotations

import numpy as np
import torch


def cln025_frames(pdb, n_frames: int = 4, heavy: bool = True, noise_nm: float = 0.02, seed: int = 0):
    """Atomic numbers (n,) int64 and frames (n_frames, n, 3) float32 nm of CLN025.

    Frame 0 is the deposited structure; the others add Gaussian noise of ``noise_nm``.
    """
    import mdtraj as md

    traj = md.load(str(pdb))
    idx = traj.topology.select("not element H") if heavy else np.arange(traj.n_atoms)
    z = torch.tensor([traj.topology.atom(int(i)).element.atomic_number for i in idx], dtype=torch.long)
    xyz = torch.from_numpy(np.ascontiguousarray(traj.xyz[0, idx], dtype=np.float32))
    g = torch.Generator().manual_seed(seed)
    noise = noise_nm * torch.randn(n_frames, *xyz.shape, generator=g)
    noise[0] = 0.0
    return z, xyz.unsqueeze(0) + noise


def randomize_(module: torch.nn.Module, scale: float = 0.05, seed: int = 0) -> torch.nn.Module:
    """Add noise to every parameter (biases start at zero in schnetpack; a test must see them)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype))
    return module
