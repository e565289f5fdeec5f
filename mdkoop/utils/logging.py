"""Logging set-up for the CLI. Library code only calls ``logging.getLogger("mdkoop")``."""

from __future__ import annotations

import logging

LOGGER_NAME = "mdkoop"


def get_logger(name: str | None = None) -> logging.Logger:
    """The package logger (``mdkoop``) or one of its children (``mdkoop.<name>``)."""
    return logging.getLogger(LOGGER_NAME if not name else f"{LOGGER_NAME}.{name}")


def configure_cli_logging(verbosity: int = 0) -> None:
    """Send mdkoop's log records to stderr: INFO by default, DEBUG with ``-v``, WARNING with ``-q``."""
    level = logging.INFO if verbosity == 0 else (logging.DEBUG if verbosity > 0 else logging.WARNING)
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(getattr(h, "_mdkoop", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("mdkoop: %(message)s"))
        handler._mdkoop = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
