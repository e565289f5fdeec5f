"""SchNetEncoder, lobes, PyG adapter, TorchScript round trip and the invariance helpers."""

from __future__ import annotations

import json

import pytest
import torch

from mdkoop.data.graphs import frames_to_batch, radius_graph_reference
from mdkoop.errors import ConfigError, InputError
from mdkoop.nn import KoopmanLobes, PyGEncoder, SchNetEncoder, pyg_schnet
from mdkoop.nn.pyg import RadiusInteractionGraph
from mdkoop.nn.testing import assert_invariant, random_rotation

from ._frames import cln025_frames, randomize_


@pytest.fixture(scope="module")
def heavy(cln025_pdb):
    return cln025_frames(cln025_pdb, n_frames=4, heavy=True)


def _encoder(z, **kw):
    torch.manual_seed(0)
    return randomize_(SchNetEncoder(6, z, **kw)).eval()


@pytest.mark.parametrize("heavy_atoms", [True, False], ids=["heavy", "all-atoms"])
def test_lean_encoder_equals_schnetpack_encoder(cln025_pdb, heavy_atoms):
    z, frames = cln025_frames(cln025_pdb, n_frames=3, heavy=heavy_atoms)
    ref = _encoder(z, implementation="schnetpack")
    lean = SchNetEncoder(6, z, edge_chunk=2000).eval()
    lean.representation.load_schnetpack_state_dict(ref.representation.module.state_dict())
    lean.head.load_state_dict(ref.head.state_dict())
    with torch.no_grad():
        a, b = ref.forward_frames(frames), lean.forward_frames(frames)
    assert a.shape == (3, 6) and a.dtype == torch.float32
    assert a.std(0).min() > 1e-3  # outputs vary across frames
    torch.testing.assert_close(b, a, atol=1e-5, rtol=0)


