"""What a user reads: one log line per epoch (no progress bars) in non-TTY output, messages without repeats,
summary.json lists that line up."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mdkoop
from mdkoop.cli.main import main
from tests.analysis._runs import fitted_run

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return fitted_run(tmp_path_factory)


def test_non_tty_output_has_epoch_lines_and_no_bars(run, tmp_path, capsys):
    """stderr is not a TTY here (captured): no tqdm bar, one INFO line per epoch instead."""
    argv = ["fit", str(run["store"].path), "--lag", "20ps", "--modes", "3", "--epochs", "3", "--batch-size", "64",
            "--n-atom-basis", "8", "--interactions", "1", "--n-rbf", "4", "--schedule", "cosine", "--out", str(tmp_path / "r")]
    assert main(argv) == 0  # no --no-progress given
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [x for x in err.splitlines() if "training loss" in x and x.startswith("mdkoop: epoch ")]
    assert [x.split(":")[1].split()[1] for x in lines] == ["1/3", "2/3", "3/3"], err
    assert all("pairs/s" in x for x in lines)


def test_lag_too_long_says_its_advice_once():
    x = [np.random.default_rng(0).standard_normal((50, 2)).astype(np.float32)]
    with pytest.raises(mdkoop.errors.LagError) as info:
        mdkoop.KoopmanSVD(lagtime=45, n_modes=2, epochs=1, batch_size=4).fit(x)
    msg = str(info.value)
    assert msg.count("Use a shorter lag") == 1 and "--val-fraction" in msg


def test_summary_lists_line_up_when_a_process_is_not_estimated(run, tmp_path, monkeypatch):
    """timescales_ps, the CI lists and 'resolved' have one entry per process; a dropped one says why."""
    from mdkoop.training.model import KoopmanModel

    real = KoopmanModel.timescales
    monkeypatch.setattr(KoopmanModel, "timescales", lambda self, k=None: real(self, k)[:1])  # as a rank-1 estimate
    s = mdkoop.analyze_run(run["run"], lags=[2, 4], n_bootstrap=5, n_clusters=5, out=tmp_path / "an")
    k = run["model"].n_modes - 1
    for key in ("timescales_ps", "timescales_ci_lower_ps", "timescales_ci_upper_ps", "resolved"):
        assert len(s[key]) == k, key
    assert s["timescales_ps"][1] is None and s["resolved"][1] is False
    assert [d["process"] for d in s["not_estimated"]] == [2] and "dropped" in s["not_estimated"][0]["reason"]
    assert json.loads((tmp_path / "an" / "summary.json").read_text())["not_estimated"] == s["not_estimated"]
    assert "not estimated" in (tmp_path / "an" / "report.html").read_text()
