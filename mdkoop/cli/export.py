"""``mdkoop export RUN --format plumed|torchscript|openmm --out DIR``: export learned CVs."""

from __future__ import annotations

from ..utils.threads import add_threads_option


def register(sub):
    """Add the ``export`` sub-command."""
    p = sub.add_parser(
        "export",
        help="export CVs to PLUMED / TorchScript / OpenMM",
        description="Export the CVs of a fitted run as a TorchScript model, a PLUMED input (PYTORCH_MODEL) "
        "or openmm-torch forces. Positions are in nm; see the README.md written into DIR.",
    )
    p.add_argument("run", metavar="RUN", help="run directory written by `mdkoop fit`")
    p.add_argument("--format", choices=("plumed", "torchscript", "openmm"), default="plumed", help="output format (default: plumed)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (must not exist unless --overwrite)")
    p.add_argument("--cvs", default=None, metavar="LIST", help="1-based CV numbers, e.g. 1,2 (default: all CVs of `transform`)")
    p.add_argument("--kind", choices=("singular", "eigen"), default=None, help="CV kind (default: as `transform`)")
    p.add_argument("--data", default=None, metavar="STORE", help="data for the CV ranges (default: the run's training store)")
    p.add_argument("--topology", default=None, metavar="FILE",
                   help="topology of the system you will simulate (PDB/GRO/PSF/...), when its atom numbering differs from "
                   "the training topology (e.g. the model was trained on heavy atoms only): atoms are matched by residue "
                   "number and atom name")
    p.add_argument("--same-numbering", action="store_true",
                   help="(plumed, openmm) the simulation numbers its atoms as the training topology did; without it or "
                   "--topology, an export whose numbering cannot fit a simulation (a training topology without "
                   "hydrogens, or an unknown one) is refused")
    p.add_argument("--temperature", type=float, default=None, metavar="K",
                   help="simulation temperature for the bias examples (default: the training store's, when recorded)")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    add_threads_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Load the run and export it; errors are ``MdkoopError``s printed by ``mdkoop.cli.main``."""
    from ..export import export_model
    from ..training.model import load_model
    from ..utils.files import check_output_dir

    inputs = [p for p in (args.run, args.data, args.topology) if p is not None]
    check_output_dir(args.out, args.overwrite, "export directory", kind="export", inputs=inputs)  # before loading
    model = load_model(args.run)
    out = export_model(model, args.out, format=args.format, cvs=args.cvs, kind=args.kind, overwrite=args.overwrite, data=args.data,
                       topology=args.topology, inputs=inputs, same_numbering=args.same_numbering,
                       temperature=args.temperature)
    print(f"wrote {out}")
    return 0
