"""MLPEncoder: shapes, standardisation, TorchScript, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mdkoop.errors import ConfigError, InputError
from mdkoop.nn.mlp import MLPEncoder


def test_standardisation_makes_the_encoder_invariant_to_input_affine_maps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    a = MLPEncoder(3, 2, hidden=(16,)).set_standardization(x)
    b = MLPEncoder(3, 2, hidden=(16,))
    b.load_state_dict(a.state_dict())
    scale, shift = np.array([10.0, 0.1, 3.0]), np.array([5.0, -2.0, 0.0])
    b.set_standardization(x * scale + shift)
    xa = torch.as_tensor(x, dtype=torch.float32)
    xb = torch.as_tensor(x * scale + shift, dtype=torch.float32)
    torch.testing.assert_close(a(xa), b(xb), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.in_mean.numpy(), x.mean(0), rtol=1e-5)


def test_torchscript_and_state_dict_round_trip(tmp_path):
    enc = MLPEncoder(4, 3, hidden=(8, 8), activation="tanh").set_standardization(np.random.rand(20, 4))
    scripted = torch.jit.script(enc)
    x = torch.randn(5, 4)
    torch.testing.assert_close(scripted(x), enc(x))
    torch.save(enc.state_dict(), tmp_path / "m.pt")
    enc2 = MLPEncoder(4, 3, hidden=(8, 8), activation="tanh")
    enc2.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    torch.testing.assert_close(enc2(x), enc(x))
    assert enc(x).shape == (5, 3)


def test_errors():
    with pytest.raises(ConfigError, match="activation"):
        MLPEncoder(2, 2, activation="sigmoidish")
    with pytest.raises(ConfigError):
        MLPEncoder(0, 2)
    with pytest.raises(InputError, match="shape"):
        MLPEncoder(2, 2).set_standardization(np.zeros((10, 3)))
