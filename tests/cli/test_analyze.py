"""`mdkoop analyze` end to end on a tiny fitted run."""

from __future__ import annotations

import json

import pytest

from mdkoop.cli.main import main
from tests.analysis._runs import fitted_run

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return fitted_run(tmp_path_factory)


def test_analyze_cli(run, tmp_path, capsys):
    out = tmp_path / "an"
    rc = main(["analyze", str(run["run"]), "--out", str(out), "--lags", "10ps", "20ps", "40ps", "--n-bootstrap", "10",
               "--n-clusters", "10", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "timescales (ps)" in text and "report.html" in text
    s = json.loads((out / "summary.json").read_text())
    assert s["implied_timescales"]["lags_ps"] == [10.0, 20.0, 40.0]
    assert s["vamp2_test"] is None and "--test-store" in s["vamp_test_reason"]
    assert (out / "report.html").is_file()
    # a second call refuses to replace the analysis, with a message and exit status 2
    rc = main(["analyze", str(run["run"]), "--out", str(out), "--n-bootstrap", "0"])
    assert rc == 2
    assert "--overwrite" in capsys.readouterr().err


def test_analyze_cli_errors(run, tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing-run")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["analyze", str(run["run"]), "--store", str(tmp_path / "nostore"), "--out", str(tmp_path / "x")]) == 2
    assert "store" in capsys.readouterr().err
    assert main(["analyze", str(run["run"]), "--lags", "15ps", "--out", str(tmp_path / "y")]) == 2
    assert "multiple of the frame spacing" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()  # nothing half-written
    for bad, msg in ((["--n-sets", "1"], "--n-sets"), (["--n-clusters", "2"], "--n-clusters"),
                     (["--confidence", "95"], "--confidence"), (["--n-bootstrap", "-1"], "--n-bootstrap")):
        assert main(["analyze", str(run["run"]), "--out", str(tmp_path / "z"), *bad]) == 2
        assert msg in capsys.readouterr().err


@pytest.mark.slow
def test_analyze_cli_retrain(run, tmp_path):
    """--retrain at the training lag with the run's seed reproduces the run's timescales."""
    out = tmp_path / "rt"
    rc = main(["analyze", str(run["run"]), "--out", str(out), "--retrain", "--lags", "20ps", "--n-bootstrap", "5",
               "--n-clusters", "10", "--no-progress"])
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    its = s["implied_timescales"]
    assert its["mode"] == "retrain" and its["lags_ps"] == [20.0]
    assert its["timescales_ps"][0][0] == pytest.approx(s["timescales_ps"][0], rel=0.05)
