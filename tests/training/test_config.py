"""FitConfig: validation of every option, and the JSON round trip."""

import json

import pytest

from mdkoop.errors import ConfigError
from mdkoop.training.config import EncoderConfig, FitConfig, TrainConfig


def test_json_round_trip_is_exact(tmp_path):
    cfg = FitConfig(
        encoder=EncoderConfig(kind="schnet", n_atom_basis=32, cutoff=0.5, lobes="separate", hidden=(16, 8)),
        train=TrainConfig(lagtime=7, n_modes=4, loss="vamp2", nesting="sequential", lr=3e-4, timestep=2.5,
                          time_unit="ps", precision="32", method="nonreversible"),
        data={"store": "/x/store", "select": "name CA"},
    )
    cfg.save(tmp_path / "config.json")
    back = FitConfig.load(tmp_path / "config.json")
    assert back == cfg
    assert isinstance(back.encoder.hidden, tuple)
    assert json.loads((tmp_path / "config.json").read_text())["train"]["lagtime"] == 7


def test_defaults_are_the_papers():
    e = EncoderConfig()
    assert (e.n_atom_basis, e.n_interactions, e.n_rbf, e.cutoff) == (64, 3, 20, 0.6)
    assert TrainConfig().loss == "lora" and TrainConfig().nesting == "joint"


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"loss": "lorax"}, "--loss"),
        ({"nesting": "diagonal"}, "--nesting"),
        ({"device": "tpu"}, "--device"),
        ({"precision": "16"}, "--precision"),
        ({"n_modes": 1}, "modes"),
        ({"batch_size": 0}, "batch size"),
        ({"lr": -1.0}, "learning rate"),
        ({"lr": float("nan")}, "learning rate"),
        ({"val_fraction": 0.95}, "val-fraction"),
        ({"lagtime": 0}, "lag"),
    ],
)
def test_bad_train_values_are_refused_with_the_option_named(kw, word):
    with pytest.raises(ConfigError, match=word):
        TrainConfig(**kw)


@pytest.mark.parametrize("kw", [{"kind": "gnn"}, {"cutoff": 6.0}, {"lobes": "both"}, {"pooling": "max"}, {"hidden": ()}])
def test_bad_encoder_values_are_refused(kw):
    with pytest.raises(ConfigError):
        EncoderConfig(**kw)


def test_unknown_keys_are_refused():
    d = FitConfig().to_dict()
    d["train"]["learning_rate"] = 1.0
    with pytest.raises(ConfigError, match="learning_rate"):
        FitConfig.from_dict(d)


def test_replace_keeps_validation():
    cfg = FitConfig()
    assert cfg.replace(train__lr=0.1).train.lr == 0.1
    with pytest.raises(ConfigError):
        cfg.replace(train__loss="nope")
