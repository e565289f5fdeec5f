"""Units and lag-time parsing. Internal units are nm and ps.

Conversions happen only at boundaries (file formats, PLUMED, OpenMM) and are named there.
"""

from __future__ import annotations

import math
import re

from .errors import ConfigError, LagError

__all__ = ["ANGSTROM_TO_NM", "NM_TO_ANGSTROM", "parse_time_ps", "lag_to_frames", "format_time_ps", "shortest_decimal",
           "array_timestep"]

ANGSTROM_TO_NM = 0.1
NM_TO_ANGSTROM = 10.0

_TIME_UNITS_PS = {"fs": 1e-3, "ps": 1.0, "ns": 1e3, "us": 1e6, "µs": 1e6, "ms": 1e9}
_TIME_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]+)\s*$")


def parse_time_ps(value: str | float | int) -> float:
    """Parse a time such as ``"500ps"``, ``"1ns"`` or ``"2.5 us"`` into picoseconds.

    Parameters
    ----------
    value : str or float
        A string with a unit (fs, ps, ns, us, ms), or a number already in ps.

    Returns
    -------
    float
        The time in ps.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        t = float(value)
    else:
        m = _TIME_RE.match(str(value))
        if not m and str(value).strip().startswith("-"):
            raise ConfigError(f"The time {value!r} must be positive (a time between frames, or a lag).")
        if not m or m.group(2) not in _TIME_UNITS_PS:
            raise ConfigError(
                f"Cannot read the time {value!r}: write a number with a unit, e.g. '500ps', '1ns' or '0.2us' "
                f"(units: {', '.join(sorted(_TIME_UNITS_PS))})."
            )
        t = float(m.group(1)) * _TIME_UNITS_PS[m.group(2)]
    if not math.isfinite(t) or t <= 0:
        raise ConfigError(f"The time {value!r} must be positive and finite.")
    return t


def lag_to_frames(lag: str | int, timestep_ps: float | None) -> int:
    """Convert a lag given in frames (int or digit string) or as a time (``"1ns"``) to frames.

    Parameters
    ----------
    lag : int or str
        Number of frames, or a time with a unit.
    timestep_ps : float or None
        The frame spacing in ps. Needed only when ``lag`` is a time.

    Returns
    -------
    int
        The lag in frames (>= 1).

    Raises
    ------
    LagError
        If the lag is not positive, or a time that is not a whole multiple of the frame spacing.
    """
    if isinstance(lag, bool):
        raise LagError(f"Invalid lag {lag!r}.")
    if isinstance(lag, int) or (isinstance(lag, str) and lag.strip().isdigit()):
        n = int(lag)
        if n < 1:
            raise LagError(f"The lag must be at least 1 frame, got {lag!r}.")
        return n
    if isinstance(lag, float):
        raise LagError(f"A lag of {lag!r}: give frames as an int, or a time with a unit such as '1ns'.")
    t = parse_time_ps(lag)
    if timestep_ps is None or timestep_ps <= 0:
        raise LagError(f"The lag {lag!r} is a time, but the frame spacing is unknown: give the lag in frames or set the timestep.")
    n = t / timestep_ps
    if abs(n - round(n)) > 1e-6 * max(1.0, n) or round(n) < 1:
        nice = shortest_decimal(timestep_ps, 1e-4 * timestep_ps)
        if nice != timestep_ps and abs(t / nice - round(t / nice)) <= 1e-6 * max(1.0, t / nice):
            raise LagError(
                f"The lag {lag!r} is not a whole multiple of the frame spacing ({timestep_ps:g} ps), which looks like "
                f"{nice:g} ps stored in low precision (float32 times). Prepare the store again with "
                f"--timestep {nice:g}ps to state the spacing, or give the lag in frames.")
        raise LagError(
            f"The lag {lag!r} ({t:g} ps) is not a whole multiple of the frame spacing ({timestep_ps:g} ps). "
            f"Use a multiple such as {max(1, round(n)) * timestep_ps:g}ps, or give the lag in frames."
        )
    return int(round(n))


def shortest_decimal(x: float, tol: float) -> float:
    """The number with the fewest decimals within ``tol`` of ``x`` (``0.199997, 1e-5 -> 0.2``); ``x`` if none.

    Times in XTC and TRR files are float32, so a spacing read from them carries rounding noise of the
    order of the float32 spacing at the largest stored time; this recovers the value the simulation used.
    """
    for decimals in range(0, 10):
        cand = round(float(x), decimals)
        if cand > 0 and abs(cand - x) <= tol:
            return cand
    return float(x)


def format_time_ps(t_ps: float) -> str:
    """Format a time in ps with a readable unit, e.g. ``1500.0 -> '1.5 ns'``."""
    for unit, scale in (("ms", 1e9), ("us", 1e6), ("ns", 1e3), ("ps", 1.0)):
        if abs(t_ps) >= scale:
            return f"{t_ps / scale:.4g} {unit}"
    return f"{t_ps * 1e3:.4g} fs"


def array_timestep(timestep, lagtime) -> tuple[float, str]:
    """The frame spacing of array data and its unit: ``"ps"``, ``"time"`` (a number in the user's units) or ``"frames"``.

    A timestep with a unit (``"0.5ps"``) is in ps. A plain number is in ps as soon as the lag is a time with a
    unit (``lagtime="2ps"``: mdkoop's internal time unit is the ps); otherwise it is in the user's own units
    (``"time"``), or frames when it is 1.
    """
    if isinstance(timestep, str):
        return parse_time_ps(timestep), "ps"
    if isinstance(timestep, bool) or not isinstance(timestep, (int, float)) or not math.isfinite(timestep) or timestep <= 0:
        raise ConfigError(f"The timestep must be a positive number (the time between frames), got {timestep!r}.")
    lag_has_unit = isinstance(lagtime, str) and not lagtime.strip().isdigit()
    if lag_has_unit:
        return float(timestep), "ps"
    return float(timestep), "frames" if float(timestep) == 1.0 else "time"
