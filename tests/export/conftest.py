"""Fixtures of the export tests: real adenylate-kinase frames and a stand-in CV spec on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mdkoop.export import ExportSpec
from mdkoop.export.torchscript import GraphEncoderFeatures

from ._standin import StandInEncoder, reference_features

N_FRAMES = 6


@pytest.fixture(scope="session")
def adk_frames(mdatests):
    """Real frames of adenylate kinase (CHARMM PSF/DCD): whole system (T, 3341, 3) nm, CA indices, names, Z."""
    import warnings

    import MDAnalysis as mda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(mdatests["psf"], mdatests["dcd"])
        ca = u.select_atoms("name CA")
        xyz = np.stack([u.atoms.positions.copy() for _ in u.trajectory[:N_FRAMES]]) / 10.0  # Angstrom -> nm
    return {
        "xyz": xyz.astype(np.float32),
        "indices": ca.indices.astype(np.int64),
        "names": [str(n) for n in ca.names],
        "z": np.full(len(ca), 6, dtype=np.int64),
    }


@pytest.fixture(scope="session")
def standin(adk_frames):
    """A stand-in encoder on the ADK CA atoms, its ExportSpec (5 CVs) and a reference transform."""
    torch.manual_seed(7)
    cutoff = 0.8
    enc = StandInEncoder(n_out=4, cutoff=cutoff).eval()
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(4, 5))
    bias = rng.normal(size=5)
    idx = adk_frames["indices"]
    sel = adk_frames["xyz"][:, idx]

    def transform(pos):  # (T, n, 3) -> (T, 5), the reference CVs
        return reference_features(enc, adk_frames["z"], pos, cutoff) @ weight + bias

    samples = [transform(sel[:3]), transform(sel[3:])]
    spec = ExportSpec(
        features=GraphEncoderFeatures(enc, adk_frames["z"], cutoff), weight=weight, bias=bias, kind="singular",
        atom_indices=idx, atom_names=adk_frames["names"], atomic_numbers=adk_frames["z"], cutoff_nm=cutoff,
        lagtime_frames=2, lagtime_ps=2.0, timestep_ps=1.0, values=np.linspace(0.9, 0.5, 5),
        timescales_ps=np.linspace(20, 5, 5), samples=samples,
    )
    return {"spec": spec, "transform": transform, "sel": sel}