def test_flat_forward_equals_forward_frames_and_pooling(heavy):
    z, frames = heavy
    enc = _encoder(z, pooling="mean")
    data = frames_to_batch(frames, z, 0.6)
    with torch.no_grad():
        flat = enc(data.z, data.pos, data.batch, data.edge_index, data.num_graphs)
        fr = enc.forward_frames(frames)
        torch.testing.assert_close(flat, fr, atol=1e-6, rtol=0)
        enc._mean = False
        summed = enc.forward_frames(frames)
    torch.testing.assert_close(summed, fr * len(z), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("normalization", ["none", "layernorm"])
def test_encoder_invariance(heavy, normalization):
    z, frames = heavy
    enc = _encoder(z, normalization=normalization)
    out = assert_invariant(enc, frames, atol=1e-5, n_rotations=2)
    assert out.shape == (4, 6)
    if normalization == "layernorm":
        # per-atom LayerNorm without affine shift would give zero-mean rows; with the learned
        # (randomized) affine parameters the output still depends on the frame
        assert out.std(0).min() > 1e-4


def test_invariance_helper_detects_violations(heavy):
    z, frames = heavy

    class UsesAbsolutePositions(torch.nn.Module):
        def forward_frames(self, pos):
            return pos.mean(dim=1)[:, :2]

    class BatchCoupled(torch.nn.Module):
        def forward_frames(self, pos):
            r = pos - pos.mean(1, keepdim=True)
            per_frame = r.norm(dim=-1).mean(1, keepdim=True)
            return torch.cumsum(per_frame, 0)  # row b depends on frames 0..b

    with pytest.raises(AssertionError, match="rotation"):
        assert_invariant(UsesAbsolutePositions(), frames, checks=("rotation",))
    with pytest.raises(AssertionError, match="translation"):
        assert_invariant(UsesAbsolutePositions(), frames, checks=("translation",))
    assert_invariant(BatchCoupled(), frames, checks=("rotation", "translation"))
    with pytest.raises(AssertionError, match="permutation"):
        assert_invariant(BatchCoupled(), frames, checks=("permutation",))
    with pytest.raises(InputError):
        assert_invariant(UsesAbsolutePositions(), frames[0])


def test_random_rotation_is_proper():
    g = torch.Generator().manual_seed(5)
    for _ in range(5):
        r = random_rotation(g)
        torch.testing.assert_close(r @ r.T, torch.eye(3, dtype=torch.float64), atol=1e-12, rtol=0)
        assert abs(float(torch.det(r)) - 1.0) < 1e-12


def test_sub_batch_outputs_equal_full_batch(heavy):
    """No cross-talk between frames: encoding frames alone gives the batch's rows."""
    z, frames = heavy
    enc = _encoder(z)
    with torch.no_grad():
        full = enc.forward_frames(frames)
        parts = torch.cat([enc.forward_frames(frames[i : i + 1]) for i in range(len(frames))])
    torch.testing.assert_close(parts, full, atol=1e-5, rtol=0)


def test_torchscript_round_trip(heavy, tmp_path):
    z, frames = heavy
    enc = _encoder(z)
    scripted = torch.jit.script(enc)
    path = tmp_path / "enc.pt"
    scripted.save(str(path))
    loaded = torch.jit.load(str(path))
    pa = frames.clone().requires_grad_(True)
    pb = frames.clone().requires_grad_(True)
    a = enc.forward_frames(pa)
    b = loaded.forward_frames(pb)
    torch.testing.assert_close(b, a, atol=1e-6, rtol=0)
    ga, gb = torch.autograd.grad(a.sum(), pa)[0], torch.autograd.grad(b.sum(), pb)[0]
    assert ga.abs().max() > 1e-3
    torch.testing.assert_close(gb, ga, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(loaded.z, z)


def test_training_mode_checkpointing_gives_same_gradients(heavy):
    z, frames = heavy
    enc = _encoder(z, edge_chunk=1500).double()
    x = frames.double()
    grads = []
    for ckpt in (True, False):
        enc.zero_grad()
        enc.representation.checkpoint = ckpt
        enc.train()
        enc.forward_frames(x).square().sum().backward()
        grads.append([p.grad.clone() for p in enc.parameters()])
    for ga, gb in zip(*grads):
        torch.testing.assert_close(ga, gb, atol=1e-10, rtol=1e-10)


def test_lobes_shared_and_separate(heavy):
    z, frames = heavy
    f_enc = _encoder(z)
    shared = KoopmanLobes(f_enc)
    assert shared.shared
    with torch.no_grad():
        f, g = shared(frames[:2], frames[2:])
        torch.testing.assert_close(f, f_enc.forward_frames(frames[:2]), atol=1e-5, rtol=0)
        torch.testing.assert_close(g, f_enc.forward_frames(frames[2:]), atol=1e-5, rtol=0)
        f2, g2 = shared(frames[:2], frames[:2])
        torch.testing.assert_close(f2, g2, atol=0, rtol=0)
        torch.manual_seed(1)
        sep = KoopmanLobes(f_enc, SchNetEncoder(6, z).eval())
        assert not sep.shared
        f3, g3 = sep(frames[:2], frames[:2])
        torch.testing.assert_close(f3, f2, atol=1e-5, rtol=0)
        assert (f3 - g3).abs().max() > 1e-3  # different networks


def test_lobes_with_mlp_encoder():
    from mdkoop.nn.mlp import MLPEncoder

    x = torch.randn(8, 5)
    y = torch.randn(8, 5)
    mlp = MLPEncoder(5, 3)
    f, g = KoopmanLobes(mlp)(x, y)
    assert f.shape == g.shape == (8, 3)
    torch.testing.assert_close(f, mlp(x))
    torch.testing.assert_close(g, mlp(y))


def test_pyg_schnet_adapter(heavy):
    z, frames = heavy
    torch.manual_seed(0)
    model = pyg_schnet(4, len(z), cutoff=0.6)
    enc = PyGEncoder(model, z).eval()
    out = assert_invariant(enc, frames, atol=1e-5, n_rotations=1)
    assert out.shape == (4, 4) and out.std(0).min() > 0
    data = frames_to_batch(frames, z, 0.6)
    with torch.no_grad():
        torch.testing.assert_close(
            enc(data.z, data.pos, data.batch, data.edge_index, 4), out, atol=1e-6, rtol=0
        )
    # the interaction graph is mdkoop's radius graph in PyG's (source, target) orientation
    ig = RadiusInteractionGraph(0.6, len(z))
    ei, w = ig(frames.reshape(-1, 3), data.batch)
    ref = torch.from_numpy(radius_graph_reference(frames.numpy(), 0.6))
    assert set(map(tuple, ei.T.tolist())) == set(map(tuple, ref.T.tolist()))
    assert float(w.max()) < 0.6
    with pytest.raises(InputError):
        ig(frames.reshape(-1, 3)[:-1], None)


def test_encoder_refusals_and_config(heavy):
    z, frames = heavy
    with pytest.raises(ConfigError, match="pooling"):
        SchNetEncoder(3, z, pooling="max")
    with pytest.raises(ConfigError, match="BatchNorm"):
        SchNetEncoder(3, z, normalization="batchnorm")
    with pytest.raises(ConfigError, match="layernorm"):
        SchNetEncoder(1, z, normalization="layernorm")
    with pytest.raises(ConfigError, match="implementation"):
        SchNetEncoder(3, z, implementation="fast")
    with pytest.raises(InputError, match="atomic_numbers"):
        SchNetEncoder(3, [[1, 6]])
    with pytest.raises(InputError, match=">= 1"):
        SchNetEncoder(3, [0, 6])
    enc = SchNetEncoder(3, z)
    with pytest.raises(InputError, match="same atoms"):
        enc.forward_frames(frames[:, :-1])
    cfg = enc.config()
    assert json.loads(json.dumps(cfg))["n_atoms"] == len(z)
    assert cfg["cutoff_nm"] == 0.6 and cfg["n_rbf"] == 20 and cfg["n_interactions"] == 3
    assert SchNetEncoder(3, z, implementation="schnetpack").config()["n_atom_basis"] == 64


def test_output_standardization_is_batchnorm_on_pooled_outputs_and_travels_with_the_weights(cln025_pdb):
    z, frames = cln025_frames(cln025_pdb, n_frames=12, heavy=True)
    torch.manual_seed(0)
    plain = randomize_(SchNetEncoder(6, z)).eval()
    enc = SchNetEncoder(6, z, standardize_output=True).eval()
    enc.load_state_dict({**enc.state_dict(), **plain.state_dict()})  # same SchNet and head weights
    with torch.no_grad():
        raw = plain.forward_frames(frames)
    assert raw.std(0).max() < 0.2  # mean pooling: a fresh encoder barely varies between frames
    enc.set_output_standardization(frames, batch_size=5)  # batches must not change the statistics
    norm = enc.out_norm
    torch.testing.assert_close(norm.running_mean, raw.mean(0), atol=1e-6, rtol=0)
    torch.testing.assert_close(norm.running_var, raw.var(0), atol=1e-8, rtol=1e-4)
    with torch.no_grad():
        out = enc.forward_frames(frames)  # evaluation: running statistics, frame by frame
        one = torch.cat([enc.forward_frames(frames[i:i + 1]) for i in range(len(frames))])
        data = frames_to_batch(frames, z, 0.6)
        flat = enc(data.z, data.pos, data.batch, data.edge_index, data.num_graphs)
    expect = (raw - raw.mean(0)) / torch.sqrt(raw.var(0) + norm.eps)
    torch.testing.assert_close(out, expect, atol=2e-3, rtol=1e-3)
    torch.testing.assert_close(one, out, atol=5e-4, rtol=0)  # a frame's CV does not depend on its batch
    torch.testing.assert_close(flat, out, atol=5e-4, rtol=0)
    assert_invariant(enc, frames[:3], atol=2e-3)
    # training mode: standardised over the batch, times the learned scale (1 at the start)
    enc.train()
    b = enc.forward_frames(frames)
    torch.testing.assert_close(b.mean(0), torch.zeros(6), atol=1e-4, rtol=0)
    assert float(b.std(0).min()) > 0.5
    enc.eval()
    # the statistics are part of the state dict, and the scripted encoder uses them
    fresh = SchNetEncoder(6, z, standardize_output=True)
    fresh.load_state_dict(enc.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval().forward_frames(frames), out, atol=1e-4, rtol=0)
    scripted = torch.jit.script(enc)
    torch.testing.assert_close(scripted.forward_frames(frames), out, atol=5e-4, rtol=0)
    assert enc.config()["standardize_output"] is True
    with pytest.raises(InputError, match="at least 2 finite frames"):
        enc.set_output_standardization(frames[:1])
    with pytest.raises(ConfigError, match="standardize_output=False"):
        plain.set_output_standardization(frames)


def test_attention_readout_graph_and_frame_paths_agree_and_are_invariant():
    """Attention pooling: the graph batch and the dense frames give the same outputs; rigid motions do not
    change them; TorchScript keeps them; a frame's output does not depend on the other frames of its batch."""
    import warnings

    from mdkoop.data.graphs import radius_graph
    from mdkoop.nn.testing import assert_invariant

    torch.manual_seed(0)
    z = torch.tensor([6, 7, 8, 6, 6, 1, 1, 8])
    enc = SchNetEncoder(3, z, pooling="attention", n_atom_basis=16, n_interactions=2).eval()
    x = torch.randn(5, 8, 3) * 0.3
    frames = enc.forward_frames(x)
    batch = torch.arange(5).repeat_interleave(8)
    graphs = enc(z.repeat(5), x.reshape(40, 3), batch, radius_graph(x, enc.cutoff), 5)
    assert torch.allclose(frames, graphs, atol=1e-6)
    assert_invariant(enc, x, atol=1e-5)
    assert torch.allclose(enc.forward_frames(x[2:3]), frames[2:3], atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert torch.allclose(torch.jit.script(enc).forward_frames(x), frames, atol=1e-6)
    # the readout is a convex combination of the per-atom outputs: within their range, frame by frame
    h = enc.atom_features(z.repeat(5), x.reshape(40, 3), radius_graph(x, enc.cutoff)).reshape(5, 8, 3)
    assert bool((frames <= h.max(1).values + 1e-6).all() and (frames >= h.min(1).values - 1e-6).all())
