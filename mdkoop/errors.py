"""The package's errors.

Every failure a user can cause raises a subclass of :class:`MdkoopError`. Each
message says what was wrong and how to fix it. The CLI prints the message (no
traceback) and exits with status 2.

The subclasses also derive from the matching builtin exception (``ValueError``,
``FileNotFoundError``, ...), so code that already catches those keeps working.
"""

from __future__ import annotations

__all__ = [
    "MdkoopError",
    "InputError",
    "MissingFileError",
    "TrajectoryReadError",
    "SelectionError",
    "OutputExistsError",
    "OutputError",
    "ConfigError",
    "LagError",
    "DeviceError",
    "TrainingError",
    "ModelFormatError",
    "DependencyError",
    "DownloadError",
]


class MdkoopError(Exception):
    """Base class of every error that mdkoop raises on purpose."""


class InputError(MdkoopError, ValueError):
    """An input value (array, option, file content) is invalid."""


class MissingFileError(MdkoopError, FileNotFoundError):
    """A file or directory that the user named does not exist."""


class TrajectoryReadError(InputError):
    """A trajectory or topology could not be read, or its contents are invalid."""


class SelectionError(InputError):
    """An atom selection is invalid or selects no atoms."""


class OutputExistsError(MdkoopError, FileExistsError):
    """An output path exists and overwriting was not requested."""


class OutputError(MdkoopError, OSError):
    """An output could not be written."""


class ConfigError(InputError):
    """An option value is unknown or out of range."""


class LagError(ConfigError):
    """A lag time is invalid for the data (too long, not a multiple of the frame spacing, ...)."""


class DeviceError(MdkoopError, RuntimeError):
    """The requested compute device is not available."""


class TrainingError(MdkoopError, RuntimeError):
    """Training failed (non-finite loss, diverged optimisation, ...)."""


class ModelFormatError(InputError):
    """A saved model or run directory is incomplete or of an unknown format."""


class DependencyError(MdkoopError, ImportError):
    """An optional dependency needed by this feature is not installed."""


class DownloadError(MdkoopError, OSError):
    """A dataset could not be downloaded or failed verification."""

