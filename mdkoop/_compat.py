"""Compatibility shims, in one place.

schnetpack 2.0.x (the release that installs on Python 3.11) does
``from torch.utils.data.dataloader import _collate_fn_t, T_co``. Recent torch
releases (>= 2.6) no longer define ``T_co`` in that module, so importing
schnetpack fails. :func:`import_schnetpack` puts the (purely typing-level)
``T_co`` TypeVar back before importing schnetpack. It changes nothing else.

Always import schnetpack through :func:`import_schnetpack`; never with a bare
``import schnetpack`` anywhere in mdkoop.
"""

from __future__ import annotations

import typing

from .errors import DependencyError

__all__ = ["import_schnetpack", "apply_torch_shims"]

_APPLIED = False


def apply_torch_shims() -> None:
    """Restore names that older schnetpack releases import from torch. Idempotent."""
    global _APPLIED
    if _APPLIED:
        return
    import torch.utils.data.dataloader as dl

    if not hasattr(dl, "T_co"):
        dl.T_co = typing.TypeVar("T_co", covariant=True)
    if not hasattr(dl, "_collate_fn_t"):  # pragma: no cover - present in all supported torch
        dl._collate_fn_t = typing.Callable[[list[typing.Any]], typing.Any]
    _APPLIED = True


def import_schnetpack():
    """Import and return the ``schnetpack`` module, applying the torch shims first.

    Raises
    ------
    DependencyError
        If schnetpack is not installed.
    """
    apply_torch_shims()
    try:
        import schnetpack
    except ImportError as exc:  # pragma: no cover - schnetpack is a hard dependency
        raise DependencyError(
            f"schnetpack could not be imported ({exc}). Install it with `pip install 'schnetpack>=2.0'`."
        ) from exc
    return schnetpack
