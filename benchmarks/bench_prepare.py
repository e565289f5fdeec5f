"""`prepare` throughput vs plain `mdtraj.load`, and prepare's peak memory vs trajectory length.

Input: the real solvated adenylate-kinase XTC from MDAnalysisTests (47,681 atoms, 10 frames),
repeated into a 1x trajectory (``--frames`` frames) and a 10x longer one, written as XTC
with increasing times. ``prepare`` selects the protein heavy atoms (1,656), makes them whole,
streams them to the store and hashes the source.

* throughput: frames/s of ``prepare`` over frames/s of ``mdtraj.load`` (whole file, same
  topology path) on the 1x file, medians over repeats. Goal >= 0.8.
* memory: peak RSS of ``prepare`` on the 1x and the 10x file, each in a fresh subprocess.
  Goal: within 20 %. ``mdtraj.load`` is measured the same way for contrast.

Writes ``benchmarks/results/bench_prepare.json``.
Run: ``.venv/bin/python benchmarks/bench_prepare.py [--frames 100] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_times, peak_rss_subprocess, write_result  # noqa: E402


def make_xtc(path: Path, n_frames: int) -> None:
    """Write ``n_frames`` frames of the adk XTC (cycled, times continued) without holding them all."""
    import mdtraj as md
    from MDAnalysisTests.datafiles import GRO, XTC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = md.load(XTC, top=GRO)
    dt = float(base.time[1] - base.time[0])
    with md.formats.XTCTrajectoryFile(str(path), "w") as fh:
        written = 0
        while written < n_frames:
            k = min(len(base), n_frames - written)
            t = np.arange(written, written + k) * dt
            fh.write(base.xyz[:k], time=t, step=np.arange(written, written + k), box=base.unitcell_vectors[:k])
            written += k


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100, help="frames of the 1x trajectory (the long one has 10x)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    import mdtraj as md
    from MDAnalysisTests.datafiles import GRO

    from mdkoop.io.store import prepare

    tmp = Path(tempfile.mkdtemp(prefix="mdkoop-bench-prepare-"))
    try:
        short, long_ = tmp / "short.xtc", tmp / "long.xtc"
        make_xtc(short, args.frames)
        make_xtc(long_, 10 * args.frames)
        n = args.frames

        def plain():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = md.load(str(short), top=GRO)
            assert t.n_frames == n

        def ours():
            st = prepare(GRO, short, tmp / "store", overwrite=True)
            assert st.n_frames == n

        # interleaved repeats, so that load from other processes hits both sides alike
        plain()
        ours()
        t_plain, t_ours = interleaved_times([plain, ours], repeats=args.repeats)
        ratio = t_plain["median_s"] / t_ours["median_s"]
        print(f"mdtraj.load {n / t_plain['median_s']:.1f} frames/s, prepare {n / t_ours['median_s']:.1f} frames/s "
              f"-> ratio {ratio:.2f}")

        code_prepare = (
            "import warnings; warnings.simplefilter('ignore')\n"
            "from MDAnalysisTests.datafiles import GRO\n"
            "from mdkoop.io.store import prepare\n"
            "prepare(GRO, {path!r}, {out!r}, overwrite=True)\n"
        )
        code_load = (
            "import warnings; warnings.simplefilter('ignore')\n"
            "import mdtraj as md\nfrom MDAnalysisTests.datafiles import GRO\n"
            "t = md.load({path!r}, top=GRO)\n"
        )
        rss = {}
        for name, path in (("1x", short), ("10x", long_)):
            rss[f"prepare_{name}"] = peak_rss_subprocess(code_prepare.format(path=str(path), out=str(tmp / f"rss_{name}")))
            rss[f"mdtraj_load_{name}"] = peak_rss_subprocess(code_load.format(path=str(path)))
        growth = rss["prepare_10x"] / rss["prepare_1x"]
        print(f"peak RSS prepare: 1x {rss['prepare_1x'] / 2**20:.0f} MiB, 10x {rss['prepare_10x'] / 2**20:.0f} MiB "
              f"(x{growth:.3f}); mdtraj.load: 1x {rss['mdtraj_load_1x'] / 2**20:.0f} MiB, "
              f"10x {rss['mdtraj_load_10x'] / 2**20:.0f} MiB")
        result = {
            "input": "MDAnalysisTests adk_oplsaa.gro + XTC cycled; 47681 atoms, selection protein heavy atoms (1656)",
            "frames_1x": n,
            "frames_10x": 10 * n,
            "file_bytes_1x": short.stat().st_size,
            "file_bytes_10x": long_.stat().st_size,
            "mdtraj_load_frames_per_s": n / t_plain["median_s"],
            "prepare_frames_per_s": n / t_ours["median_s"],
            "ratio_prepare_over_mdtraj_load": ratio,
            "goal_ratio": 0.8,
            "peak_rss_bytes": rss,
            "rss_ratio_10x_over_1x": growth,
            "goal_rss_ratio_max": 1.2,
            "goal_met": bool(ratio >= 0.8 and growth <= 1.2),
            "times_s": {"mdtraj_load": t_plain, "prepare": t_ours},
        }
        write_result("bench_prepare", result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
