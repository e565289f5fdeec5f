"""Time-lagged pairs never cross boundaries; splits never leak."""

from __future__ import annotations

import numpy as np
import pytest

from mdkoop.data.pairs import Segment, TimeLaggedPairs, offsets_from_lengths, split_segments
from mdkoop.errors import ConfigError, LagError


def _owner(idx, offsets):
    return np.searchsorted(offsets, idx, side="right") - 1


@pytest.mark.parametrize("trial", range(25))
def test_pairs_never_cross_trajectories_random_lengths(trial):
    rng = np.random.default_rng(trial)
    lengths = rng.integers(0, 40, size=rng.integers(1, 8))
    lengths[rng.integers(len(lengths))] += 5  # at least one usable trajectory
    lag = int(rng.integers(1, 6))
    p = TimeLaggedPairs(lengths, lag)
    off = offsets_from_lengths(lengths)
    i = p.indices
    assert i.dtype == np.int64 and i.shape[1] == 2
    np.testing.assert_array_equal(i[:, 1] - i[:, 0], lag)
    np.testing.assert_array_equal(_owner(i[:, 0], off), _owner(i[:, 1], off))
    # complete: exactly all valid pairs, each once
    assert len(p) == int(np.maximum(lengths - lag, 0).sum())
    assert len(np.unique(i[:, 0])) == len(p)
    assert i.min() >= 0 and i.max() < off[-1]


def test_pairs_inside_segments_and_lag_as_time():
    lengths = [100, 30]
    segs = split_segments(lengths, (0.8, 0.1, 0.1))
    p = TimeLaggedPairs(lengths, "50ps", segments=segs["train"], timestep_ps=10.0)
    assert p.lag == 5
    for s in segs["train"]:
        assert s.traj in (0, 1)
    starts = {(s.traj, s.start, s.stop) for s in segs["train"]}
    off = offsets_from_lengths(lengths)
    for t0, t1 in p.indices:
        tr = _owner(t0, off)
        assert any(tr == a and b <= t0 - off[tr] and t1 - off[tr] < c for a, b, c in starts)


def test_lag_errors():
    with pytest.raises(LagError, match="longest has 9 frames"):
        TimeLaggedPairs([5, 9, 3], 9)
    with pytest.raises(LagError, match="not a whole multiple"):
        TimeLaggedPairs([100], "15ps", timestep_ps=10.0)
    with pytest.raises(LagError, match="frame spacing is unknown"):
        TimeLaggedPairs([100], "1ns")
    with pytest.raises(LagError):
        TimeLaggedPairs([100], 0)
    with pytest.raises(ConfigError):
        TimeLaggedPairs([100], 1, segments=[Segment(0, 50, 101)])
    assert TimeLaggedPairs([100], "1ns", timestep_ps=100.0).lag == 10


def _frames(segs):
    return {(s.traj, f) for s in segs for f in range(s.start, s.stop)}


@pytest.mark.parametrize("lengths", [[1000], [300, 50], [40, 60, 50, 70, 45], [120, 80, 100, 90, 110, 70, 95, 105, 100, 130]])
def test_split_has_no_leakage(lengths):
    sp = split_segments(lengths, (0.8, 0.1, 0.1), seed=3)
    tr, va, te = (_frames(sp[k]) for k in ("train", "val", "test"))
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert len(tr | va | te) == sum(lengths)  # nothing dropped
    assert va and te and tr
    if len(lengths) >= 5:  # whole trajectories only (5 x 0.1 >= 0.5)
        for segs in sp.values():
            for s in segs:
                assert (s.start, s.stop) == (0, lengths[s.traj])
        n_train = sum(len(s) for s in sp["train"])
        assert 0.55 < n_train / sum(lengths) < 0.95
    else:  # contiguous blocks in time order, ~80/10/10
        for t, n in enumerate(lengths):
            blocks = sorted((s.start, s.stop, k) for k, segs in sp.items() for s in segs if s.traj == t)
            assert [b[2] for b in blocks] == ["train", "val", "test"]
            assert blocks[0][1] == pytest.approx(0.8 * n, abs=1)


def test_few_trajectories_use_blocks():
    # 2 trajectories and a 10 % validation share: blocks, not a whole trajectory (which would be 50 %)
    sp = split_segments([60, 60], (0.9, 0.1, 0.0))
    assert sp["val"] == [Segment(0, 54, 60), Segment(1, 54, 60)]
    assert sp["train"] == [Segment(0, 0, 54), Segment(1, 0, 54)] and sp["test"] == []
    sp = split_segments([60, 60], (0.5, 0.5, 0.0))
    assert sorted(len(s) for s in sp["train"] + sp["val"]) == [60, 60]


def test_split_deterministic_and_seeded():
    lengths = list(range(50, 70))
    a = split_segments(lengths, seed=1)
    assert a == split_segments(lengths, seed=1)
    assert a != split_segments(lengths, seed=2)
    no_val = split_segments(lengths, (0.9, 0.0, 0.1))
    assert no_val["val"] == [] and no_val["test"]
    with pytest.raises(ConfigError):
        split_segments(lengths, (0.0, 0.5, 0.5))


def test_block_split_interleaves_held_out_parts_through_each_trajectory():
    lengths = [1000, 430]
    sp = split_segments(lengths, (0.9, 0.1, 0.0), block=100)
    tr, va = _frames(sp["train"]), _frames(sp["val"])
    assert not (tr & va) and len(tr | va) == sum(lengths)
    assert len(sp["val"]) == 10 + 4  # one held-out block per chunk of ~100 frames
    assert all(len(s) == 10 for s in sp["val"] if s.traj == 0)
    starts = [s.start for s in sp["val"] if s.traj == 0]
    assert starts[0] == 90 and starts[-1] == 990  # spread over the whole trajectory, not only its end
    assert abs(len(va) / sum(lengths) - 0.1) < 0.01
    # a trajectory shorter than a block keeps one [train | val] cut; block=None is the plain split
    assert split_segments([60, 60], (0.9, 0.1, 0.0), block=500) == split_segments([60, 60], (0.9, 0.1, 0.0))
    with pytest.raises(ConfigError, match="block"):
        split_segments([60, 60], (0.9, 0.1, 0.0), block=0)
