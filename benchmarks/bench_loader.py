"""Does a multi-process DataLoader (workers, pinned memory) help PairLoader on this machine?

Gathers batches of 384 time-lagged pairs of CLN025 heavy-atom frames (97 atoms) from a
memory-mapped store, once in-process with :class:`mdkoop.data.loader.PairLoader` and once
through ``torch.utils.data.DataLoader`` with worker processes that each open the store and
gather the same batches. Reports batches/s (median of repeats) and the ratio.

Writes ``benchmarks/results/bench_loader.json``.
Run: ``.venv/bin/python benchmarks/bench_loader.py [--frames 20000] [--workers 2]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_times, write_result  # noqa: E402

BATCH = 384


class _BatchDataset(torch.utils.data.Dataset):
    """Batch ``k`` of an epoch order, gathered from a store opened lazily in each worker."""

    def __init__(self, store_path, pairs, order, batch_size):
        self.store_path, self.pairs, self.order, self.batch_size = str(store_path), pairs, order, batch_size
        self._store = None

    def __len__(self):
        return -(-len(self.order) // self.batch_size)

    def __getitem__(self, k):
        from mdkoop.io.store import TrajectoryStore

        if self._store is None:
            self._store = TrajectoryStore.open(self.store_path)
        rows = self.order[k * self.batch_size : (k + 1) * self.batch_size]
        p = self.pairs[rows]
        return torch.from_numpy(self._store.frames(p[:, 0])), torch.from_numpy(self._store.frames(p[:, 1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20000, help="frames in the store (4 trajectories)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    import mdtraj as md

    from mdkoop.data.loader import PairLoader
    from mdkoop.data.pairs import TimeLaggedPairs
    from mdkoop.io.store import prepare
    from mdkoop.resources import resource_path

    tmp = Path(tempfile.mkdtemp(prefix="mdkoop-bench-loader-"))
    try:
        pdb = resource_path("cln025.pdb")
        ref = md.load(str(pdb))
        rng = np.random.default_rng(0)
        files = []
        per = args.frames // 4
        for k in range(4):
            xyz = ref.xyz + 0.02 * rng.standard_normal((per, ref.n_atoms, 3)).astype(np.float32)
            t = md.Trajectory(xyz, ref.topology, time=np.arange(per) * 10.0)
            files.append(tmp / f"t{k}.xtc")
            t.save_xtc(str(files[-1]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            store = prepare(pdb, files, tmp / "store")
        pairs = TimeLaggedPairs(store.trajectory_lengths, 10)
        loader = PairLoader(store, pairs, batch_size=BATCH, shuffle=True, seed=0)
        order = loader.order(0)
        ds = _BatchDataset(store.path, pairs.indices, order, BATCH)

        def in_process():
            for _ in loader:
                pass

        def workers():
            dl = torch.utils.data.DataLoader(ds, batch_size=None, shuffle=False, num_workers=args.workers,
                                             persistent_workers=False)
            for _ in dl:
                pass

        def workers_pinned():
            dl = torch.utils.data.DataLoader(ds, batch_size=None, shuffle=False, num_workers=args.workers,
                                             pin_memory=torch.cuda.is_available())
            for _ in dl:
                pass

        in_process()
        fns = [in_process, workers] + ([workers_pinned] if torch.cuda.is_available() else [])
        times = interleaved_times(fns, repeats=args.repeats)
        nb = len(loader)
        res = {
            "store_frames": store.n_frames,
            "n_atoms": store.n_atoms,
            "batch_pairs": BATCH,
            "batches_per_epoch": nb,
            "workers": args.workers,
            "pairloader_batches_per_s": nb / times[0]["median_s"],
            "dataloader_workers_batches_per_s": nb / times[1]["median_s"],
            "ratio_workers_over_pairloader": times[0]["median_s"] / times[1]["median_s"],
            "times_s": {"pairloader": times[0], "dataloader_workers": times[1]},
        }
        if len(times) > 2:
            res["dataloader_workers_pinned_batches_per_s"] = nb / times[2]["median_s"]
        print(f"PairLoader {res['pairloader_batches_per_s']:.1f} batches/s; DataLoader({args.workers} workers) "
              f"{res['dataloader_workers_batches_per_s']:.1f} batches/s -> x{res['ratio_workers_over_pairloader']:.2f}")
        write_result("bench_loader", res)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
