"""One owner for every fit setting: each config field goes CLI -> config.json -> refit without being dropped,
and the CLI's defaults are the config's."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from mdkoop.training.config import EncoderConfig, TrainConfig

#: config fields that no option sets, with the reason
NOT_OPTIONS = {
    "kind": "set by --encoder",
    "n_in": "derived from the data",
    "index": "resolved from the selection at fit time",
    "timestep": "the store's frame spacing",
    "time_unit": "ps for stores",
}

#: a non-default value for every option, with the config field it must reach
VALUES = {
    # TrainConfig
    "--modes": ("n_modes", "4", 4), "--loss": ("loss", "vamp2", "vamp2"), "--nesting": ("nesting", "sequential", "sequential"),
    "--epochs": ("epochs", "7", 7), "--batch-size": ("batch_size", "32", 32), "--lr": ("lr", "0.002", 0.002),
    "--weight-decay": ("weight_decay", "0.01", 0.01), "--grad-clip": ("grad_clip", "2.5", 2.5),
    "--schedule": ("schedule", "cosine", "cosine"), "--plateau-patience": ("plateau_patience", "5", 5),
    "--tol": ("tol", "0.01", 0.01), "--patience": ("patience", "4", 4), "--val-fraction": ("val_fraction", "0.2", 0.2),
    "--seed": ("seed", "3", 3), "--device": ("device", "cpu", "cpu"), "--devices": ("devices", "1", 1),
    "--num-nodes": ("num_nodes", "1", 1), "--precision": ("precision", "32", "32"),
    "--method": ("method", "nonreversible", "nonreversible"), "--checkpoint-every": ("checkpoint_every", "9", 9),
    "--lag": ("lagtime", "20ps", 10),
    # EncoderConfig
    "--cutoff": ("cutoff", "0.9", 0.9), "--n-atom-basis": ("n_atom_basis", "8", 8),
    "--interactions": ("n_interactions", "2", 2), "--n-rbf": ("n_rbf", "6", 6), "--pooling": ("pooling", "sum", "sum"),
    "--implementation": ("implementation", "schnetpack", "schnetpack"), "--lobes": ("lobes", "separate", "separate"),
    "--hidden": ("hidden", "8,4", (8, 4)), "--activation": ("activation", "silu", "silu"), "--distances-select": ("distances_select", "name CA or name CB", "name CA or name CB"),
    "--contact-r0": ("contact_r0", "0.7", 0.7), "--torsions": ("torsions", "phi,psi,chi1", ("phi", "psi", "chi1")),
}
FLAGS = {"--no-standardize-output": ("standardize_output", False)}


@pytest.fixture(scope="module")
def cln025_store(tmp_path_factory):
    """The bundled CLN025 sample (heavy atoms, 2 ps frames) as a store."""
    from mdkoop.io.store import prepare
    from mdkoop.resources import resource_path

    d = resource_path("sample")
    return prepare(d / "topology.pdb", [d / "trajectory.xtc"], tmp_path_factory.mktemp("opts") / "store")


def _fit_parser():
    from mdkoop.cli.main import build_parser

    return next(a for a in build_parser()._actions if a.dest == "command").choices["fit"]


def test_every_config_field_has_an_option_or_a_reason():
    dests = {a.dest for a in _fit_parser()._actions}
    fields = {f.name for f in dataclasses.fields(TrainConfig)} | {f.name for f in dataclasses.fields(EncoderConfig)}
    covered = {v[0] for v in VALUES.values()} | {v[0] for v in FLAGS.values()} | {"pairs"} | set(NOT_OPTIONS)
    assert fields == covered, (fields - covered, covered - fields)
    missing = {v[0] for v in VALUES.values()} - dests - {"lagtime"}
    assert not missing


def test_cli_defaults_are_the_config_defaults():
    from mdkoop.training.estimator import KoopmanSVD

    parser = _fit_parser()
    api = {k: p.default for k, p in inspect.signature(KoopmanSVD.__init__).parameters.items() if k != "self"}
    for a in parser._actions:
        if a.dest in api and a.dest not in ("lagtime", "encoder", "select"):
            assert a.default == api[a.dest], (a.dest, a.default, api[a.dest])
    cfg = {**TrainConfig().to_dict(), **EncoderConfig().to_dict()}
    for name, default in api.items():
        if name in cfg and name not in ("lagtime", "timestep"):
            want = tuple(cfg[name]) if isinstance(cfg[name], list) else cfg[name]
            assert (tuple(default) if isinstance(default, (list, tuple)) else default) == want, name


@pytest.mark.parametrize("encoder", ["schnet", "distances"])
def test_every_option_reaches_config_json_and_survives_a_refit(cln025_store, tmp_path, encoder):
    from mdkoop.cli.fit import estimator_from_args
    from mdkoop.training.config import FitConfig
    from mdkoop.training.estimator import KoopmanSVD

    argv = ["fit", str(cln025_store.path), "--out", str(tmp_path / "run"), "--encoder", encoder]
    for opt, (_, text, _) in VALUES.items():
        argv += [opt, text]
    argv += list(FLAGS)
    from mdkoop.cli.main import build_parser

    args = build_parser().parse_args(argv)
    plan = estimator_from_args(args).plan(cln025_store)
    cfg = plan.config
    for opt, (name, _, want) in {**VALUES, **{k: (v[0], None, v[1]) for k, v in FLAGS.items()}}.items():
        section = cfg.train if hasattr(cfg.train, name) else cfg.encoder
        assert getattr(section, name) == want, (opt, name, getattr(section, name), want)
    assert cfg.encoder.kind == encoder
    cfg.save(tmp_path / "config.json")  # config.json -> a new estimator -> the same plan
    again = KoopmanSVD.from_config(FitConfig.load(tmp_path / "config.json")).plan(cln025_store).config
    assert again.encoder == cfg.encoder and again.train == cfg.train
