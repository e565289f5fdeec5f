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
