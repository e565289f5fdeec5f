"""Stability of the training objectives on a small real system (issue 4 "Stability", issue 8 section 4).

Alanine dipeptide in implicit solvent (``mdkoop simulate ala2``), heavy-atom pair distances (nm, mdtraj),
standardised with the training block's mean/std, learned with the MLP path of :class:`mdkoop.KoopmanSVD`.
The trajectory is split into two contiguous halves: the first trains, the second is held out.

Sweep: seeds x batch sizes {16, 64, 384} x losses {LoRA joint, LoRA sequential, LoRA none, VAMP-1, VAMP-2,
VAMP-E, DPNet}. Every run takes the SAME number of gradient steps (a callback stops Lightning after
``--steps`` optimisation steps; ``epochs`` is only an upper bound), with a constant learning rate
(``schedule="none"``) and no validation split, so batch sizes are compared at equal optimisation effort.

Per run it records:

- ``nan``: the estimator raised :class:`mdkoop.errors.TrainingError` for a non-finite loss or gradient;
- ``diverged``: the training objective evaluated on ALL training pairs after training is worse than before
  training (batch values are too noisy at batch 16 to judge this), or no Koopman model could be estimated
  from the learned features (collapse), or the held-out score is not finite;
- wall time, the initial/final training loss on all training pairs and per batch (mean of the first 5 /
  last 10 steps; the negative objective for VAMP/DPNet), and the last batch's loss;
- ``test_vamp2``: ``model.score(test_features, r=2)`` on the held-out half (constant included, deeptime
  convention; the maximum possible is ``n_modes``), and the same score on the training half;
- ``test_feature_rank``: numerical rank of the learned features' covariance on the held-out half.

Why the held-out score: inverse-based losses on small batches do not fail loudly. With epsilon-regularised
inverses the VAMP-2 of a batch of 16 samples and 16 outputs saturates near its maximum (the batch
covariance has rank <= the batch size), so the training value says nothing about the quality of the
functions; only held-out data show it.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_stability.py            # full sweep -> results/stability.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_stability.py --quick    # 1 seed, few steps (smoke)
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRAJ = ROOT / "benchmarks" / "work" / "ala2" / "ns5_T340_seed1"  # `mdkoop simulate ala2 --ns 5 --seed 1`


def regen_dir(ns: float) -> Path:
    """Where a missing trajectory is simulated (``ns`` ns, seed 1), so the benchmark is reproducible from scratch."""
    return ROOT / "benchmarks" / "work" / "ala2" / f"ns{ns:g}_T340_seed1"


#: (label, loss, nesting) of every objective in the sweep
LOSSES = [
    ("lora-joint", "lora", "joint"),
    ("lora-sequential", "lora", "sequential"),
    ("lora-none", "lora", "none"),
    ("vamp1", "vamp1", "joint"),
    ("vamp2", "vamp2", "joint"),
    ("vampe", "vampe", "joint"),
    ("dpnet", "dpnet", "joint"),
]


def ensure_trajectory(traj_dir: Path, ns: float = 2.0, seed: int = 1) -> Path:
    """Return ``traj_dir`` holding ``topology.pdb`` and ``trajectory.xtc``; simulate alanine dipeptide there if missing.

    Parameters
    ----------
    traj_dir : Path
        Simulation directory as written by :func:`mdkoop.simulate`.
    ns : float
        Length (ns) of the simulation run when the directory is missing (1 ps frames, 340 K, seeded).
    seed : int
        Seed of the regenerated simulation.

    Returns
    -------
    Path
    """
    if (traj_dir / "trajectory.xtc").is_file() and (traj_dir / "topology.pdb").is_file():
        return traj_dir
    from mdkoop.simulation import simulate

    print(f"{traj_dir} missing: simulating alanine dipeptide, {ns} ns at 340 K, seed {seed} ...", flush=True)
    simulate("ala2", ns, 340.0, traj_dir, seed=seed, save_every_ps=1.0, platform="CPU", threads=1, progress=False)
    return traj_dir


def heavy_atom_distances(traj_dir: Path) -> tuple[np.ndarray, float]:
    """Heavy-atom pair distances of the trajectory.

    Returns
    -------
    X : ndarray (T, n_pairs) float32
        Distances in nm.
    dt_ps : float
        Frame spacing in ps.
    """
    import mdtraj as md

    traj = md.load(str(traj_dir / "trajectory.xtc"), top=str(traj_dir / "topology.pdb"))
    heavy = traj.topology.select("element != H")
    pairs = np.array([(a, b) for i, a in enumerate(heavy) for b in heavy[i + 1:]])
    X = md.compute_distances(traj, pairs).astype(np.float32)
    dt = float(traj.timestep) if traj.n_frames > 1 else 1.0
    return X, dt


def split_standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous halves (train = first, test = second), both standardised with the training half's mean/std."""
    half = len(X) // 2
    train, test = X[:half], X[half:]
    mu, sd = train.mean(0), train.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    return ((train - mu) / sd).astype(np.float32), ((test - mu) / sd).astype(np.float32)


