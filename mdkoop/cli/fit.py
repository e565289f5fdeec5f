"""``mdkoop fit``: train a Koopman SVD model on a trajectory store.

::

    mdkoop fit STORE --lag 1ns --modes 5 --out RUN [--epochs N] [--batch-size 256] [--lr 3e-3]
        [--loss lora|vamp1|vamp2|vampe|dpnet|dpnet-relaxed] [--nesting joint|sequential|none]
        [--device auto|cpu|cuda] [--devices N] [--num-nodes N] [--precision 32|bf16-mixed] [--seed S]
        [--resume | --overwrite] [--select EXPR] [--cutoff NM] [--n-atom-basis N] [--interactions N]
        [--lobes shared|separate] [--val-fraction F]
        [--encoder schnet|distances|torsions] [--distances-select EXPR] [--pairs FILE] [--contact-r0 NM]
        [--torsions phi,psi[,chi1]] [--hidden 64,64]

Every option is checked before any work starts; a refusal leaves no run directory.
See docs/training.md for the run-directory layout, resuming, and DDP launches (torchrun, SLURM).
"""

from __future__ import annotations

import argparse

from .. import registry
from ..utils.threads import add_threads_option


def register(sub):
    """Add the ``fit`` sub-parser; defaults and choices come from the config and the registries."""
    from ..training.config import EncoderConfig, TrainConfig

    T, E = TrainConfig(), EncoderConfig()

    p = sub.add_parser(
        "fit",
        help="train a Koopman SVD model (SchNet or descriptor encoder) on a store",
        description="Train an encoder (SchNet, or pair distances / torsions + MLP) with the nested-LoRA objective on "
        "a trajectory store, estimate the "
        "linear Koopman model, and write a run directory (model.pt, model.json, config.json, metrics.csv, "
        "checkpoints/).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("store", help="trajectory store directory (from `mdkoop prepare`)")
    p.add_argument("--lag", dest="lagtime", default=None,
                   help="lag time with a unit (e.g. 1ns, 200ps) or in frames (e.g. 20); required, except with --resume "
                   "alone, which continues with the interrupted run's saved settings")
    p.add_argument("--modes", dest="n_modes", type=int, default=T.n_modes, help="number of singular functions k, including the constant")
    p.add_argument("--out", required=True, help="run directory to create")
    _add_training_options(p, T)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    _add_encoder_options(p, E)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_threads_option(p)
    p.set_defaults(func=run)
    return p


def _add_training_options(p, T) -> None:
    """Options of the optimisation, the loss, the estimation and the devices (:class:`TrainConfig` fields)."""
    p.add_argument("--epochs", type=int, default=T.epochs,
                   help="maximum number of epochs (with --schedule converge, training stops when converged)")
    p.add_argument("--batch-size", type=int, default=T.batch_size, help="pairs per step (global, across DDP processes)")
    p.add_argument("--lr", type=float, default=T.lr, help="AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=T.weight_decay)
    p.add_argument("--grad-clip", type=float, default=T.grad_clip, help="gradient-norm clipping (0: off)")
    p.add_argument("--schedule", choices=registry.SCHEDULES, default=T.schedule,
                   help="learning-rate schedule: converge = halve the lr when the training loss stalls, stop when "
                   "converged; cosine = anneal over exactly --epochs")
    p.add_argument("--plateau-patience", type=int, default=T.plateau_patience,
                   help="epochs without improvement before the lr is halved (--schedule converge)")
    p.add_argument("--tol", type=float, default=T.tol, help="relative improvement of the training loss that counts")
    p.add_argument("--patience", type=int, default=T.patience, help="early stopping on validation VAMP-E (0: off)")
    p.add_argument("--loss", choices=registry.LOSSES, default=T.loss)
    p.add_argument("--nesting", choices=registry.NESTINGS, default=T.nesting, help="LoRA nesting")
    p.add_argument("--method", choices=registry.METHODS, default=T.method, help="estimation of the linear model after training")
    p.add_argument("--device", choices=registry.DEVICES, default=T.device)
    p.add_argument("--devices", type=int, default=T.devices, help="processes (GPUs) per node; > 1 uses DDP")
    p.add_argument("--num-nodes", type=int, default=T.num_nodes, help="number of nodes for DDP")
    p.add_argument("--precision", choices=registry.PRECISIONS, default=T.precision, help="bf16-mixed on GPU only")
    p.add_argument("--seed", type=int, default=T.seed)
    p.add_argument("--val-fraction", type=float, default=T.val_fraction,
                   help="held-out fraction for validation VAMP-E (interleaved blocks of 10 lags)")
    p.add_argument("--checkpoint-every", type=int, default=T.checkpoint_every, help="resumable checkpoint every N steps")


def _add_encoder_options(p, E) -> None:
    """Options of the atoms and the encoder: its kind, the descriptor MLP, and SchNet (:class:`EncoderConfig` fields)."""
    p.add_argument("--select", default=None,
                   help="train on a subset of the store's atoms (MDTraj selection on the store's topology, "
                   "e.g. 'element != H' or 'name CA')")
    p.add_argument("--encoder", choices=registry.STRUCTURAL_ENCODERS, default="schnet",
                   help="schnet: a graph network on the atoms; distances: pair distances (or contacts) of "
                   "--distances-select, then an MLP; torsions: sin/cos of backbone dihedrals, then an MLP")
    p.add_argument("--hidden", type=_int_list, default=E.hidden,
                   help="hidden widths of the MLP of the descriptor encoders, comma-separated")
    p.add_argument("--activation", choices=registry.MLP_ACTIVATIONS, default=E.activation,
                   help="activation of the MLP of the descriptor encoders")
    desc = p.add_argument_group("descriptor encoders (--encoder distances / torsions)")
    desc.add_argument("--distances-select", default=E.distances_select,
                      help="MDTraj selection on the store's topology: every pair of these atoms is a feature")
    desc.add_argument("--pairs", default=None, metavar="FILE",
                      help="text file of atom pairs (two 0-based atom indices of the store's topology per line) "
                      "instead of --distances-select")
    desc.add_argument("--contact-r0", type=float, default=E.contact_r0, metavar="NM",
                      help="use contacts 1/(1+(d/r0)^6) instead of distances (r0 in nm)")
    desc.add_argument("--torsions", type=_name_list, default=E.torsions,
                      help="dihedrals, comma-separated, from phi, psi, omega, chi1, chi2 (each as sin and cos)")
    enc = p.add_argument_group("SchNet encoder")
    enc.add_argument("--cutoff", type=float, default=E.cutoff, help="cutoff in nm")
    enc.add_argument("--n-atom-basis", type=int, default=E.n_atom_basis)
    enc.add_argument("--interactions", dest="n_interactions", type=int, default=E.n_interactions)
    enc.add_argument("--n-rbf", type=int, default=E.n_rbf)
    enc.add_argument("--pooling", choices=registry.POOLINGS, default=E.pooling)
    enc.add_argument("--no-standardize-output", dest="standardize_output", action="store_false",
                     help="do not standardise the encoder outputs on the training frames before training")
    enc.add_argument("--implementation", choices=registry.IMPLEMENTATIONS, default=E.implementation)
    enc.add_argument("--lobes", choices=registry.LOBES, default=E.lobes)


def estimator_from_args(args):
    """Build the :class:`~mdkoop.training.estimator.KoopmanSVD` for parsed ``mdkoop fit`` arguments.

    Every option whose destination is a ``KoopmanSVD`` parameter is passed on under that name, so the
    options, the estimator and the config it writes share one set of names (``tests/cli/test_fit_options.py``
    walks each of them through to ``config.json``).
    """
    import inspect

    from ..errors import ConfigError
    from ..training.estimator import KoopmanSVD

    if args.lagtime is None:
        raise ConfigError("--lag is required (e.g. --lag 1ns): the lag time of the time-lagged pairs.")
    names = set(inspect.signature(KoopmanSVD.__init__).parameters) - {"self"}
    kw = {k: v for k, v in vars(args).items() if k in names}
    if kw.get("pairs") is not None:
        kw["pairs"] = read_pairs(kw["pairs"])
    return KoopmanSVD(**kw)


def _resumed_estimator(args):
    """``--resume`` without ``--lag``: the interrupted run's estimator, rebuilt from its saved ``config.json``."""
    from ..errors import ConfigError
    from ..training.config import FitConfig
    from ..training.estimator import KoopmanSVD
    from ..training.run_dir import in_progress_dir

    saved = in_progress_dir(args.out) / "config.json"
    if not saved.is_file():
        raise ConfigError(f"Cannot resume {args.out!r}: there is no interrupted run with saved settings "
                          f"({str(saved)!r} is missing). Start a new run with --lag (and --overwrite to replace it).")
    return KoopmanSVD.from_config(FitConfig.load(saved))


def _int_list(text: str) -> tuple:
    """``"64,64"`` -> ``(64, 64)`` (argparse turns the ValueError into a usage message)."""
    return tuple(int(v) for v in text.split(",") if v.strip())


def _name_list(text: str) -> tuple:
    """``"phi,psi"`` -> ``("phi", "psi")``."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def read_pairs(path: str):
    """Atom pairs from a text file: two 0-based integer atom indices per line; ``#`` starts a comment.

    Returns
    -------
    ndarray of int64, shape (n_pairs, 2)
    """
    from pathlib import Path

    import numpy as np

    from ..errors import InputError, MissingFileError

    if not Path(path).is_file():
        raise MissingFileError(f"The pair list {path!r} does not exist.")
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.replace(",", " ").split()
        if len(parts) != 2 or not all(p.lstrip("-").isdigit() for p in parts):
            raise InputError(f"{path}:{n}: expected two integer atom indices, got {line.strip()!r}.")
        rows.append((int(parts[0]), int(parts[1])))
    if not rows:
        raise InputError(f"The pair list {path!r} holds no pairs.")
    return np.asarray(rows, dtype=np.int64)


def run(args) -> int:
    """Run ``mdkoop fit``; returns the exit status."""
    import time

    from ..io.store import TrajectoryStore
    from ..units import format_time_ps
    from ..utils.logging import get_logger

    log = get_logger("cli")
    store = TrajectoryStore.open(args.store)
    est = _resumed_estimator(args) if args.resume and args.lagtime is None else estimator_from_args(args)
    t0 = time.perf_counter()
    try:
        est.fit(store, run_dir=args.out, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress)
    except KeyboardInterrupt:
        args.interrupted_hint = _resume_hint(args)
        raise
    model = est.model
    if model is None:  # a non-zero DDP rank: rank 0 writes the run
        return 0
    ts = model.timescales()
    log.info("trained in %.1f s; lag %s; singular values %s", time.perf_counter() - t0,
             format_time_ps(model.lagtime_ps), " ".join(f"{s:.3f}" for s in model.singular_values))
    log.info("implied timescales: %s", ", ".join(format_time_ps(t) for t in ts[: min(5, len(ts))]))
    log.info("run directory: %s", args.out)
    return 0


def _resume_hint(args) -> str:
    """What to tell a user who pressed Ctrl-C: how to resume, or that nothing was kept."""
    import shlex

    from ..training.run_dir import in_progress_dir, last_checkpoint

    if not last_checkpoint(in_progress_dir(args.out)).is_file():
        return " before the first checkpoint; nothing was kept (run the command again to start over)"
    argv = [a for a in getattr(args, "command_line", ["mdkoop", "fit"]) if a != "--overwrite"]
    if "--resume" not in argv:
        argv.append("--resume")
    return f"; resume with: {shlex.join(argv)}"
