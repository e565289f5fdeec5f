"""Logging set-up for the CLI. Library code only calls ``logging.getLogger("mdkoop")``."""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "mdkoop"


def get_logger(name: str | None = None) -> logging.Logger:
    """The package logger (``mdkoop``) or one of its children (``mdkoop.<name>``)."""
    return logging.getLogger(LOGGER_NAME if not name else f"{LOGGER_NAME}.{name}")


def configure_cli_logging(verbosity: int = 0) -> None:
    """Send mdkoop's log records to stderr: INFO by default, DEBUG with ``-v``, WARNING with ``-q``."""
    level = logging.INFO if verbosity == 0 else (logging.DEBUG if verbosity > 0 else logging.WARNING)
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(isinstance(h, _CurrentStderrHandler) for h in logger.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("mdkoop: %(message)s"))
        logger.addHandler(handler)


class _CurrentStderrHandler(logging.StreamHandler):
    """A stream handler that always writes to the *current* ``sys.stderr``.

    A plain ``StreamHandler`` binds the stream of the moment; when the CLI runs
    in-process (tests, notebooks) and stderr is later replaced or closed, it
    would write to a dead stream.
    """

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it; ignore
        pass
