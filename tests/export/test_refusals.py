"""Refusals: bad CV numbers, bad kind/format, existing or unwritable output; nothing is written."""

from __future__ import annotations

import os

import pytest
import torch

from mdkoop.errors import (
    ConfigError,
    InputError,
    MdkoopError,
    ModelFormatError,
    OutputError,
    OutputExistsError,
)
from mdkoop.export import export_model, parse_cvs


@pytest.mark.parametrize("cvs", ["0", "6", "1.5", "a", "1,1", "", [0], [2, 7], "-1", [True]])
def test_bad_cv_numbers_write_nothing(standin, tmp_path, cvs):
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        export_model(standin["spec"], out, format="plumed", cvs=cvs)
    assert "between 1 and 5" in str(err.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_parse_cvs_accepts_good_forms():
    assert parse_cvs(None, 3) == [1, 2, 3]
    assert parse_cvs("3, 1", 3) == [3, 1]
    assert parse_cvs([2], 3) == [2] and parse_cvs(2, 3) == [2] and parse_cvs([2.0], 3) == [2]


def test_bad_kind_and_format(standin, tmp_path):
    with pytest.raises(ConfigError, match="--format"):
        export_model(standin["spec"], tmp_path / "o", format="gromacs")
    with pytest.raises(ConfigError, match="--kind"):
        export_model(standin["spec"], tmp_path / "o", format="plumed", kind="left")
    assert list(tmp_path.iterdir()) == []


def test_existing_directory_needs_overwrite(standin, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        export_model(standin["spec"], out, format="torchscript", cvs="1")
    assert (out / "keep.txt").exists()
    # a directory mdkoop did not write is never replaced, not even with overwrite
    with pytest.raises(OutputExistsError, match="not written by mdkoop"):
        export_model(standin["spec"], out, format="torchscript", cvs="1", overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    # an export mdkoop wrote is replaced
    out2 = tmp_path / "out2"
    export_model(standin["spec"], out2, format="plumed", cvs="1")
    export_model(standin["spec"], out2, format="torchscript", cvs="1", overwrite=True)
    assert sorted(p.name for p in out2.iterdir()) == [".mdkoop-output.json", "README.md", "cv_model.pt", "metadata.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out2"]  # no temporary left behind


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write into read-only directories")
def test_unwritable_directory(standin, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            export_model(standin["spec"], ro / "out", format="plumed")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_unwritable_directory_as_root_too(standin, tmp_path):
    """A path below a regular file cannot be created, whoever runs the test."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MdkoopError):
        export_model(standin["spec"], blocker / "out", format="openmm")
    assert blocker.read_text() == "x" and [p.name for p in tmp_path.iterdir()] == ["file"]


def test_cv_statistics_known_answer():
    """Two metastable levels (-1, +1) with within-state noise 0.1: range and within-lag fluctuation."""
    import numpy as np

    from mdkoop.export import cv_statistics

    rng = np.random.default_rng(0)
    level = np.repeat([-1.0, 1.0, -1.0, 1.0], 500)
    x = (level + 0.1 * rng.normal(size=level.size))[:, None]
    st = cv_statistics([x[:1000], x[1000:]], lag_frames=20)
    assert st["n_frames"] == 2000
    assert abs(st["sigma"][0] - 0.1) < 0.01  # the noise, not the 1.0 spread between states
    assert abs(st["std"][0] - 1.0) < 0.02
    assert st["min"][0] == x.min() and st["max"][0] == x.max()


class _Unscriptable(torch.nn.Module):
    def forward(self, pos, *args, **kwargs):  # *args/**kwargs cannot be compiled by TorchScript
        return pos.sum(dim=(1, 2)).unsqueeze(1)


def test_unscriptable_encoder_is_refused_before_writing(standin, tmp_path):
    import dataclasses

    spec = dataclasses.replace(standin["spec"], features=_Unscriptable())
    with pytest.raises(ModelFormatError, match="TorchScript"):
        export_model(spec, tmp_path / "out", format="torchscript")
    assert list(tmp_path.iterdir()) == []


def test_feature_model_is_refused(tmp_path):
    """A model on precomputed features (MLP encoder, no atoms) has no positions to export from."""
    from types import SimpleNamespace

    model = SimpleNamespace(encoder_config=SimpleNamespace(kind="mlp"), encoder_f=torch.nn.Linear(3, 2), atoms=None)
    with pytest.raises(ModelFormatError, match="structural"):
        export_model(model, tmp_path / "out", format="plumed")
    assert list(tmp_path.iterdir()) == []
