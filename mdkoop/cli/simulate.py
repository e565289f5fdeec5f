"""`mdkoop simulate`: simulate demo data (CLN025, alanine dipeptide) with OpenMM."""

from __future__ import annotations

import shlex


def register(sub):
    """Add the ``simulate`` sub-command."""
    p = sub.add_parser(
        "simulate",
        help="simulate demo data with OpenMM (amber14 + GBn2, 4 fs with HMR)",
        description="Simulate CLN025 or alanine dipeptide in GBn2 implicit solvent with OpenMM "
        "(amber14, hydrogen mass repartitioning, 4 fs, Langevin). Writes topology.pdb, "
        "trajectory.xtc and metadata.json to --out.",
    )
    p.add_argument("system", choices=["cln025", "ala2"], help="molecule to simulate")
    p.add_argument("--ns", type=float, required=True, help="production length in ns")
    p.add_argument("--temperature", type=float, default=340.0, help="temperature in K (default 340)")
    p.add_argument("--out", required=True, help="output directory (must not exist unless --overwrite)")
    p.add_argument("--seed", type=int, default=None, help="random seed (velocities and Langevin noise); recorded in metadata")
    p.add_argument("--save-every", type=float, default=10.0, dest="save_every", help="frame spacing in ps (default 10)")
    p.add_argument("--platform", default="CPU", choices=["CPU", "CUDA", "OpenCL", "Reference"], help="OpenMM platform (default CPU)")
    p.add_argument("--threads", type=int, default=None, help="CPU platform threads (default: all cores)")
    p.add_argument("--atoms", default="all", choices=["all", "heavy"], help="save all atoms or heavy atoms only (default all)")
    p.add_argument("--cutoff", type=float, default=1.2, help="non-bonded cutoff in nm (default 1.2; 0 for none)")
    p.add_argument("--equilibrate", type=float, default=20.0, help="equilibration before production in ps (default 20)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (log lines instead)")
    p.set_defaults(func=run, threads_for_torch=False)  # --threads here are OpenMM's platform threads
    return p


def run(args) -> int:
    """Run the simulation described by ``args``; print where the files are."""
    from ..simulation import simulate

    res = simulate(
        args.system,
        args.ns,
        args.temperature,
        args.out,
        seed=args.seed,
        save_every_ps=args.save_every,
        platform=args.platform,
        threads=args.threads,
        atoms=args.atoms,
        cutoff_nm=None if args.cutoff == 0 else args.cutoff,
        equilibrate_ps=args.equilibrate,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        command=shlex.join(args.command_line),
    )
    m = res.metadata
    print(f"{m['system']}: {m['n_frames']} frames ({m['length_ns']:g} ns, {m['frame_spacing_ps']:g} ps apart) "
          f"at {m['temperature_K']:g} K, {m['ns_per_day']:.1f} ns/day, seed {m['seed']}")
    print(f"  topology:   {res.topology}\n  trajectory: {res.trajectory}\n  metadata:   {res.out / 'metadata.json'}")
    return 0
