"""`mdkoop transform` on trajectory files of a tiny fitted run."""

from __future__ import annotations

import numpy as np
import pytest

from mdkoop.cli.main import main
from mdkoop.training.model import load_model
from tests.analysis._runs import fitted_run

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return fitted_run(tmp_path_factory)


def test_transform_npz(run, tmp_path):
    out = tmp_path / "cvs.npz"
    dcd = [str(p) for p in run["dcd"]]
    # input order is kept: give the files in reverse
    rc = main(["transform", str(run["run"]), dcd[2], dcd[0], "--top", str(run["pdb"]), "--out", str(out)])
    assert rc == 0
    model = load_model(run["run"])
    k = len(model.singular_values)  # CVs: the numerically resolved singular functions (<= n_modes - 1)
    with np.load(out, allow_pickle=False) as z:
        assert sorted(z.files) == ["traj0", "traj1"]
        a, b = z["traj0"], z["traj1"]
    assert a.shape == (400, k) and b.shape == (400, k) and a.dtype == np.float64
    # the files hold all 175 atoms; the model selects its 10 CA atoms: same CVs as on the store
    ref = model.transform(run["store"])
    assert np.allclose(a, ref[2], atol=1e-4) and np.allclose(b, ref[0], atol=1e-4)
    # transform on the training data equals the singular functions of the features used in the estimation
    feats = model.features(run["store"])
    assert np.allclose(ref[0], model.linear.transform_features(feats[0], kind="singular"), atol=1e-10)
    # a store directory contributes one array per trajectory, after the files given before it
    out2 = tmp_path / "mixed.npz"
    assert main(["transform", str(run["run"]), dcd[1], str(run["store"].path), "--top", str(run["pdb"]),
                 "--out", str(out2)]) == 0
    with np.load(out2) as z:
        assert sorted(z.files) == ["traj0", "traj1", "traj2", "traj3"]
        assert np.allclose(z["traj0"], ref[1], atol=1e-4) and np.allclose(z["traj3"], ref[2], atol=1e-10)
    # a save/load round trip gives identical CVs
    assert np.allclose(run["model"].transform(run["store"])[0], ref[0], atol=1e-6)


def test_transform_options_and_refusals(run, tmp_path, capsys):
    out = tmp_path / "e.npz"
    dcd = str(run["dcd"][1])
    assert main(["transform", str(run["run"]), dcd, "--top", str(run["pdb"]), "--out", str(out), "--kind", "eigen",
                 "--k", "1"]) == 0
    with np.load(out) as z:
        assert z["traj0"].shape == (400, 1)
    before = out.read_bytes()
    assert main(["transform", str(run["run"]), dcd, "--top", str(run["pdb"]), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["transform", str(run["run"]), dcd, "--top", str(run["pdb"]), "--out", str(tmp_path / "k.npz"), "--k", "9"]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["transform", str(run["run"]), str(tmp_path / "no.dcd"), "--top", str(run["pdb"]),
                 "--out", str(tmp_path / "n.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["transform", str(run["run"]), dcd, "--top", str(run["pdb"]), "--out", str(tmp_path / "x.txt")]) == 2
    assert ".npz" in capsys.readouterr().err


def test_transform_feature_model_npy(tmp_path, capsys):
    """Models on feature arrays (MLP) take .npy files of the same features."""
    from mdkoop.training.estimator import KoopmanSVD
    from tests.analysis._chains import indicator_features, simulate

    feats = [f.astype(np.float32) for f in indicator_features(simulate(n_traj=2, n_steps=600, seed=5))]
    KoopmanSVD(lagtime=2, n_modes=3, encoder="mlp", epochs=2, batch_size=64, hidden=(8,), device="cpu",
               val_fraction=0.0).fit(feats, run_dir=tmp_path / "mlp")
    paths = []
    for i, f in enumerate(feats):
        np.save(tmp_path / f"f{i}.npy", f)
        paths.append(str(tmp_path / f"f{i}.npy"))
    out = tmp_path / "cv.npz"
    assert main(["transform", str(tmp_path / "mlp"), *paths, "--out", str(out)]) == 0
    model = load_model(tmp_path / "mlp")
    ref = model.transform(feats)
    with np.load(out) as z:
        assert sorted(z.files) == ["traj0", "traj1"]
        assert np.allclose(z["traj0"], ref[0]) and np.allclose(z["traj1"], ref[1])
    # trajectory files for a feature model: refused with the reason
    assert main(["transform", str(tmp_path / "mlp"), str(tmp_path / "f0.npy").replace(".npy", ".dcd"),
                 "--out", str(tmp_path / "z.npz")]) == 2
    capsys.readouterr()
    (tmp_path / "t.dcd").write_bytes(b"")
    assert main(["transform", str(tmp_path / "mlp"), str(tmp_path / "t.dcd"), "--out", str(tmp_path / "z.npz")]) == 2
    assert "feature arrays" in capsys.readouterr().err
