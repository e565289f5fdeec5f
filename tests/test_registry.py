"""Each set of names is defined once (mdkoop.registry) and read from there by the CLI, the config and the code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mdkoop import registry
from mdkoop.errors import ConfigError


def _choices(parser, dest):
    sub = next(a for a in parser._actions if a.dest == "command").choices["fit"]
    return tuple(next(a for a in sub._actions if a.dest == dest).choices)


@pytest.mark.parametrize("dest, names", [
    ("loss", "LOSSES"), ("nesting", "NESTINGS"), ("schedule", "SCHEDULES"), ("method", "METHODS"),
    ("device", "DEVICES"), ("precision", "PRECISIONS"), ("pooling", "POOLINGS"),
    ("implementation", "IMPLEMENTATIONS"), ("lobes", "LOBES"),
])
def test_cli_choices_are_the_registry(dest, names):
    from mdkoop.cli.main import build_parser

    assert _choices(build_parser(), dest) == getattr(registry, names)


def test_code_accepts_exactly_the_registered_names():
    import torch

    from mdkoop.nn.mlp import ACTIVATIONS
    from mdkoop.objectives.losses import make_loss
    from mdkoop.training.config import EncoderConfig, TrainConfig

    assert set(ACTIVATIONS) == set(registry.MLP_ACTIVATIONS)
    for name in registry.LOSSES:
        assert isinstance(make_loss(name), torch.nn.Module), name
    with pytest.raises(ConfigError, match=", ".join(registry.LOSSES)):
        make_loss("mse")
    for nesting in registry.NESTINGS:
        TrainConfig(nesting=nesting)
    with pytest.raises(ConfigError):
        TrainConfig(nesting="diagonal")
    for pooling in registry.POOLINGS:
        EncoderConfig(kind="schnet", pooling=pooling)


def test_the_parser_needs_no_torch():
    code = "import sys; from mdkoop.cli.main import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
