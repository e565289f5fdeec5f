"""The documentation builds: Sphinx with numpydoc, autosummary and myst-parser, warnings as errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sphinx_builds_the_reference_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("myst_parser")
    pytest.importorskip("pydata_sphinx_theme")
    src = tmp_path / "docs"
    shutil.copytree(REPO / "docs", src, ignore=shutil.ignore_patterns("_build", "generated"))
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(src),
                           str(tmp_path / "html")], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-4000:]
    api = (tmp_path / "html" / "api.html").read_text()
    for name in ("KoopmanSVD", "DescriptorEncoder", "lora_loss", "export_model", "ExportSpec"):
        assert name in api, name
    page = (tmp_path / "html" / "generated" / "mdkoop.KoopmanSVD.html").read_text()
    assert "from_config" in page and "Parameters" in page  # the numpydoc sections are rendered
