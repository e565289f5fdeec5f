"""Inference frames/s: a mdkoop model's CVs on CLN025 frames vs a naive schnetpack pipeline.

Frames: perturbed copies of the real CLN025 structure (``mdkoop/resources/cln025.pdb``, via
``bench_graphs.make_frames``), once with the heavy atoms and once with all 175 atoms.
Model: a ``KoopmanModel`` with the default SchNet encoder (64 x 3 interactions, 20 Gaussians,
cutoff 0.6 nm, atomwise head 64 -> 15, mean pooling; 16 modes), assembled from
``mdkoop.training.model`` pieces with a linear Koopman model estimated on its own features of
the frames (weights do not change the cost). Everything single-threaded on the CPU
(``torch.set_num_threads(1)``), candidates interleaved (``_common.interleaved_times``).

Candidates, each producing the 15 singular-function CVs of every frame:

* ``transform``: ``model.transform(frames)`` (radius graph on the device, lean SchNet, batches
  of ``model.batch_size`` = 512 frames, linear map);
* ``torchscript_batched``: the exported ``cv_model.pt`` (``export_model(format="torchscript")``)
  called on batches of the same size;
* ``torchscript_per_frame``: the same file called on one ``(n, 3)`` frame at a time (the
  PLUMED/OpenMM per-step pattern), reported as ms per call;
* ``baseline`` (named naive pipeline): per frame an ASE ``Atoms`` -> schnetpack ``AtomsConverter``
  with ``MatScipyNeighborList`` (per-frame neighbour list, schnetpack's collate into one batch)
  -> schnetpack ``PairwiseDistances`` + ``SchNet`` + ``Atomwise`` head (sum / n_atoms = mean),
  the ``BaselineLobe`` of ``baseline_schnetpack.py`` in nm, then the same linear map.

The baseline carries the *same weights* as the mdkoop encoder (copied with
``LeanSchNet.load_schnetpack_state_dict`` and the head layers), and the script checks that all
candidates return the same CVs before timing them.

Writes ``benchmarks/results/inference.json`` (``--quick``: ``inference_quick.json``).
Project goal (no number in the issue): ``transform`` frames/s >= 2x the naive schnetpack pipeline.

Run: ``.venv/bin/python benchmarks/bench_inference.py [--repeats 3] [--frames 512] [--single 64] [--quick]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import interleaved_times, write_result  # noqa: E402
from bench_graphs import make_frames  # noqa: E402

N_MODES = 16
CUTOFF_NM = 0.6
GOAL_RATIO = 2.0


# --------------------------------------------------------------------------- model
def cln025_atoms(which: str) -> dict:
    """``{"indices", "names", "atomic_numbers"}`` of the CLN025 atoms ``make_frames(which)`` uses."""
    import mdtraj as md

    from mdkoop.resources import resource_path

    top = md.load_topology(str(resource_path("cln025.pdb")))
    idx = top.select("not element H") if which == "heavy" else np.arange(top.n_atoms)
    return {
        "indices": [int(i) for i in idx],
        "names": [top.atom(int(i)).name for i in idx],
        "atomic_numbers": [int(top.atom(int(i)).element.atomic_number) for i in idx],
    }


def build_model(z: np.ndarray, frames: np.ndarray, atoms: dict, seed: int = 0):
    """A ``KoopmanModel`` with the default SchNet encoder on atoms ``z`` (n,), CLN025 atoms metadata.

    The linear Koopman part is estimated (lag 1 frame) on the encoder's own features of
    ``frames`` (T, n, 3) nm, so ``transform`` and export run exactly as on a fitted model.
    ``atoms``: ``{"indices", "names", "atomic_numbers"}`` (see :func:`cln025_atoms`).
    """
    from mdkoop.estimation.model import LinearKoopmanModel
    from mdkoop.nn.build import build_encoder
    from mdkoop.training.config import EncoderConfig
    from mdkoop.training.model import KoopmanModel

    torch.manual_seed(seed)
    cfg = EncoderConfig(kind="schnet", cutoff=CUTOFF_NM)
    enc = build_encoder(cfg, N_MODES - 1, z).eval()
    with torch.no_grad():
        feats = enc.forward_frames(torch.as_tensor(frames)).double().numpy()
    linear = LinearKoopmanModel.from_features(feats[:-1], feats[1:], lagtime=1, timestep=2.0)
    return KoopmanModel(enc, None, linear, cfg, N_MODES, lagtime=1, timestep=2.0, time_unit="ps", atoms=atoms)


def export_torchscript(model, out: Path):
    """Export ``model`` as TorchScript into ``out`` and load ``cv_model.pt`` back (CPU)."""
    from mdkoop.export import export_model

    path = export_model(model, out, format="torchscript")
    return torch.jit.load(str(Path(path) / "cv_model.pt"), map_location="cpu").eval()


# --------------------------------------------------------------------------- baseline
def build_baseline(model, n_out: int):
    """schnetpack ``BaselineLobe`` (nm) carrying the weights of ``model``'s encoder, and its converter."""
    from baseline_schnetpack import BaselineLobe

    from mdkoop._compat import import_schnetpack

    spk = import_schnetpack()
    base = BaselineLobe(n_out, cutoff_ang=CUTOFF_NM).eval()  # "ang" is just the length unit: nm here
    enc = model.encoder_f
    # same weights: schnetpack -> lean for the representation (tested equal to 1e-5), head copied layer by layer
    enc.representation.load_schnetpack_state_dict(base.schnet.state_dict())
    lin = [m for m in base.head.outnet.modules() if isinstance(m, torch.nn.Linear)]
    # schnetpack's Atomwise defaults to SiLU; mdkoop's head (like SchNet) uses shifted softplus
    for layer in lin[:-1]:
        layer.activation = spk.nn.shifted_softplus
    if len(lin) != len(enc.head.layers):
        raise RuntimeError(f"head depth differs: schnetpack {len(lin)} vs mdkoop {len(enc.head.layers)}")
    with torch.no_grad():
        for a, b in zip(enc.head.layers, lin):
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)
    conv = spk.interfaces.AtomsConverter(
        neighbor_list=spk.transform.MatScipyNeighborList(cutoff=CUTOFF_NM),
        transforms=[spk.transform.CastTo32()],
        dtype=torch.float32,
    )
    return base, conv


