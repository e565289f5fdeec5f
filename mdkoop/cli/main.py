"""``mdkoop <command>``: a thin layer over the Python API.

Each command lives in its own module ``mdkoop.cli.<name>`` exposing
``register(subparsers)``, which adds a sub-parser and sets ``func`` to a
callable ``run(args) -> int``. Heavy imports happen inside ``run`` so that
``mdkoop --help`` is fast.

A :class:`mdkoop.errors.MdkoopError` is printed as one message (no traceback)
and the process exits with status 2. ``--traceback`` shows the full traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# Transparent huge pages for torch's CPU allocator. CPU SchNet training is bound by page faults on
# fresh activation memory; benchmarks/RESULTS.md measured lean training at +9% (heavy atoms, batch 384)
# and +12% (all atoms, batch 192) pairs/s with it on, and 2x for the schnetpack baseline. It must be set
# before torch's first large allocation, so it is set here, before any command imports torch. A value
# the user already exported wins (THP_MEM_ALLOC_ENABLE=0 turns it off).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from ..utils.threads import prepare_openmp_environment  # noqa: E402 - imports no torch

# OpenMP must not spin-wait: with another process on the cores, spinning threads collapse training 10-40x.
# It has to be set before torch starts its OpenMP runtime, so it is set here (mdkoop.utils.threads).
prepare_openmp_environment()

from .. import __version__  # noqa: E402
from ..errors import MdkoopError  # noqa: E402
from ..utils.logging import configure_cli_logging  # noqa: E402

#: Command name -> module, in the order ``--help`` lists them.
COMMANDS = {
    "prepare": "mdkoop.cli.prepare",
    "info": "mdkoop.cli.info",
    "fit": "mdkoop.cli.fit",
    "analyze": "mdkoop.cli.analyze",
    "transform": "mdkoop.cli.transform",
    "export": "mdkoop.cli.export",
    "data": "mdkoop.cli.data",
    "simulate": "mdkoop.cli.simulate",
    "demo": "mdkoop.cli.demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mdkoop",
        description="Slow collective variables and implied timescales from MD trajectories "
        "(parametric Koopman SVD with nested LoRA and SchNet encoders).",
    )
    parser.add_argument("--version", action="version", version=f"mdkoop {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for modname in COMMANDS.values():
        importlib.import_module(modname).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command_line = ["mdkoop", *argv]  # what was run, for the metadata commands record
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    configure_cli_logging(-1 if args.quiet else args.verbose)
    if hasattr(args, "no_progress") and not sys.stderr.isatty():
        args.no_progress = True  # bars in a log file are carriage-return noise; fit logs one line per epoch instead
    try:
        if hasattr(args, "threads") and getattr(args, "threads_for_torch", True):
            from ..utils.threads import set_threads

            set_threads(args.threads)
        rc = args.func(args)
    except MdkoopError as exc:
        if args.traceback:
            raise
        print(f"mdkoop {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mdkoop {args.command}: interrupted{getattr(args, 'interrupted_hint', '')}", file=sys.stderr)
        return 130
    except (MemoryError, RuntimeError) as exc:
        if args.traceback or not _is_allocation_failure(exc):
            raise
        print(f"mdkoop {args.command}: error: out of memory ({type(exc).__name__}). Ask for less at once: a smaller "
              "--batch-size or --modes, a smaller encoder (--n-atom-basis, --interactions), or fewer atoms (--select).",
              file=sys.stderr)
        return 2
    except BrokenPipeError:
        # output piped into e.g. `head`, which closed early: not an error of the command
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    logging.getLogger("mdkoop").debug("done")
    return int(rc or 0)


def _is_allocation_failure(exc: BaseException) -> bool:
    """True for a failed memory allocation (numpy/Python MemoryError, torch's CPU or CUDA allocators)."""
    text = str(exc)
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
