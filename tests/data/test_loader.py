"""PairLoader: correct values, deterministic order, exact resume, disjoint DDP shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mdkoop.data.loader import PairLoader
from mdkoop.data.pairs import TimeLaggedPairs
from mdkoop.errors import ConfigError, InputError


@pytest.fixture()
def feats():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((40, 3)).astype(np.float32), rng.standard_normal((25, 3)).astype(np.float32)]


def _all(loader, **kw):
    return [(a.clone(), b.clone()) for a, b in (loader.iter_epoch(**kw) if kw else loader)]


def test_values_are_the_lagged_frames(feats):
    pairs = TimeLaggedPairs([40, 25], 3)
    ld = PairLoader(feats, pairs, batch_size=8, shuffle=True, seed=0)
    full = np.concatenate(feats)
    seen = []
    for x, y in ld:
        assert x.dtype == torch.float32 and x.shape[1:] == (3,)
        for a, b in zip(x.numpy(), y.numpy()):
            t = int(np.flatnonzero((full == a).all(axis=1))[0])
            np.testing.assert_array_equal(full[t + 3], b)
            seen.append(t)
    assert sorted(seen) == sorted(pairs.indices[:, 0].tolist())  # every pair exactly once per epoch
    assert len(ld) == -(-len(pairs) // 8)


def test_store_source(cln_store_data):
    st = cln_store_data
    pairs = TimeLaggedPairs(st.trajectory_lengths, 2)
    ld = PairLoader(st, pairs, batch_size=4, shuffle=False)
    x, y = next(iter(ld))
    assert x.shape == (4, st.n_atoms, 3)
    np.testing.assert_array_equal(x.numpy(), st.frames(pairs.indices[:4, 0]))
    np.testing.assert_array_equal(y.numpy(), st.frames(pairs.indices[:4, 1]))


@pytest.fixture(scope="module")
def cln_store_data(tmp_path_factory, cln025_pdb):
    import mdtraj as md

    from mdkoop.io.store import prepare

    ref = md.load(str(cln025_pdb))
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("ld")
    files = []
    for k, n in enumerate((6, 9)):
        xyz = ref.xyz + 0.01 * rng.standard_normal((n, ref.n_atoms, 3)).astype(np.float32)
        t = md.Trajectory(xyz, ref.topology, time=np.arange(n) * 2.0)
        files.append(d / f"t{k}.xtc")
        t.save_xtc(str(files[-1]))
    return prepare(cln025_pdb, files, d / "store")


def test_deterministic_per_seed_and_epoch(feats):
    pairs = TimeLaggedPairs([40, 25], 1)
    a = PairLoader(feats, pairs, batch_size=7, seed=5)
    b = PairLoader(feats, pairs, batch_size=7, seed=5)
    for e in (0, 3):
        a.set_epoch(e)
        b.set_epoch(e)
        for (x1, y1), (x2, y2) in zip(_all(a), _all(b)):
            assert torch.equal(x1, x2) and torch.equal(y1, y2)
    a.set_epoch(0)
    e0 = a.order()
    a.set_epoch(1)
    assert not np.array_equal(e0, a.order())
    assert not np.array_equal(e0, PairLoader(feats, pairs, batch_size=7, seed=6).order(0))
    np.testing.assert_array_equal(PairLoader(feats, pairs, shuffle=False).order(4), np.arange(len(pairs)))


def test_skip_resumes_mid_epoch_exactly(feats):
    pairs = TimeLaggedPairs([40, 25], 2)
    ld = PairLoader(feats, pairs, batch_size=6, seed=1)
    ld.set_epoch(2)
    full = _all(ld)
    ld.skip(4)
    tail = _all(ld)
    assert len(tail) == len(full) - 4
    for (x1, y1), (x2, y2) in zip(full[4:], tail):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert len(_all(ld)) == len(full)  # the skip applies once


def test_drop_last(feats):
    pairs = TimeLaggedPairs([40, 25], 1)  # 63 pairs
    ld = PairLoader(feats, pairs, batch_size=10, drop_last=True)
    sizes = [len(x) for x, _ in ld]
    assert sizes == [10] * 6 and len(ld) == 6
    assert [len(x) for x, _ in PairLoader(feats, pairs, batch_size=10)][-1] == 3


def test_shards_are_disjoint_and_equal(feats):
    pairs = TimeLaggedPairs([40, 25], 1)  # 63 pairs
    orders = [PairLoader(feats, pairs, batch_size=5, seed=2, rank=r, world_size=4).order(1) for r in range(4)]
    assert all(len(o) == 15 for o in orders)  # 63 // 4
    cat = np.concatenate(orders)
    assert len(np.unique(cat)) == len(cat) == 60
    lens = {len(PairLoader(feats, pairs, batch_size=5, rank=r, world_size=4)) for r in range(4)}
    assert lens == {3}


def test_bad_arguments(feats):
    pairs = TimeLaggedPairs([40, 25], 1)
    with pytest.raises(InputError, match="data have 10 frames"):
        PairLoader(np.zeros((10, 3)), pairs)
    with pytest.raises(ConfigError):
        PairLoader(feats, pairs, batch_size=0)
    with pytest.raises(ConfigError):
        PairLoader(feats, pairs, rank=2, world_size=2)
    with pytest.raises(InputError):
        PairLoader(feats, np.zeros((0, 2), dtype=np.int64))
