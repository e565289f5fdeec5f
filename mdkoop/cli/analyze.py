"""``mdkoop analyze``: implied timescales, CK test, scores, figures and report of a fitted run."""

from __future__ import annotations

from ..utils.threads import add_threads_option


def register(sub):
    p = sub.add_parser(
        "analyze",
        help="implied timescales vs lag, CK test, VAMP scores, figures and report.html of a fitted run",
        description="Analyse a run of `mdkoop fit` and write RUN/analysis/: summary.json (timescales with "
        "bootstrap confidence intervals, singular values, eigenvalues, VAMP scores, CK test), PNG figures and a "
        "self-contained report.html.",
    )
    p.add_argument("run", help="run directory of `mdkoop fit`")
    p.add_argument("--store", help="store to analyse (default: the store recorded in RUN/config.json)")
    p.add_argument("--test-store", help="store of held-out trajectories for test VAMP-2 / VAMP-E scores")
    p.add_argument("--lags", nargs="+", metavar="LAG",
                   help="lags for the implied timescales, in frames or with a unit (e.g. 50ps 100ps 1ns); "
                   "default: a geometric list around the training lag")
    p.add_argument("--reference", help="reference structure (PDB) for the RMSD colouring of the free-energy plot")
    p.add_argument("--retrain", action="store_true",
                   help="retrain the encoder at every lag (slow) instead of re-estimating on the learned features")
    p.add_argument("--n-bootstrap", type=int, default=100, help="bootstrap samples for confidence intervals")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level of the intervals")
    p.add_argument("--n-sets", type=int, default=2, help="PCCA+ metastable sets of the CK test")
    p.add_argument("--n-clusters", type=int, default=50, help="k-means states of the CK test MSM")
    p.add_argument("--out", help="output directory (default: RUN/analysis)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing analysis directory")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_threads_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from pathlib import Path

    from ..analysis.pipeline import analyze_run
    from ..errors import ConfigError

    if args.n_bootstrap < 0:
        raise ConfigError(f"--n-bootstrap must be >= 0, got {args.n_bootstrap}.")
    if args.n_sets < 2:
        raise ConfigError(f"--n-sets must be at least 2 (metastable sets of the CK test), got {args.n_sets}.")
    if args.n_clusters <= args.n_sets:
        raise ConfigError(f"--n-clusters ({args.n_clusters}) must exceed --n-sets ({args.n_sets}).")
    if not 0 < args.confidence < 1:
        raise ConfigError(f"--confidence must lie strictly between 0 and 1 (e.g. 0.95), got {args.confidence}.")
    s = analyze_run(args.run, store=args.store, test_store=args.test_store, lags=args.lags, reference=args.reference,
                    retrain=args.retrain, n_bootstrap=args.n_bootstrap, confidence=args.confidence,
                    n_sets=args.n_sets, n_clusters=args.n_clusters, overwrite=args.overwrite, out=args.out,
                    seed=args.seed, progress=not args.no_progress)
    out = Path(args.out) if args.out else Path(args.run) / "analysis"
    ts = ", ".join("—" if t is None else f"{t:.4g}" for t in s["timescales_ps"][:5])
    print(f"timescales (ps): {ts}")
    print(f"VAMP-2 (analysed store): {s['vamp2_train']:.4f}"
          + ("" if s["vamp2_test"] is None else f"; test: {s['vamp2_test']:.4f}, VAMP-E test: {s['vampe_test']:.4f}"))
    print(f"report: {out / 'report.html'}")
    return 0
