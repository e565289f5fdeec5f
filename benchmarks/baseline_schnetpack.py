"""The baseline training pipeline, built the way the paper's official pipeline is.

* frames in an ASE database (``ase.db``, positions in Angstrom, ASE's convention);
* schnetpack's ``ASEAtomsData`` with a per-frame ``MatScipyNeighborList`` transform
  (cutoff 6 Angstrom) and ``CastTo32``, computed in ``DataLoader`` worker processes;
* batches collated with schnetpack's own atoms collate function, one batch for x_t
  and one for x_t+tau;
* schnetpack's ``PairwiseDistances`` -> ``SchNet`` (64 x 3, 20 Gaussians, cosine cutoff
  6 Angstrom) -> ``Atomwise`` head (sum aggregation / n_atoms = mean) per lobe (shared weights).

Distances are in Angstrom here (0.6 nm = 6 Angstrom): the graph, the radial basis in
units of the cutoff and hence the arithmetic are the same as mdkoop's nm pipeline.
Only used by ``bench_training.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from mdkoop._compat import import_schnetpack

NM_TO_ANG = 10.0


def build_ase_db(path: Path, z: np.ndarray, frames_nm: np.ndarray) -> Path:
    """Write frames (T, n, 3) nm into a schnetpack ASE database at ``path`` (Angstrom)."""
    from ase import Atoms

    spk = import_schnetpack()
    if path.exists():
        path.unlink()
    ds = spk.data.ASEAtomsData.create(str(path), distance_unit="Ang", property_unit_dict={})
    atoms = [Atoms(numbers=z, positions=f * NM_TO_ANG) for f in frames_nm.astype(np.float64)]
    for s in range(0, len(atoms), 500):
        ds.add_systems([{} for _ in atoms[s : s + 500]], atoms[s : s + 500])
    return path


class PairDataset(torch.utils.data.Dataset):
    """``(frame t, frame t+lag)`` as two schnetpack input dicts, neighbour lists computed on access."""

    def __init__(self, db_path: Path, pairs: np.ndarray, cutoff_ang: float = 6.0):
        spk = import_schnetpack()
        self.pairs = np.asarray(pairs, dtype=np.int64)
        self.data = spk.data.ASEAtomsData(
            str(db_path),
            load_properties=[],
            transforms=[spk.transform.MatScipyNeighborList(cutoff=cutoff_ang), spk.transform.CastTo32()],
        )

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, k):
        t, s = self.pairs[k]
        return self.data[int(t)], self.data[int(s)]


def collate_pairs(items):
    """Collate a list of ``(x_t, x_tau)`` dicts into two schnetpack batches."""
    from schnetpack.data.loader import _atoms_collate_fn  # schnetpack's own collate (as AtomsLoader)

    return _atoms_collate_fn([a for a, _ in items]), _atoms_collate_fn([b for _, b in items])


def make_loader(db_path: Path, pairs: np.ndarray, batch_size: int, num_workers: int, seed: int = 0):
    """DataLoader over :class:`PairDataset` with neighbour lists in ``num_workers`` workers."""
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        PairDataset(db_path, pairs),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=num_workers,
        collate_fn=collate_pairs,
        persistent_workers=num_workers > 0,
        prefetch_factor=2 if num_workers > 0 else None,
        generator=g,
    )


class BaselineLobe(torch.nn.Module):
    """schnetpack NeuralNetworkPotential-style model: distances -> SchNet -> Atomwise(avg)."""

    def __init__(self, n_out: int, cutoff_ang: float = 6.0):
        super().__init__()
        spk = import_schnetpack()
        self.distances = spk.atomistic.PairwiseDistances()
        self.schnet = spk.representation.SchNet(
            n_atom_basis=64,
            n_interactions=3,
            radial_basis=spk.nn.GaussianRBF(n_rbf=20, cutoff=cutoff_ang),
            cutoff_fn=spk.nn.CosineCutoff(cutoff_ang),
        )
        self.head = spk.atomistic.Atomwise(
            n_in=64, n_out=n_out, n_hidden=64, n_layers=2, aggregation_mode="sum", output_key="y"
        )
        self._n_atoms_key = spk.properties.n_atoms

    def forward(self, inputs):
        inputs = self.distances(inputs)
        inputs = self.schnet(inputs)
        # mean over atoms; schnetpack 2.0.4's "avg" mode only broadcasts for n_out == 1
        return self.head(inputs)["y"] / inputs[self._n_atoms_key].unsqueeze(1).to(torch.float32)


def worker_threads() -> None:
    """Keep DataLoader workers single-threaded (they only build neighbour lists)."""
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