def feature_rank(F: np.ndarray, rtol: float = 1e-6) -> int:
    """Numerical rank of the covariance of features ``F`` (T, m): eigenvalues above ``rtol`` x the largest."""
    if not np.all(np.isfinite(F)):
        return 0
    C = np.cov(F, rowvar=False)
    C = np.atleast_2d(C)
    s = np.linalg.eigvalsh(C)
    if s.max() <= 0:
        return 0
    return int((s > rtol * s.max()).sum())


def linear_vamp_reference(train: np.ndarray, test: np.ndarray, lag: int, dim: int) -> dict:
    """Context for the scores: deeptime's linear VAMP on the same standardised distances (train half), scored on
    the test half (VAMP-2, constant included, ``dim`` singular functions) and on the train half."""
    from deeptime.decomposition import VAMP

    model = VAMP(lagtime=lag, dim=dim).fit(train).fetch_model()
    test_model = VAMP(lagtime=lag, dim=dim).fit(test).fetch_model()
    return {"estimator": f"deeptime.decomposition.VAMP(lagtime={lag}, dim={dim}) on the standardised distances",
            "test_vamp2": float(model.score(2, test_model=test_model)), "train_vamp2": float(model.score(2))}


def _step_limiter(max_steps: int, losses: list, full: dict, pairs: tuple):
    """A Lightning callback: records every training-step loss, stops after ``max_steps`` steps, and evaluates
    the training objective on ALL training pairs ``pairs = (X_t, X_tau)`` before and after training
    (``full["initial"]``, ``full["final"]``), so divergence is judged without batch noise."""
    import pytorch_lightning as pl
    import torch

    x_t, x_tau = (torch.as_tensor(a) for a in pairs)

    def full_loss(pl_module) -> float:
        with torch.no_grad():
            f, g = pl_module.encode(x_t.to(pl_module.device), x_tau.to(pl_module.device))
            return float(pl_module._loss(f, g))

    class StepLimiter(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            full["initial"] = full_loss(pl_module)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            losses.append(float(loss.detach()))
            if trainer.global_step >= max_steps:
                trainer.should_stop = True

        def on_train_end(self, trainer, pl_module):
            full["final"] = full_loss(pl_module)

    return StepLimiter()


def one_run(train: np.ndarray, test: np.ndarray, *, loss: str, nesting: str, batch: int, seed: int, steps: int,
            n_modes: int, lag: int, lr: float, hidden: tuple) -> dict:
    """Train one model and score it; never raises for a training failure (it is recorded)."""
    import mdkoop
    from mdkoop.errors import TrainingError

    n_pairs = len(train) - lag
    steps_per_epoch = max(1, n_pairs // batch)  # lower bound (the last partial batch may be dropped)
    epochs = -(-steps // steps_per_epoch) + 2  # an upper bound only: the callback stops at `steps`
    losses: list[float] = []
    full: dict = {}
    est = mdkoop.KoopmanSVD(lagtime=lag, n_modes=n_modes, encoder="mlp", loss=loss, nesting=nesting, epochs=epochs,
                            batch_size=batch, lr=lr, device="cpu", seed=seed, hidden=hidden, val_fraction=0.0,
                            schedule="none")
    limiter = _step_limiter(steps, losses, full, (train[:-lag], train[lag:]))
    rec = {"loss": loss, "nesting": nesting, "batch_size": batch, "seed": seed, "nan": False, "diverged": False,
           "collapsed": False, "error": None}
    t0 = time.perf_counter()
    model = None
    try:
        est.fit([train], callbacks=[limiter])
        model = est.fetch_model()
    except TrainingError as exc:
        msg = str(exc)
        if "non-finite" in msg.lower() or "nan" in msg.lower():
            rec["nan"] = True
        else:
            rec["collapsed"] = True
        rec["error"] = msg[:300]
    rec["wall_s"] = time.perf_counter() - t0
    rec["steps"] = len(losses)
    finite = [v for v in losses if np.isfinite(v)]
    rec["initial_train_loss"] = float(np.mean(finite[:5])) if finite else None
    rec["final_train_loss"] = float(np.mean(finite[-10:])) if finite else None
    rec["last_batch_loss"] = float(losses[-1]) if losses else None
    rec["initial_full_loss"] = full.get("initial")
    rec["final_full_loss"] = full.get("final")
    a, b = rec["initial_full_loss"], rec["final_full_loss"]
    if a is not None and b is not None and (not np.isfinite(b) or b > a):
        rec["diverged"] = True
    rec["test_vamp2"] = rec["train_vamp2"] = None
    rec["test_feature_rank"] = None
    if model is not None:
        try:
            rec["test_vamp2"] = float(model.score([test], r=2))
            rec["train_vamp2"] = float(model.score([train], r=2))
            rec["test_feature_rank"] = feature_rank(np.asarray(model.features([test])[0]))
        except Exception as exc:  # noqa: BLE001 - a scoring failure is a result of this run
            rec["collapsed"] = True
            rec["error"] = f"scoring failed: {exc}"[:300]
        if rec["test_vamp2"] is not None and not np.isfinite(rec["test_vamp2"]):
            rec["collapsed"] = True
    if rec["collapsed"]:
        rec["diverged"] = True
    return rec


def summarise(runs: list[dict]) -> list[dict]:
    """One row per (loss label, batch size): NaN and divergence counts, test VAMP-2 median [min, max]."""
    rows = []
    keys = []
    for r in runs:
        k = (r["label"], r["batch_size"])
        if k not in keys:
            keys.append(k)
    for label, b in keys:
        sel = [r for r in runs if r["label"] == label and r["batch_size"] == b]
        scores = [r["test_vamp2"] for r in sel if r["test_vamp2"] is not None and np.isfinite(r["test_vamp2"])]
        train_scores = [r["train_vamp2"] for r in sel if r["train_vamp2"] is not None and np.isfinite(r["train_vamp2"])]
        last = [r["last_batch_loss"] for r in sel if r["last_batch_loss"] is not None]
        fullf = [r["final_full_loss"] for r in sel if r.get("final_full_loss") is not None]
        rows.append({
            "loss": label, "batch_size": b, "runs": len(sel),
            "nan": sum(r["nan"] for r in sel), "diverged": sum(r["diverged"] for r in sel),
            "collapsed": sum(r["collapsed"] for r in sel),
            "test_vamp2_median": statistics.median(scores) if scores else None,
            "test_vamp2_min": min(scores) if scores else None,
            "test_vamp2_max": max(scores) if scores else None,
            "train_vamp2_median": statistics.median(train_scores) if train_scores else None,
            "last_batch_loss_median": statistics.median(last) if last else None,
            "final_full_loss_median": statistics.median(fullf) if fullf else None,
            "wall_s_median": statistics.median(r["wall_s"] for r in sel),
        })
    return rows


def format_table(rows: list[dict], n_modes: int) -> str:
    """Plain-text table: loss x batch -> NaN, diverged, test VAMP-2 median [min-max]."""
    out = [f"test VAMP-2 on the held-out half (max possible {n_modes}, constant included)",
           f"{'loss':<16} {'batch':>5} {'NaN':>4} {'div':>4} {'test VAMP-2 median [min-max]':>30} "
           f"{'train VAMP-2':>12} {'last batch loss':>15} {'all-pairs loss':>14}"]
    for r in rows:
        if r["test_vamp2_median"] is None:
            s = "-"
        else:
            s = f"{r['test_vamp2_median']:.3f} [{r['test_vamp2_min']:.3f}-{r['test_vamp2_max']:.3f}]"
        tr = "-" if r["train_vamp2_median"] is None else f"{r['train_vamp2_median']:.3f}"
        lb = "-" if r["last_batch_loss_median"] is None else f"{r['last_batch_loss_median']:.3f}"
        fl = "-" if r["final_full_loss_median"] is None else f"{r['final_full_loss_median']:.3f}"
        out.append(f"{r['loss']:<16} {r['batch_size']:>5} {r['nan']:>2}/{r['runs']:<1} {r['diverged']:>2}/{r['runs']:<1} "
                   f"{s:>30} {tr:>12} {lb:>15} {fl:>14}")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--traj-dir", type=Path, default=None,
                   help=f"alanine dipeptide simulation directory (default: {DEFAULT_TRAJ.relative_to(ROOT)} when it "
                        "exists, else benchmarks/work/ala2/ns<regen-ns>_T340_seed1); simulated when missing")
    p.add_argument("--regen-ns", type=float, default=None,
                   help="length (ns) of the simulation run when the trajectory is missing (default 2; 0.5 with --quick)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--batches", type=int, nargs="+", default=[16, 64, 384])
    p.add_argument("--losses", nargs="+", default=[lab for lab, _, _ in LOSSES], choices=[lab for lab, _, _ in LOSSES])
    p.add_argument("--steps", type=int, default=300, help="gradient steps per run (same for every batch size)")
    p.add_argument("--n-modes", type=int, default=16, help="singular functions including the constant")
    p.add_argument("--lag", type=int, default=10, help="lag in frames (1 ps frames)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    p.add_argument("--quick", action="store_true", help="1 seed, 20 steps: a smoke run")
    p.add_argument("--name", default=None, help="result name (default: stability, or stability_quick with --quick)")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.steps = 1, 20
    if args.regen_ns is None:
        args.regen_ns = 0.5 if args.quick else 2.0
    name = args.name or ("stability_quick" if args.quick else "stability")

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    logging.getLogger("mdkoop").setLevel(logging.WARNING)
    for lg in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(lg).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    if args.traj_dir is None:
        args.traj_dir = DEFAULT_TRAJ if (DEFAULT_TRAJ / "trajectory.xtc").is_file() else regen_dir(args.regen_ns)
    traj_dir = ensure_trajectory(args.traj_dir, ns=args.regen_ns)
    X, dt = heavy_atom_distances(traj_dir)
    train, test = split_standardise(X)
    print(f"{traj_dir}: {len(X)} frames x {X.shape[1]} heavy-atom distances, dt {dt} ps; "
          f"train {len(train)}, test {len(test)} frames; lag {args.lag} frames; {args.steps} steps/run", flush=True)

    ref = linear_vamp_reference(train, test, args.lag, args.n_modes - 1)
    print(f"reference (linear VAMP on the distances): test VAMP-2 {ref['test_vamp2']:.3f}, "
          f"train {ref['train_vamp2']:.3f}", flush=True)

    from tqdm import tqdm

    spec = {lab: (loss, nest) for lab, loss, nest in LOSSES}
    grid = [(lab, b, s) for b in args.batches for lab in args.losses for s in range(args.seeds)]
    runs = []
    t_all = time.perf_counter()
    for lab, b, s in tqdm(grid, desc="stability runs", unit="run"):
        loss, nest = spec[lab]
        rec = one_run(train, test, loss=loss, nesting=nest, batch=b, seed=s, steps=args.steps, n_modes=args.n_modes,
                      lag=args.lag, lr=args.lr, hidden=tuple(args.hidden))
        rec["label"] = lab
        runs.append(rec)
    total = time.perf_counter() - t_all
    rows = summarise(runs)
    print(format_table(rows, args.n_modes))
    print(f"{len(runs)} runs in {total:.0f} s")
    write_result(name, {
        "system": "alanine dipeptide (mdkoop simulate ala2, implicit solvent, 340 K)",
        "trajectory": str(traj_dir.relative_to(ROOT) if traj_dir.is_relative_to(ROOT) else traj_dir),
        "n_frames": int(len(X)), "frame_spacing_ps": dt, "n_features": int(X.shape[1]),
        "features": "heavy-atom pair distances (nm), standardised with the training half's mean/std",
        "split": "contiguous halves: first half trains, second half is held out",
        "settings": {"seeds": args.seeds, "batches": args.batches, "losses": args.losses, "steps": args.steps,
                     "n_modes": args.n_modes, "lag_frames": args.lag, "lr": args.lr, "hidden": args.hidden,
                     "schedule": "none", "val_fraction": 0.0, "grad_clip": "default (1.0)", "encoder": "mlp (tanh)"},
        "max_vamp2": args.n_modes,
        "reference_linear_vamp": ref,
        "definitions": {
            "nan": "TrainingError for a non-finite loss or gradient",
            "diverged": "training objective on ALL training pairs after training worse than before (final_full_loss > "
                        "initial_full_loss), or collapsed",
            "collapsed": "no Koopman model could be estimated from the learned features, or a non-finite held-out score",
            "test_vamp2": "model.score(test half, r=2), constant included (deeptime convention)",
            "last_batch_loss": "training loss of the last batch (negative batch objective for VAMP/DPNet)",
            "final_full_loss": "training loss evaluated on all training pairs after training",
        },
        "total_wall_s": total,
        "rows": rows,
        "runs": runs,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
