"""The bundled CLN025 sample as a workspace of the CLI tests: files copied, a store, a tiny fitted run."""

from __future__ import annotations

import shutil
from pathlib import Path

#: `mdkoop fit` options of a tiny run (seconds on one core)
FIT = ["--lag", "20ps", "--modes", "3", "--epochs", "1", "--batch-size", "64", "--n-atom-basis", "8",
       "--interactions", "1", "--n-rbf", "4", "--val-fraction", "0", "--no-progress"]


def sample_workspace(d: Path, files=("topology.pdb", "trajectory.xtc"), sample_dir="sample", select=None) -> Path:
    """Copy the sample's ``files`` into ``d/sample_dir``, prepare ``d/store`` and fit ``d/run``; return ``d``."""
    from mdkoop.cli.main import main
    from mdkoop.resources import resource_path

    src = d / sample_dir
    src.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy(resource_path("sample") / name, src / name)
    sel = [] if select is None else ["--select", select]
    assert main(["prepare", str(src / "topology.pdb"), str(src / "trajectory.xtc"), "--out", str(d / "store"), *sel]) == 0
    assert main(["fit", str(d / "store"), *FIT, "--out", str(d / "run")]) == 0
    return d
