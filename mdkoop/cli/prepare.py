"""`mdkoop prepare`: read trajectories into a compact store."""

from __future__ import annotations


def register(sub):
    p = sub.add_parser(
        "prepare",
        help="read trajectories into a compact store",
        description="Read MD trajectories (any format mdtraj or MDAnalysis reads) into a store of float32 nm "
        "coordinates of the selected atoms (default: protein heavy atoms), molecules made whole. "
        "With --append, add trajectories to an existing store.",
    )
    p.add_argument("topology", help="topology file (PDB, GRO, PSF, PRMTOP; TPR with --engine mdanalysis)")
    p.add_argument("trajectories", nargs="+", metavar="TRAJ", help="trajectory files; each is one trajectory")
    p.add_argument("--out", required=True, metavar="STORE", help="store directory to create (or extend with --append)")
    p.add_argument("--select", default=None, metavar="SEL",
                   help="atom selection in the engine's own language (default: 'protein and not element H')")
    p.add_argument("--stride", type=int, default=1, metavar="N", help="keep every N-th frame (default 1)")
    p.add_argument("--timestep", default=None, metavar="PS",
                   help="time between saved frames before striding, in ps or with a unit ('10ps'); "
                   "overrides the files' times, required for formats without times (DCD, PDB)")
    p.add_argument("--engine", choices=("mdtraj", "mdanalysis"), default="mdtraj", help="reading library (default mdtraj)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument("--append", action="store_true", help="add the trajectories to the existing store STORE")
    p.add_argument("--allow-duplicates", action="store_true",
                   help="with --append, accept a trajectory whose content is already in the store (refused by default)")
    p.add_argument("--temperature", type=float, default=None, metavar="K",
                   help="simulation temperature in K, recorded for the exported PLUMED input (default: read from a "
                   "metadata.json/run_info.json beside the trajectories, when present)")
    p.add_argument("--chunk-size", type=int, default=None, metavar="N", help="frames read at once (default: automatic)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import logging
    import sys

    from ..errors import ConfigError
    from ..io.store import append, prepare

    progress = sys.stderr.isatty() and logging.getLogger("mdkoop").getEffectiveLevel() <= logging.INFO
    timestep = args.timestep
    if timestep is not None:
        try:
            timestep = float(timestep)
        except ValueError:
            pass  # a string with a unit; parsed by the API
    if args.append:
        if args.overwrite:
            raise ConfigError("--append and --overwrite exclude each other: choose one.")
        if args.select is not None or args.stride != 1 or args.engine != "mdtraj":
            logging.getLogger("mdkoop").warning("--append uses the store's own selection, stride and engine; "
                                                "--select/--stride/--engine are ignored.")
        store = append(args.out, args.trajectories, topology=args.topology, timestep_ps=timestep,
                       chunk_size=args.chunk_size, progress=progress, allow_duplicates=args.allow_duplicates)
    else:
        store = prepare(args.topology, args.trajectories, args.out, select=args.select, stride=args.stride,
                        timestep_ps=timestep, engine=args.engine, overwrite=args.overwrite,
                        chunk_size=args.chunk_size, progress=progress, temperature_K=args.temperature)
    from .info import summary

    print(summary(store))
    return 0
