"""LeanSchNet equals schnetpack's SchNet (same weights -> same outputs and gradients)."""

from __future__ import annotations

import pytest
import torch

from mdkoop.data.graphs import radius_graph
from mdkoop.errors import ModelFormatError
from mdkoop.nn.encoders import SchnetpackSchNet
from mdkoop.nn.schnet import LeanSchNet, chunk_boundaries, cosine_cutoff, gaussian_rbf

from ._frames import cln025_frames, randomize_

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def _pair(dtype, **lean_kw):
    ref = randomize_(SchnetpackSchNet()).to(dtype)
    lean = LeanSchNet.from_schnetpack(ref.module, **lean_kw)
    return ref, lean


def _flat(z, frames, dtype):
    B, n, _ = frames.shape
    pos = frames.to(dtype)
    return z.repeat(B), pos.reshape(B * n, 3), radius_graph(pos, 0.6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("heavy", [True, False], ids=["heavy", "all-atoms"])
def test_lean_equals_schnetpack_features(cln025_pdb, dtype, heavy):
    z, frames = cln025_frames(cln025_pdb, n_frames=3, heavy=heavy)
    ref, lean = _pair(dtype, edge_chunk=1000)  # several chunks per batch
    zz, pos, ei = _flat(z, frames, dtype)
    assert ei.shape[1] > 3 * 1000  # really chunked
    with torch.no_grad():
        a = ref(zz, pos, ei)
        b = lean(zz, pos, ei)
    assert a.dtype == b.dtype == dtype and a.shape == b.shape == (pos.shape[0], 64)
    assert a.abs().max() > 0.5  # non-trivial features
    torch.testing.assert_close(b, a, atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("checkpoint", [True, False])
def test_lean_gradients_equal_schnetpack(cln025_pdb, checkpoint):
    """Gradients w.r.t. positions and weights match (float64), with checkpointed chunks."""
    z, frames = cln025_frames(cln025_pdb, n_frames=2, heavy=True)
    ref, lean = _pair(torch.float64, edge_chunk=2048, checkpoint=checkpoint)
    lean.train()
    zz, pos, ei = _flat(z, frames, torch.float64)
    pa = pos.clone().requires_grad_(True)
    pb = pos.clone().requires_grad_(True)
    la = ref(zz, pa, ei).square().mean()
    lb = lean(zz, pb, ei).square().mean()
    la.backward()
    lb.backward()
    torch.testing.assert_close(pb.grad, pa.grad, atol=1e-9, rtol=1e-9)
    sp = ref.module.interactions[1]
    ln = lean.interactions[1]
    torch.testing.assert_close(ln.filter1.weight.grad, sp.filter_network[0].weight.grad, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(ln.in2f.weight.grad, sp.in2f.weight.grad, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(
        lean.embedding.weight.grad, ref.module.embedding.weight.grad, atol=1e-9, rtol=1e-9
    )


def test_edge_order_and_chunk_size_do_not_matter(cln025_pdb):
    z, frames = cln025_frames(cln025_pdb, n_frames=2, heavy=True)
    zz, pos, ei = _flat(z, frames, torch.float64)
    lean = randomize_(LeanSchNet(edge_chunk=10**9)).double().eval()
    with torch.no_grad():
        ref = lean(zz, pos, ei)
        lean.edge_chunk = 777
        chunked = lean(zz, pos, ei)
        perm = torch.randperm(ei.shape[1], generator=torch.Generator().manual_seed(3))
        shuffled = lean(zz, pos, ei[:, perm])
    torch.testing.assert_close(chunked, ref, atol=1e-10, rtol=0)
    torch.testing.assert_close(shuffled, ref, atol=1e-10, rtol=0)


def test_chunk_boundaries_cover_all_nodes():
    idx_i = torch.tensor([0, 0, 1, 3, 3, 3, 4, 7, 7, 8])
    idx_j = torch.tensor([1, 2, 0, 4, 5, 6, 3, 8, 9, 7])
    b = chunk_boundaries(idx_i, idx_j, 10, 3, False)
    assert b[0] == 0 and b[-1] == 10 and all(x < y for x, y in zip(b[:-1], b[1:], strict=True))
    assert chunk_boundaries(idx_i, idx_j, 10, 100, False) == [0, 10]
    closed = chunk_boundaries(idx_i, idx_j, 10, 3, True)
    assert closed[0] == 0 and closed[-1] == 10 and len(closed) > 2
    for cut in closed[1:-1]:  # no edge crosses a closed cut
        assert not bool((((idx_i < cut) & (idx_j >= cut)) | ((idx_i >= cut) & (idx_j < cut))).any())


def test_asymmetric_graph_falls_back_and_stays_equal(cln025_pdb):
    """A directed (non-symmetric) edge list gives schnetpack's result too (no pair sharing)."""
    z, frames = cln025_frames(cln025_pdb, n_frames=2, heavy=True)
    ref, lean = _pair(torch.float64, edge_chunk=500)
    zz, pos, ei = _flat(z, frames, torch.float64)
    keep = torch.ones(ei.shape[1], dtype=torch.bool)
    keep[::7] = False
    ei = ei[:, keep]
    with torch.no_grad():
        torch.testing.assert_close(lean(zz, pos, ei), ref(zz, pos, ei), atol=1e-10, rtol=0)


def test_radial_functions_known_values():
    d = torch.tensor([0.0, 0.3, 0.6, 0.7], dtype=torch.float64)
    fc = cosine_cutoff(d, 0.6)
    torch.testing.assert_close(
        fc, torch.tensor([1.0, 0.5, 0.0, 0.0], dtype=torch.float64), atol=1e-12, rtol=0
    )
    offsets = torch.linspace(0, 0.6, 20, dtype=torch.float64)
    widths = torch.full_like(offsets, 0.6 / 19)
    rbf = gaussian_rbf(d, offsets, widths)
    assert rbf.shape == (4, 20)
    torch.testing.assert_close(rbf[:, 0], torch.exp(-0.5 * (d / (0.6 / 19)) ** 2))
    assert torch.allclose(rbf[2, -1], torch.tensor(1.0, dtype=torch.float64))


def test_load_state_dict_refusals():
    ref = SchnetpackSchNet(cutoff=0.5)
    lean = LeanSchNet(cutoff=0.6)
    with pytest.raises(ModelFormatError, match="cutoff"):
        lean.load_schnetpack_state_dict(ref.module.state_dict())
    sd = SchnetpackSchNet().module.state_dict()
    del sd["interactions.2.in2f.weight"]
    with pytest.raises(ModelFormatError, match="interactions.2.in2f.weight"):
        LeanSchNet().load_schnetpack_state_dict(sd)
    with pytest.raises(ModelFormatError, match="Shape mismatch"):
        LeanSchNet(n_atom_basis=32).load_schnetpack_state_dict(SchnetpackSchNet().module.state_dict())
    with pytest.raises(ModelFormatError):
        LeanSchNet.from_schnetpack(torch.nn.Linear(2, 2))


def test_lean_schnet_scripts(cln025_pdb):
    z, frames = cln025_frames(cln025_pdb, n_frames=2, heavy=True)
    lean = randomize_(LeanSchNet(edge_chunk=3000)).eval()
    scripted = torch.jit.script(lean)
    zz, pos, ei = _flat(z, frames, torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(scripted(zz, pos, ei), lean(zz, pos, ei), atol=1e-6, rtol=0)
