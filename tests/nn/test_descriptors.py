"""Descriptor encoders: the descriptors against MDTraj on real frames, invariances, TorchScript, config."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from mdkoop.errors import ConfigError
from mdkoop.nn.descriptors import DescriptorEncoder, dihedrals, pair_distances, rational_switch
from mdkoop.nn.testing import assert_invariant
from mdkoop.training.config import EncoderConfig


@pytest.fixture(scope="module")
def sample_traj():
    import mdtraj as md

    from mdkoop.resources import resource_path

    d = resource_path("sample")
    return md.load(str(d / "trajectory.xtc"), top=str(d / "topology.pdb"))[::25]  # 15 frames of CLN025, heavy atoms


def test_pair_distances_match_mdtraj(sample_traj):
    import mdtraj as md

    ca = sample_traj.topology.select("name CA")
    i, j = np.triu_indices(len(ca), 1)
    pairs = np.stack([ca[i], ca[j]], 1)
    ref = md.compute_distances(sample_traj, pairs)
    got = pair_distances(torch.tensor(sample_traj.xyz, dtype=torch.float64), torch.tensor(pairs)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-6)


@pytest.mark.parametrize("name", ["phi", "psi", "chi1"])
def test_dihedrals_match_mdtraj(sample_traj, name):
    import mdtraj as md

    quads, ref = getattr(md, f"compute_{name}")(sample_traj)
    got = dihedrals(torch.tensor(sample_traj.xyz, dtype=torch.float64), torch.tensor(quads)).numpy()
    diff = np.angle(np.exp(1j * (got - ref)))  # compare on the circle
    assert quads.shape[0] >= 8 and np.abs(diff).max() < 1e-5


def test_rational_switch_known_values():
    d = torch.tensor([0.0, 0.5, 1.0, 2.0], dtype=torch.float64)
    s = rational_switch(d, 1.0).numpy()
    x = d.numpy()
    np.testing.assert_allclose(s, [1.0, 1 / (1 + 0.5**6), 0.5, 1 / 65])
    y = x[x != 1.0]  # PLUMED's rational form (1 - x^6) / (1 - x^12), away from its removable singularity
    np.testing.assert_allclose(s[x != 1.0], (1 - y**6) / (1 - y**12))


@pytest.mark.parametrize("kind,width", [("distances", 2), ("torsions", 4)])
def test_invariant_to_rigid_motions_and_scriptable(sample_traj, kind, width):
    import mdtraj as md

    top = sample_traj.topology
    if kind == "distances":
        index = np.array([[a, b] for a in range(0, 40, 5) for b in range(60, 90, 7)])
    else:
        index = md.compute_psi(sample_traj)[0]
    torch.manual_seed(0)
    enc = DescriptorEncoder(kind, index, top.n_atoms, 3, hidden=(16,)).eval()
    frames = torch.tensor(sample_traj.xyz)
    enc.set_standardization(frames)
    d = enc.descriptors(frames).double()
    assert torch.allclose(d.mean(0), enc.mlp.in_mean.double(), atol=1e-5)  # standardised with these frames
    out = assert_invariant(enc, frames, atol=2e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(enc)
    np.testing.assert_allclose(scripted.forward_frames(frames).detach().numpy(), out.detach().numpy(), atol=1e-6)
    assert index.shape[1] == width and enc.n_descriptors == len(index) * (2 if kind == "torsions" else 1)


def test_refusals():
    with pytest.raises(ConfigError, match="itself"):
        DescriptorEncoder("distances", [[1, 1]], 4, 2)
    with pytest.raises(ConfigError, match=r"lie in \[0, 4\)"):
        DescriptorEncoder("distances", [[0, 4]], 4, 2)
    with pytest.raises(ConfigError, match=r"\(n, 4\)"):
        DescriptorEncoder("torsions", [[0, 1, 2]], 4, 2)
    with pytest.raises(ConfigError, match="torsion"):
        EncoderConfig(kind="torsions", torsions=("phi", "kappa"))
    with pytest.raises(ConfigError, match="contact-r0"):
        EncoderConfig(kind="distances", contact_r0=-1.0)


def test_config_round_trip_keeps_the_index():
    cfg = EncoderConfig(kind="distances", n_in=3, pairs=((0, 5), (2, 9), (4, 7)), index=((0, 3), (1, 5), (2, 4)),
                        contact_r0=0.8)
    back = EncoderConfig.from_json(cfg.to_json())
    assert back == cfg and back.index == ((0, 3), (1, 5), (2, 4))
