"""CPU threads for torch: one policy, the ``--threads`` option, and the API's ``threads=``.

Why this matters: torch's intra-op OpenMP threads wait for each other at the end of every parallel
region. When another process shares the cores, a thread that the scheduler has set aside holds all
the others at that barrier, and by default they *spin* while they wait, taking the CPU from the very
thread they wait for. Small SchNet batches run thousands of short parallel regions per second, so a
2-core machine with one other busy process trained 10-40x slower than with one thread.

The policy (measured in ``benchmarks/bench_threads.py``, table in ``benchmarks/RESULTS.md``):

- OpenMP is told not to spin (``OMP_WAIT_POLICY=PASSIVE``) before torch starts its thread pool: the
  CLI does this first thing, and so does ``import mdkoop`` when torch is not imported yet. A value the
  user exported wins.
- The default number of threads is :func:`default_threads`.
- ``--threads N`` (every command that computes) and ``threads=N`` (the Python API) override it.

This module imports torch only inside functions, so the CLI can call
:func:`prepare_openmp_environment` before anything imports torch.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["available_cores", "default_threads", "set_threads", "limited_threads", "prepare_openmp_environment",
           "add_threads_option", "OPENMP_ENVIRONMENT"]

#: environment set before torch's OpenMP runtime starts (setdefault: the user's values win)
OPENMP_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask; cgroup-pinned jobs see their share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """The default number of torch threads: ``OMP_NUM_THREADS`` when set, else :func:`available_cores`."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return available_cores()


def prepare_openmp_environment() -> bool:
    """Set :data:`OPENMP_ENVIRONMENT` (without overriding the user's values) if torch is not imported yet.

    Returns
    -------
    bool
        True if it could take effect (torch was not imported yet).
    """
    if "torch" in sys.modules:
        return False
    for k, v in OPENMP_ENVIRONMENT.items():
        os.environ.setdefault(k, v)
    return True


def _check(n) -> int:
    from ..errors import ConfigError

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"--threads must be a positive integer (CPU threads for torch), got {n!r}.")
    return n


def set_threads(n: int | None = None) -> int:
    """Set the number of torch intra-op CPU threads; ``None`` means :func:`default_threads`.

    Parameters
    ----------
    n : int or None
        Threads (>= 1).

    Returns
    -------
    int
        The number set.

    Raises
    ------
    ConfigError
        ``n`` is not a positive integer.
    """
    import torch

    n = default_threads() if n is None else _check(n)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


@contextlib.contextmanager
def limited_threads(n: int | None) -> Iterator[int]:
    """Use ``n`` torch threads inside the block (``None``: leave the current setting); restore afterwards."""
    import torch

    if n is None:
        yield torch.get_num_threads()
        return
    old = torch.get_num_threads()
    try:
        yield set_threads(n)
    finally:
        torch.set_num_threads(old)


def add_threads_option(parser) -> None:
    """Add ``--threads N`` to an argparse (sub)parser; ``mdkoop.cli.main`` applies it before the command runs."""
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for torch (default: OMP_NUM_THREADS if set, else the cores this process may use)")