def baseline_cvs(base, conv, z: np.ndarray, frames: np.ndarray, W: np.ndarray, b: np.ndarray, batch: int):
    """The naive pipeline: per frame ASE Atoms + MatScipy neighbour list, schnetpack SchNet, linear map.

    Returns (T, k) float64 CVs.
    """
    from ase import Atoms

    out = []
    with torch.no_grad():
        for s in range(0, len(frames), batch):
            atoms = [Atoms(numbers=z, positions=f) for f in frames[s : s + batch].astype(np.float64)]
            out.append(base(conv(atoms)).double().numpy())
    return np.concatenate(out) @ W + b


def ts_batched(ts, pos: torch.Tensor, batch: int) -> np.ndarray:
    """TorchScript CV model on batches of ``batch`` frames; (T, k) float64."""
    with torch.no_grad():
        return np.concatenate([ts(pos[s : s + batch]).double().numpy() for s in range(0, len(pos), batch)])


def ts_per_frame(ts, pos: torch.Tensor) -> np.ndarray:
    """TorchScript CV model called on one ``(n, 3)`` frame at a time; (T, k) float64."""
    with torch.no_grad():
        return np.concatenate([ts(pos[i]).double().numpy().reshape(1, -1) for i in range(len(pos))])


# --------------------------------------------------------------------------- one system
def run_case(which: str, n_frames: int, n_single: int, repeats: int, tmp: Path) -> dict:
    """Time the candidates on ``n_frames`` CLN025 frames (``which``: 'heavy' or 'all')."""
    pos, zt = make_frames(which, n_frames)
    frames, z = pos.numpy(), zt.numpy().astype(np.int64)
    atoms = cln025_atoms(which)
    if atoms["atomic_numbers"] != [int(a) for a in z]:
        raise RuntimeError("atom metadata and frames disagree")
    model = build_model(z, frames, atoms)
    base, conv = build_baseline(model, N_MODES - 1)  # copies the baseline's weights into the model
    # the linear map is re-estimated for the copied weights, as if the model had been fitted with them
    model = _refit_linear(model, frames)
    ts = export_torchscript(model, tmp / f"ts_{which}")
    W, b = model.linear.linear_map(kind="singular")
    batch = int(model.batch_size)
    single = pos[:n_single].contiguous()

    # same CVs from every candidate before timing them
    ref = model.transform(frames, device="cpu")[0]
    checks = {
        "torchscript_batched": ts_batched(ts, pos[:64], batch),
        "torchscript_per_frame": ts_per_frame(ts, single[:8]),
        "baseline": baseline_cvs(base, conv, z, frames[:64], W, b, batch),
    }
    scale = float(np.abs(ref).max())
    max_diff = {}
    for name, cv in checks.items():
        d = float(np.abs(cv - ref[: len(cv)]).max())
        max_diff[name] = d
        if not d <= 1e-3 * max(scale, 1.0):
            raise RuntimeError(f"{name} CVs differ from model.transform by {d:.3g} (scale {scale:.3g})")

    fns = {
        "transform": lambda: model.transform(frames, device="cpu"),
        "torchscript_batched": lambda: ts_batched(ts, pos, batch),
        "baseline": lambda: baseline_cvs(base, conv, z, frames, W, b, batch),
        "torchscript_per_frame": lambda: ts_per_frame(ts, single),
    }
    # warm-up (TorchScript profiling runs at the timed shapes, allocator); the baseline needs none
    fns["transform"](), fns["torchscript_batched"](), fns["torchscript_per_frame"]()
    t0 = time.perf_counter()
    timed = dict(zip(fns, interleaved_times(list(fns.values()), repeats=repeats)))
    fps = {
        k: (n_single if k == "torchscript_per_frame" else n_frames) / v["median_s"] for k, v in timed.items()
    }
    case = {
        "n_atoms": int(len(z)),
        "n_frames": n_frames,
        "n_frames_per_frame_calls": n_single,
        "batch_size": batch,
        "n_cvs": int(N_MODES - 1),
        "frames_per_s": fps,
        "ms_per_frame": {k: 1000.0 / v for k, v in fps.items()},
        "torchscript_per_frame_ms_per_call": timed["torchscript_per_frame"]["median_s"] / n_single * 1000.0,
        "ratio_transform_over_baseline": fps["transform"] / fps["baseline"],
        "ratio_torchscript_batched_over_baseline": fps["torchscript_batched"] / fps["baseline"],
        "ratio_torchscript_per_frame_over_baseline": fps["torchscript_per_frame"] / fps["baseline"],
        "max_abs_cv_diff_vs_transform": max_diff,
        "cv_scale": scale,
        "timed_wall_s": time.perf_counter() - t0,
        "times_s": timed,
    }
    print(
        f"{which:5s} n={case['n_atoms']:3d}: transform {fps['transform']:7.1f} f/s, "
        f"torchscript {fps['torchscript_batched']:7.1f} f/s, per-frame {case['torchscript_per_frame_ms_per_call']:.2f} ms, "
        f"baseline {fps['baseline']:7.1f} f/s -> x{case['ratio_transform_over_baseline']:.2f} "
        f"(TorchScript x{case['ratio_torchscript_batched_over_baseline']:.2f})",
        flush=True,
    )
    return case


