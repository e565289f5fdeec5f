"""Batched radius graphs against scipy's cKDTree on real frames; edge cases; batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mdkoop.data.graphs import _radius_graph_dense, frames_to_batch, radius_graph, radius_graph_reference


@pytest.fixture(scope="module")
def adk_heavy(mdatests):
    import mdtraj as md

    top = md.load_topology(mdatests["psf"])
    idx = top.select("protein and not element H")
    t = md.load(mdatests["dcd"], top=top, atom_indices=idx, stride=40)  # 3 real frames, 1656 atoms
    return torch.from_numpy(t.xyz)


@pytest.fixture(scope="module")
def cln_frames(cln025_pdb):
    import mdtraj as md

    t = md.load(str(cln025_pdb))
    rng = np.random.default_rng(0)
    xyz = t.xyz[0][None] + 0.03 * rng.standard_normal((6, t.n_atoms, 3))
    heavy = t.topology.select("not element H")
    z = torch.tensor([a.element.atomic_number for a in t.topology.atoms])
    return torch.tensor(xyz, dtype=torch.float32), heavy, z


@pytest.mark.parametrize("cutoff", [0.3, 0.6, 1.0])
def test_matches_ckdtree_on_adk(adk_heavy, cutoff):
    e = radius_graph(adk_heavy, cutoff)
    ref = radius_graph_reference(adk_heavy.numpy(), cutoff)
    assert e.dtype == torch.int64 and e.shape[0] == 2 and e.shape[1] > 1000 * len(adk_heavy)
    np.testing.assert_array_equal(e.numpy(), ref)


@pytest.mark.parametrize("atoms", ["all", "heavy"])
def test_matches_ckdtree_on_cln025(cln_frames, atoms):
    pos, heavy, _ = cln_frames
    if atoms == "heavy":
        pos = pos[:, heavy].contiguous()
    for cutoff in (0.15, 0.6):
        e = radius_graph(pos, cutoff)
        np.testing.assert_array_equal(e.numpy(), radius_graph_reference(pos.numpy(), cutoff))
    # the chunking does not change the result
    np.testing.assert_array_equal(radius_graph(pos, 0.6, max_pairs_per_chunk=1).numpy(), radius_graph(pos, 0.6).numpy())


def test_identical_to_dense_exact_formula_near_cutoff():
    # a lattice with spacing == cutoff, jittered by ~1 ulp: every neighbour pair sits on the cutoff
    rng = np.random.default_rng(1)
    g = np.stack(np.meshgrid(*[np.arange(5) * 0.6] * 3, indexing="ij"), -1).reshape(-1, 3)
    for dtype in (torch.float32, torch.float64):
        p = torch.tensor(g[None] + 3.1 + 1e-7 * rng.standard_normal((8, len(g), 3)), dtype=dtype)
        e = radius_graph(p, 0.6)
        assert torch.equal(e, _radius_graph_dense(p, 0.6))
        assert 0 < e.shape[1] < 8 * len(g) * 6  # some lattice bonds in, some out


def test_edge_cases():
    # exactly at the cutoff: excluded (strict <); coincident atoms: included both ways; no self-loops
    p = torch.tensor([[[0.0, 0, 0], [0.5, 0, 0], [0.5, 0, 0], [3.0, 0, 0]]])
    e = radius_graph(p, 0.5)
    assert e.tolist() == [[1, 2], [2, 1]]
    assert radius_graph(p, 0.01).shape == (2, 2)
    full = radius_graph(p, 10.0)
    assert full.shape == (2, 12) and not (full[0] == full[1]).any()
    assert radius_graph(torch.zeros(0, 5, 3)).shape == (2, 0)
    assert radius_graph(torch.zeros(3, 1, 3)).shape == (2, 0)
    with pytest.raises(ValueError, match="shape"):
        radius_graph(torch.zeros(4, 3))
    # node numbering is frame-major
    two = torch.cat([p, p + 1.0])
    e2 = radius_graph(two, 0.5)
    assert e2.tolist() == [[1, 2, 5, 6], [2, 1, 6, 5]]


def test_frames_to_batch(cln_frames):
    pos, heavy, z = cln_frames
    B, n = pos.shape[:2]
    data = frames_to_batch(pos, z, cutoff=0.6)
    assert data.num_graphs == B
    assert data.z.shape == (B * n,) and data.pos.shape == (B * n, 3) and data.batch.shape == (B * n,)
    assert data.ptr.tolist() == list(range(0, (B + 1) * n, n))
    assert torch.equal(data.edge_index, radius_graph(pos, 0.6))
    # edges never leave their graph
    assert torch.equal(data.batch[data.edge_index[0]], data.batch[data.edge_index[1]])
    assert torch.equal(data.z[:n], z) and torch.equal(data.z[n:2 * n], z)
    # torch-geometric splits it back into the frames
    one = data.get_example(2)
    assert torch.equal(one.pos, pos[2]) and torch.equal(one.z, z)
    assert torch.equal(one.edge_index, radius_graph(pos[2:3], 0.6))
    assert len(data.to_data_list()) == B
