"""The MLP activation option: default tanh, passed to the built encoder, recorded, and legacy files load as SiLU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import mdkoop
from mdkoop.errors import ConfigError
from mdkoop.nn.build import build_encoder
from mdkoop.nn.mlp import ACTIVATIONS
from mdkoop.registry import MLP_ACTIVATIONS
from mdkoop.training.config import LEGACY_MLP_ACTIVATION, EncoderConfig, FitConfig
from mdkoop.training.model import load_model


def _activation_types(enc):
    return {type(m) for m in enc.modules() if type(m) in set(ACTIVATIONS.values())}


def test_config_choices_are_the_mlp_activations():
    assert set(MLP_ACTIVATIONS) == set(ACTIVATIONS)
    assert EncoderConfig().activation == "tanh"


@pytest.mark.parametrize("name", ["tanh", "silu", "elu"])
def test_build_encoder_uses_the_configured_activation(name):
    enc = build_encoder(EncoderConfig(kind="mlp", n_in=3, activation=name), 4)
    assert _activation_types(enc) == {ACTIVATIONS[name]}


def test_unknown_activation_is_refused_before_work(chain_data):
    with pytest.raises(ConfigError, match="activation"):
        EncoderConfig(activation="sigmoidish")
    with pytest.raises(ConfigError, match="activation"):
        mdkoop.KoopmanSVD(lagtime=5, activation="sigmoidish").plan(chain_data[0])


def test_config_without_activation_is_read_as_the_legacy_silu():
    d = EncoderConfig(kind="mlp", n_in=2).to_dict()
    assert d["activation"] == "tanh"
    assert EncoderConfig.from_dict(d).activation == "tanh"  # round trip keeps the recorded value
    del d["activation"]
    assert EncoderConfig.from_dict(d).activation == LEGACY_MLP_ACTIVATION == "silu"
    full = FitConfig(encoder=EncoderConfig(kind="mlp", n_in=2, activation="elu")).to_dict()
    assert FitConfig.from_dict(full).encoder.activation == "elu"


def test_saved_model_keeps_its_activation_and_legacy_model_json_loads_as_silu(chain_data, tmp_path):
    trajs, _ = chain_data
    est = mdkoop.KoopmanSVD(lagtime=20, n_modes=3, epochs=1, batch_size=512, hidden=(8,), activation="silu",
                            val_fraction=0.0, seed=0, device="cpu")
    model = est.fit(trajs).fetch_model()
    ref = model.features([trajs[0][:50]])[0]
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["encoder"]["activation"] == "silu"
    np.testing.assert_allclose(load_model(tmp_path / "m").features([trajs[0][:50]])[0], ref, rtol=1e-6, atol=1e-6)
    # a model.json written before the field existed (its MLP was built with SiLU) loads with the same outputs
    del meta["encoder"]["activation"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    legacy = load_model(tmp_path / "m")
    assert _activation_types(legacy.encoder_f) == {torch.nn.SiLU}
    np.testing.assert_allclose(legacy.features([trajs[0][:50]])[0], ref, rtol=1e-6, atol=1e-6)
