"""`mdkoop demo`: the whole job on the bundled sample (small settings here), and its refusals."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mdkoop.demo import DemoSettings, format_summary, run_demo, sample_files
from mdkoop.errors import MissingFileError, OutputExistsError


def test_sample_files_and_refusals(tmp_path):
    files = sample_files()
    assert set(files) == {"topology", "trajectory", "metadata", "reference"}
    with pytest.raises(MissingFileError, match="sample"):
        sample_files(tmp_path)
    (tmp_path / "out").mkdir()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        run_demo(tmp_path / "out")
    from mdkoop.cli.main import main

    assert main(["demo", "--out", str(tmp_path / "out")]) == 2
    assert main(["demo", "--out", str(tmp_path / "o2"), "--epochs", "0"]) == 2


@pytest.mark.slow
def test_demo_end_to_end_small(tmp_path):
    s = replace(DemoSettings(), epochs=1, n_atom_basis=16, n_interactions=1, its_lags=("10ps", "20ps"), n_bootstrap=2,
                n_clusters=5)
    res = run_demo(tmp_path / "demo", settings=s, progress=False)
    d = tmp_path / "demo"
    assert json.loads((d / "demo.json").read_text())["lagtime_ps"] == pytest.approx(20.0)
    assert (d / "run" / "analysis" / "report.html").stat().st_size > 1000
    assert "PYTORCH_MODEL" in (d / "export_plumed" / "plumed.dat").read_text()
    assert res["singular_values"] and all(0 <= x <= 1.0 + 1e-6 for x in res["singular_values"])
    text = format_summary(res)
    assert "report:" in text and "plumed.dat" in text and "implied timescales" in text


def test_demo_overwrite_replaces_only_a_demo_and_a_failure_restores_it(tmp_path, monkeypatch):
    """--overwrite takes only a demo directory; a failing demo leaves the previous one as it was."""
    import mdkoop.demo as demo
    from mdkoop.utils.files import mark_output

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="not written by mdkoop"):
        run_demo(foreign, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "keep"

    old = tmp_path / "demo"
    old.mkdir()
    mark_output(old, "demo")
    (old / "demo.json").write_text('{"old": true}')

    def boom(*a, **k):
        raise RuntimeError("the fit failed")

    monkeypatch.setattr(demo, "_run_demo_steps", boom)
    with pytest.raises(RuntimeError, match="the fit failed"):
        run_demo(old, overwrite=True)
    assert json.loads((old / "demo.json").read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "mine"]  # nothing half-written, no temporaries
