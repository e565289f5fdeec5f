"""SchNet fit on a tiny real-atom store (CLN025 heavy atoms), through the estimator and `mdkoop fit`."""

import json

import mdtraj as md
import numpy as np
import pytest
import torch

import mdkoop
from mdkoop.cli.main import main
from mdkoop.errors import InputError

SMALL = ["--n-atom-basis", "16", "--interactions", "1", "--n-rbf", "8", "--batch-size", "16", "--lr", "1e-2",
         "--epochs", "2", "--modes", "3", "--checkpoint-every", "3", "--no-progress"]


@pytest.fixture(scope="module")
def cli_run(cln025_store, tmp_path_factory):
    run = tmp_path_factory.mktemp("fit") / "run"
    rc = main(["fit", str(cln025_store.path), "--lag", "20ps", "--out", str(run), *SMALL])
    assert rc == 0
    return run


def test_run_directory_is_complete(cli_run, cln025_store):
    names = {p.name for p in cli_run.iterdir()}
    assert {"model.pt", "model.json", "config.json", "metrics.csv", "checkpoints"} <= names
    assert (cli_run / "checkpoints" / "last.ckpt").is_file() and (cli_run / "checkpoints" / "best.ckpt").is_file()
    assert not any(n.endswith(".inprogress") for n in (p.name for p in cli_run.parent.iterdir()))
    sd = torch.load(cli_run / "model.pt", weights_only=True)
    assert sd and all(torch.is_tensor(v) for v in sd.values())
    meta = json.loads((cli_run / "model.json").read_text())
    assert meta["lagtime"] == 2 and meta["lagtime_ps"] == pytest.approx(20.0) and meta["timestep"] == 10.0
    assert meta["units"] == {"length": "nm", "time": "ps"}
    assert meta["encoder"]["kind"] == "schnet" and meta["encoder"]["n_atom_basis"] == 16
    assert meta["atoms"]["atomic_numbers"] == [int(z) for z in cln025_store.atomic_numbers]
    assert meta["atoms"]["indices"] == [int(i) for i in cln025_store.atom_indices]
    assert meta["versions"]["torch"] and meta["linear"]["lagtime"] == 2
    cfg = json.loads((cli_run / "config.json").read_text())
    assert cfg["train"]["batch_size"] == 16 and cfg["train"]["loss"] == "lora"
    header = (cli_run / "metrics.csv").read_text().splitlines()[0]
    assert "train_loss_step" in header and "val_vampe" in header


def test_model_from_run_dir(cli_run, cln025_store, cln025_pdb, tmp_path):
    model = mdkoop.load_model(cli_run)
    assert model.lagtime == 2 and model.lagtime_ps == pytest.approx(20.0)
    ts = model.timescales()
    assert np.all(ts > 0) and np.all(np.isfinite(ts)) and np.all(np.diff(ts) <= 0)
    cvs = model.transform(cln025_store)
    assert [c.shape[0] for c in cvs] == list(cln025_store.trajectory_lengths)
    # save/load round trip: identical CVs
    model.save(tmp_path / "copy")
    back = mdkoop.load_model(tmp_path / "copy")
    for a, b in zip(cvs, back.transform(cln025_store)):
        np.testing.assert_array_equal(a, b)
    # transform on the training data equals the features the estimation used: re-estimate from features()
    from mdkoop.data.pairs import TimeLaggedPairs
    from mdkoop.training.split import validation_split

    F = np.concatenate(model.features(cln025_store))
    segs = validation_split(cln025_store.trajectory_lengths, 2, 0.1, 0)
    pairs = TimeLaggedPairs(cln025_store.trajectory_lengths, 2, segments=segs["train"]).indices
    from mdkoop.estimation.model import LinearKoopmanModel

    lin = LinearKoopmanModel.from_features(F[pairs[:, 0]], F[pairs[:, 1]], lagtime=2, timestep=10.0)
    np.testing.assert_allclose(lin.cov_0t, model.linear.cov_0t, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(lin.timescales(), model.timescales(), rtol=1e-4)
    # an mdtraj Trajectory of the full system gives the same CVs as the store (atoms picked by index)
    traj0 = cln025_store.trajectory(0)
    top = md.load(str(cln025_pdb)).topology
    xyz = np.zeros((len(traj0), top.n_atoms, 3), np.float32)
    xyz[:, cln025_store.atom_indices] = traj0
    cv_md = model.transform(md.Trajectory(xyz, top))[0]
    np.testing.assert_allclose(cv_md, cvs[0], atol=1e-5)
    # frames of other atoms are refused
    with pytest.raises(InputError):
        model.transform([np.zeros((5, 10, 3), np.float32)])


def test_estimator_on_store_separate_lobes_and_selection(cln025_store):
    est = mdkoop.KoopmanSVD(lagtime="20ps", n_modes=3, encoder="schnet", epochs=3, batch_size=16, lr=1e-2,
                            seed=0, lobes="separate", select="name CA", n_atom_basis=8, n_interactions=1, n_rbf=8,
                            pooling="sum")
    model = est.fit(cln025_store).fetch_model()
    assert model.encoder_g is not None and len(model.atoms["indices"]) == 10
    assert model.atoms["names"] == ["CA"] * 10
    assert model.lagtime == 2 and model.timescales().shape[0] >= 1
    assert model.transform(cln025_store)[0].shape[0] == cln025_store.trajectory_lengths[0]
    # Separate lobes: the linear model is the Galerkin estimate on the left lobe at both times. Re-estimating it
    # from f(x_t), f(x_t+tau) of the training pairs gives the same spectrum (EDMD on (f, g) would not).
    from mdkoop.estimation.model import LinearKoopmanModel

    f = model.features(cln025_store)
    lag = model.lagtime
    pairs = est.plan(cln025_store).train_pairs.indices
    flat = np.concatenate(f)
    ref = LinearKoopmanModel.from_features(flat[pairs[:, 0]], flat[pairs[:, 1]], lagtime=lag,
                                           reversible=model.linear.reversible)
    np.testing.assert_allclose(model.eigenvalues, ref.eigenvalues, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.singular_values, ref.singular_values, rtol=1e-4, atol=1e-6)
