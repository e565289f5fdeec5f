"""`mdkoop demo`: prepare → fit → analyze → export on the bundled CLN025 sample (CPU, a few minutes)."""

from __future__ import annotations

from ..utils.threads import add_threads_option


def register(sub):
    """Add the ``demo`` sub-command."""
    p = sub.add_parser(
        "demo",
        help="run the whole job on the bundled CLN025 sample (CPU, a few minutes)",
        description="Prepare the bundled CLN025 sample, fit a small SchNet Koopman model with the nested-LoRA "
        "objective, analyse it (implied timescales, CK test, report.html) and export the CVs to PLUMED.",
    )
    p.add_argument("--out", default="demo_run", help="output directory (default demo_run)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 12)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_threads_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run the demo and print its summary."""
    from dataclasses import replace

    from ..demo import DemoSettings, format_summary, run_demo
    from ..errors import ConfigError

    settings = DemoSettings()
    if args.epochs is not None:
        if args.epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {args.epochs}.")
        settings = replace(settings, epochs=args.epochs)
    res = run_demo(args.out, overwrite=args.overwrite, settings=settings, progress=not args.no_progress)
    print(format_summary(res))
    return 0
