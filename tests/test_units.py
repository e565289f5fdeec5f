"""mdkoop.units: time parsing and lag conversion."""

import pytest

from mdkoop.errors import ConfigError, LagError, MdkoopError
from mdkoop.units import format_time_ps, lag_to_frames, parse_time_ps


@pytest.mark.parametrize(
    "text, ps", [("500ps", 500.0), ("1ns", 1000.0), ("2.5 us", 2.5e6), ("100fs", 0.1), ("1e3ps", 1000.0), (20, 20.0)]
)
def test_parse_time(text, ps):
    assert parse_time_ps(text) == pytest.approx(ps)


@pytest.mark.parametrize("bad", ["1 parsec", "ns", "-1ns", "0ps", "", "1.2.3ns"])
def test_parse_time_refuses(bad):
    with pytest.raises(ConfigError):
        parse_time_ps(bad)


def test_lag_to_frames():
    assert lag_to_frames(20, None) == 20
    assert lag_to_frames("20", None) == 20
    assert lag_to_frames("1ns", 100.0) == 10
    assert lag_to_frames("0.3ns", 0.1) == 3000  # floating-point round-off is tolerated


def test_lag_refusals_are_package_errors():
    with pytest.raises(LagError, match="not a whole multiple"):
        lag_to_frames("150ps", 100.0)
    with pytest.raises(LagError, match="frame spacing is unknown"):
        lag_to_frames("1ns", None)
    with pytest.raises(LagError):
        lag_to_frames(0, 1.0)
    with pytest.raises(MdkoopError):
        lag_to_frames(2.5, 1.0)


def test_format_time():
    assert format_time_ps(1500.0) == "1.5 ns"
    assert format_time_ps(2.0e6) == "2 us"
    assert format_time_ps(0.5) == "500 fs"
