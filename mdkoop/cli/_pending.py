"""Placeholder for commands whose implementation has not landed yet."""

from __future__ import annotations

from ..errors import NotImplementedYetError


def register_pending(sub, name: str, help: str, issue: int):
    """Add a sub-parser that honestly says the command is not implemented yet, and exits non-zero."""
    p = sub.add_parser(name, help=f"{help} [not implemented yet: issue #{issue}]", add_help=True)
    p.add_argument("rest", nargs="*", help="(ignored)")

    def run(args):
        raise NotImplementedYetError(f"`mdkoop {name}` is not implemented yet (tracked in issue #{issue}).")

    p.set_defaults(func=run)
    return p
