"""Packaging and foundation: pyproject/environment.yml consistency, CLI surface, compat shim."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from tests.conftest import REPO

# pip name -> conda-forge name, where they differ
_CONDA_NAMES = {
    "torch": "pytorch",
    "torch-geometric": "pytorch_geometric",
    "matplotlib": "matplotlib-base",
    "mdanalysis": "mdanalysis",
    "mdanalysistests": "mdanalysistests",
}


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].strip().lower()


def _pyproject():
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def test_environment_yml_matches_pyproject():
    proj = _pyproject()["project"]
    pip_names = {_name(r) for r in proj["dependencies"]}
    for extra in ("openmm", "dev"):
        pip_names |= {_name(r) for r in proj["optional-dependencies"][extra]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python"}
    expected = {_CONDA_NAMES.get(n, n) for n in pip_names}
    missing = expected - conda
    assert not missing, f"environment.yml lacks {sorted(missing)} that pyproject.toml requires"
    extra = conda - expected - {"plumed", "openmm-torch"}
    assert not extra, f"environment.yml lists {sorted(extra)} that pyproject.toml does not"
    assert {"plumed", "openmm-torch"} <= conda


def test_runtime_dependencies_are_imported_somewhere():
    """Every runtime dependency in pyproject is imported by the package (no dead dependencies)."""
    import_names = {
        "torch": "torch", "torch-geometric": "torch_geometric", "schnetpack": "schnetpack",
        "pytorch-lightning": "pytorch_lightning", "mdtraj": "mdtraj", "mdanalysis": "MDAnalysis",
        "deeptime": "deeptime", "numpy": "numpy", "scipy": "scipy", "matplotlib": "matplotlib",
        "tqdm": "tqdm", "pyyaml": "yaml",
    }
    source = "\n".join(p.read_text() for p in (REPO / "mdkoop").rglob("*.py"))
    for req in _pyproject()["project"]["dependencies"]:
        mod = import_names[_name(req)]
        pat = rf"^\s*(import|from)\s+{re.escape(mod)}\b" if mod != "schnetpack" else r"import schnetpack"
        assert re.search(pat, source, re.M), f"{req} is a dependency but mdkoop never imports {mod}"


def test_cli_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "mdkoop.cli.main", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("prepare", "fit", "analyze", "transform", "export", "data", "simulate", "demo", "info"):
        assert re.search(rf"^\s+{cmd}\s", out, re.M), f"`mdkoop --help` does not list {cmd}"


def test_cli_prints_errors_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mdkoop.cli.main", "info", str(tmp_path / "nope")], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("mdkoop info: error:")


def test_schnetpack_imports_through_the_shim():
    from mdkoop._compat import import_schnetpack

    spk = import_schnetpack()
    assert hasattr(spk.representation, "SchNet")
    # the shim is typing-only: the DataLoader itself is untouched
    import torch.utils.data.dataloader as dl

    assert dl.DataLoader is __import__("torch").utils.data.DataLoader


def test_package_never_imports_schnetpack_directly():
    for p in (REPO / "mdkoop").rglob("*.py"):
        if p.name == "_compat.py":
            continue
        assert not re.search(r"^\s*(import schnetpack|from schnetpack)", p.read_text(), re.M), (
            f"{p} imports schnetpack directly; use mdkoop._compat.import_schnetpack()"
        )


def test_bundled_structure_has_attribution():
    from mdkoop.resources import RESOURCES

    assert (RESOURCES / "cln025.pdb").exists()
    text = (RESOURCES / "ATTRIBUTION.md").read_text()
    assert "noegroup/aggforce" in text and "Apache" in text


def test_public_api_names_resolve():
    import mdkoop

    for name in mdkoop.__all__:
        assert getattr(mdkoop, name) is not None
    with pytest.raises(AttributeError):
        mdkoop.not_a_thing  # noqa: B018


def test_demo_time_and_best_checkpoint_are_documented_consistently():
    """`mdkoop --help` and the README give the demo the same duration; the docs say when best.ckpt exists."""
    from mdkoop.cli.main import build_parser

    help_text = build_parser().format_help()
    demo = next(line for line in help_text.splitlines() if line.strip().startswith("demo"))
    claim = demo.split("(")[1].split(")")[0]  # "CPU, a few minutes"
    assert claim.split(", ")[1] in (REPO / "README.md").read_text()
    training = (REPO / "docs" / "training.md").read_text()
    assert "best.ckpt (best validation VAMP-E) only with validation" in training
    assert "(--val-fraction > 0)" in training
