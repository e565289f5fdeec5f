"""Plots and the HTML report: files exist, are PNGs, embed correctly; free energy known answer."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import numpy as np
import pytest

from mdkoop.analysis import plots
from mdkoop.analysis.report import render_report, write_report


def _is_png(p):
    return p.is_file() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000


def test_time_unit():
    assert plots.time_unit(500.0) == ("ps", 1.0)
    assert plots.time_unit(5e4) == ("ns", 1e3)
    assert plots.time_unit(2e7) == ("µs", 1e6)


def test_free_energy_known_answer():
    # two equally populated bins with a 1:e^2 ratio elsewhere -> F difference of 2 kT
    x = np.r_[np.zeros(100), np.ones(int(round(100 * np.exp(-2))))]
    y = np.zeros_like(x)
    F, xe, ye = plots.free_energy_2d(x, y, bins=2)
    assert np.nanmin(F) == 0.0
    assert np.nanmax(F) == pytest.approx(2.0 + np.log(100 * np.exp(-2) / round(100 * np.exp(-2))), abs=1e-9)
    assert np.isnan(F).sum() == 2


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    d = tmp_path_factory.mktemp("figs")
    rng = np.random.default_rng(0)
    lags = np.array([10.0, 20, 50, 100, 200])
    its = np.array([[900.0, 120], [950, 125], [1000, 130], [990, 128], [1010, 131]])
    out = {
        "its": plots.plot_implied_timescales(lags, its, d / "implied_timescales.png", its * 0.9, its * 1.1, 50.0),
        "ck": plots.plot_ck_test(
            [0, 50, 100], np.array([np.eye(2), [[0.9, 0.1], [0.2, 0.8]], [[0.82, 0.18], [0.3, 0.7]]]),
            np.array([np.eye(2), [[0.9, 0.1], [0.2, 0.8]], [[0.8, 0.2], [0.33, 0.67]]]), d / "ck_test.png"),
        "spec": plots.plot_spectrum([0.98, 0.7, 0.3], d / "spectrum.png", eigenvalues=[0.97, 0.69, 0.31]),
        "fes": plots.plot_free_energy(rng.standard_normal(3000), rng.standard_normal(3000), d / "free_energy.png",
                                      rmsd=rng.random(3000) * 0.5, rmsd_unit="nm"),
        "ts": plots.plot_cv_timeseries([rng.standard_normal((400, 3)), rng.standard_normal((300, 3))], 20.0,
                                       d / "cv_timeseries.png"),
    }
    csv = d / "metrics.csv"
    csv.write_text("epoch,step,train_loss,val_loss,val_vamp2\n0,10,-0.5,,\n0,20,-0.8,-0.7,1.6\n1,30,-1.0,-0.9,1.8\n")
    out["train"] = plots.plot_training_curves(csv, d / "training_curves.png")
    return out


def test_plots_are_pngs(figures):
    for p in figures.values():
        assert _is_png(p), p


def test_metrics_csv_reading(figures, tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("epoch,train_loss,note\n0,1.5,abc\n1,,x\n")
    cols = plots.read_metrics_csv(csv)
    assert set(cols) == {"epoch", "train_loss"}
    assert np.isnan(cols["train_loss"][1])
    empty = tmp_path / "e.csv"
    empty.write_text("epoch,lr\n0,0.1\n")
    assert plots.plot_training_curves(empty, tmp_path / "x.png") is None
    assert not (tmp_path / "x.png").exists()


def _summary():
    return {
        "run_dir": "run", "n_frames": 1000, "lag_ps": 50.0, "timescales_ps": [1000.0, 130.0],
        "timescales_ci_lower_ps": [900.0, 110.0], "timescales_ci_upper_ps": [1100.0, 150.0], "confidence": 0.95,
        "singular_values": [0.95, 0.68], "eigenvalues": [0.951, 0.681], "vamp2_train": 2.37, "vamp2_test": None,
        "vampe_test": None, "vamp_test_reason": "no --test-store given",
    }


def test_report_self_contained(figures, tmp_path):
    out = write_report(tmp_path / "report.html", _summary(), {k: v for k, v in figures.items()})
    text = out.read_text()
    imgs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(imgs) == len(figures)
    for b64, p in zip(imgs, figures.values()):
        assert base64.b64decode(b64) == p.read_bytes()
    assert "http://" not in text and "https://" not in text  # nothing loaded from the network
    assert "1.1 ns" not in text and "1 ns" in text  # readable timescale of 1000 ps
    assert "900 – 1100" in text
    assert "no --test-store given" in text


def test_report_renders_in_chromium(figures, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("Debian's chromium is not installed (shutil.which('chromium') is None); cannot render report.html")
    text = render_report(_summary(), dict(figures))
    # mark every image that decoded (naturalWidth > 0) so that --dump-dom shows it
    script = ("<script>window.addEventListener('load',()=>{for(const i of document.images)"
              "{i.setAttribute('data-ok', i.complete && i.naturalWidth>0 ? 'yes':'no');}"
              "document.body.setAttribute('data-done','1');});</script>")
    page = tmp_path / "report.html"
    page.write_text(text.replace("</body>", script + "</body>"))
    common = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--no-first-run"]
    shot = tmp_path / "shot.png"
    subprocess.run(common + [f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
                   check=True, timeout=120, capture_output=True)
    assert _is_png(shot)
    dom = subprocess.run(common + ["--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         check=True, timeout=120, capture_output=True, text=True).stdout
    assert dom.count('data-ok="yes"') == len(figures)
    assert 'data-ok="no"' not in dom


def test_report_complex_eigenvalues_and_missing_ck(figures, tmp_path):
    s = _summary()
    s["eigenvalues"] = [{"real": 0.9, "imag": 0.1}, 0.5]
    s["ck_test"] = None
    s["ck_test_reason"] = "CK test not possible: too few states"
    text = render_report(s, {"its": figures["its"]})
    assert "0.9+0.1i" in text
    assert "CK test not possible: too few states" in text
    assert text.count("<img ") == 1
