"""Argument checks shared by the systems modules."""

from __future__ import annotations

from mdkoop.errors import InputError


def positive_int(value, what: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; otherwise :class:`~mdkoop.errors.InputError` naming ``what``."""
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be an integer >= {minimum}, got {value!r}.") from None
    if isinstance(value, bool) or v != value or v < minimum:
        raise InputError(f"{what} must be an integer >= {minimum}, got {value!r}.")
    return v