def _refit_linear(model, frames: np.ndarray):
    """Re-estimate the model's linear part on its (current) encoder's features of ``frames``."""
    from mdkoop.estimation.model import LinearKoopmanModel

    feats = model.features(frames, device="cpu")[0]
    model.linear = LinearKoopmanModel.from_features(feats[:-1], feats[1:], lagtime=1, timestep=model.timestep)
    return model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per candidate (medians)")
    ap.add_argument("--frames", type=int, default=512, help="frames per system for the batched candidates")
    ap.add_argument(
        "--single", type=int, default=64, help="frames for the one-frame-per-call TorchScript candidate"
    )
    ap.add_argument("--quick", action="store_true", help="smoke run: 128 frames, 16 single calls, 2 repeats")
    ap.add_argument(
        "--out", default=None, help="result stem (default inference, or inference_quick with --quick)"
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.frames, args.single, args.repeats = 128, 16, 2
    out = args.out or ("inference_quick" if args.quick else "inference")
    torch.set_num_threads(1)
    import logging

    logging.getLogger("mdkoop").setLevel(logging.WARNING)
    logging.getLogger("mdkoop.export").setLevel(
        logging.ERROR
    )  # "no training data: CV ranges left out" is expected
    t_all = time.perf_counter()
    results = {
        "cutoff_nm": CUTOFF_NM,
        "n_modes": N_MODES,
        "threads": 1,
        "repeats": args.repeats,
        "quick": bool(args.quick),
        "baseline": "ASE Atoms -> schnetpack AtomsConverter(MatScipyNeighborList) -> schnetpack SchNet + Atomwise (mean)",
        "cases": {},
    }
    with tempfile.TemporaryDirectory(prefix="mdkoop-bench-inf-") as tmp:
        for which in ("heavy", "all"):
            results["cases"][which] = run_case(which, args.frames, args.single, args.repeats, Path(tmp))
    results["goal"] = (
        f"model.transform frames/s >= {GOAL_RATIO:g}x the naive schnetpack pipeline (project's own goal)"
    )
    results["goal_ratio"] = GOAL_RATIO
    results["goal_met"] = all(
        c["ratio_transform_over_baseline"] >= GOAL_RATIO for c in results["cases"].values()
    )
    results["wall_s"] = time.perf_counter() - t_all
    write_result(out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
