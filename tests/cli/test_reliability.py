"""What a careless user can do to mdkoop's commands, and what must never happen.

Each refusal is checked as a user sees it: exit status 2, one message that names the problem and the fix,
no traceback, and the whole workspace byte-identical afterwards (no partial output, inputs untouched).
The workspace is the bundled CLN025 sample (XTC + PDB), a store of its CA atoms, and a tiny fitted run.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mdkoop.cli.main import main
from tests._sample_runs import FIT, sample_workspace

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """sample/{topology.pdb,trajectory.xtc}, store/ (CA atoms), run/ (a tiny fitted run)."""
    return sample_workspace(tmp_path_factory.mktemp("reliability"), select="name CA")


@pytest.fixture
def ws(workspace, tmp_path, monkeypatch):
    """A private copy of the workspace; the current directory is its root (paths as a user types them)."""
    root = tmp_path / "ws"
    shutil.copytree(workspace, root, symlinks=True)
    cfg = root / "run" / "config.json"  # the copied run records the copied store
    c = json.loads(cfg.read_text())
    c["data"]["store"] = str(root / "store")
    cfg.write_text(json.dumps(c))
    monkeypatch.chdir(root)
    return root


def snapshot(root: Path) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def refused(capsys, root: Path, argv: list[str], words: list[str]) -> str:
    """Run ``mdkoop ARGV``; assert a clean refusal and that nothing under ``root`` changed."""
    before = snapshot(root)
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    for w in words:
        assert w in err, err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err  # one message
    assert snapshot(root) == before, "the refused command changed the workspace"
    return err


def S(*names):
    return [f"sample/{n}" for n in names]


# ---- data destroyed: must never happen ------------------------------------------------------------------------
def test_fit_overwrite_onto_its_own_store_is_refused(ws, capsys):
    refused(capsys, ws, ["fit", "store", *FIT, "--out", "store", "--overwrite"], ["input of this command", "store"])


@pytest.mark.parametrize("command", ["analyze", "export"])
def test_overwrite_onto_the_run_being_read_is_refused(ws, capsys, command):
    extra = ["--lags", "20ps"] if command == "analyze" else ["--format", "torchscript"]
    refused(capsys, ws, [command, "run", "--out", "run", "--overwrite", *extra], ["input of this command"])


def test_prepare_into_the_directory_of_its_inputs_is_refused(ws, capsys):
    (ws / "sample" / "unrelated.txt").write_text("my notes")
    refused(capsys, ws, ["prepare", *S("topology.pdb", "trajectory.xtc"), "--out", "sample", "--overwrite"],
            ["input of this command"])


@pytest.mark.parametrize("what", ["foreign_dir", "regular_file", "other_kind"])
@pytest.mark.parametrize("command", ["prepare", "fit", "analyze", "export"])
def test_overwrite_replaces_only_an_output_of_the_same_kind(ws, capsys, what, command):
    target = ws / "target"
    if what == "foreign_dir":
        target.mkdir()
        (target / "data.csv").write_text("1,2,3")
    elif what == "regular_file":
        target.write_text("a file")
    else:  # an mdkoop output of another kind
        shutil.copytree(ws / ("run" if command == "prepare" else "store"), target)
    argv = {"prepare": ["prepare", *S("topology.pdb", "trajectory.xtc"), "--select", "name CA"],
            "fit": ["fit", "store", *FIT],
            "analyze": ["analyze", "run", "--lags", "20ps"],
            "export": ["export", "run", "--format", "torchscript"]}[command]
    refused(capsys, ws, [*argv, "--out", "target", "--overwrite"], ["Refusing to replace", "target"])


def test_overwrite_replaces_mdkoops_own_output(ws, capsys):
    assert main(["prepare", *S("topology.pdb", "trajectory.xtc"), "--select", "name CA", "--out", "store2"]) == 0
    (ws / "store2" / "trajectories" / "traj_00000.npy").write_bytes(b"damaged")
    assert main(["prepare", *S("topology.pdb", "trajectory.xtc"), "--select", "name CA", "--out", "store2",
                 "--overwrite"]) == 0
    a = np.load(ws / "store" / "trajectories" / "traj_00000.npy")
    b = np.load(ws / "store2" / "trajectories" / "traj_00000.npy")
    np.testing.assert_array_equal(a, b)
    assert not [p for p in ws.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_transform_overwrite_replaces_only_its_own_cv_files(ws, capsys):
    args = ["transform", "run", "sample/trajectory.xtc", "--top", "sample/topology.pdb"]
    (ws / "mine.npz").write_bytes(b"not a CV file")
    refused(capsys, ws, [*args, "--out", "mine.npz", "--overwrite"], ["not a CV file that mdkoop wrote"])
    (ws / "dir.npz").mkdir()
    refused(capsys, ws, [*args, "--out", "dir.npz", "--overwrite"], ["existing directory"])
    assert main([*args, "--out", "cvs.npz"]) == 0
    assert main([*args, "--out", "cvs.npz", "--overwrite"]) == 0
    with np.load(ws / "cvs.npz") as z:
        assert z.files == ["traj0"]


# ---- wrong results accepted silently ------------------------------------------------------------------------
def test_nan_coordinates_in_a_store_are_refused(ws, capsys):
    x = np.load(ws / "store/trajectories/traj_00000.npy", mmap_mode="r+")
    x[10:20] = np.nan
    x.flush()
    del x
    refused(capsys, ws, ["fit", "store", *FIT, "--out", "run2"], ["NaN", "trajectory 0", "frame 10"])


def test_absurd_coordinates_are_refused(ws, capsys):
    import mdtraj as md

    t = md.load("sample/trajectory.xtc", top="sample/topology.pdb")[:20]
    t.xyz[5, 3, 0] = 2e6
    t.save_xtc("big.xtc")
    refused(capsys, ws, ["prepare", "sample/topology.pdb", "big.xtc", "--out", "s2"], ["absurd", "frame 5", "nm"])


@pytest.mark.parametrize("engine", ["mdtraj", "mdanalysis"])
@pytest.mark.parametrize("keep", [100_000, 150_000])
def test_both_engines_refuse_a_truncated_xtc(ws, capsys, engine, keep):
    (ws / "cut.xtc").write_bytes((ws / "sample/trajectory.xtc").read_bytes()[:keep])
    refused(capsys, ws, ["prepare", "sample/topology.pdb", "cut.xtc", "--out", "s2", "--engine", engine,
                         *([] if engine == "mdtraj" else ["--select", "name CA"])], ["cut.xtc", "truncated or corrupt"])


def test_appending_a_trajectory_already_in_the_store_is_refused(ws, capsys):
    refused(capsys, ws, ["prepare", *S("topology.pdb", "trajectory.xtc"), "--out", "store", "--append"],
            ["already in the store", "--allow-duplicates"])
    assert main(["prepare", *S("topology.pdb", "trajectory.xtc"), "--out", "store", "--append",
                 "--allow-duplicates"]) == 0
    assert json.loads((ws / "store/store.json").read_text())["n_trajectories"] == 2


# ---- tracebacks instead of messages ----------------------------------------------------------------------
@pytest.mark.parametrize("edit, words", [
    (lambda m: m.pop("n_atoms"), ["'n_atoms' is missing"]),
    (lambda m: m.update(timestep_ps="fast"), ["'timestep_ps' must be a positive number"]),
    (lambda m: m.update(trajectory_lengths=[5000]), ["'trajectory_lengths' says 5000"]),
    (lambda m: m["trajectories"][0].update(file="../../etc/passwd"), ["outside the store"]),
])
@pytest.mark.parametrize("command", ["info", "fit"])
def test_damaged_store_json_is_refused_by_name(ws, capsys, edit, words, command):
    meta = json.loads((ws / "store/store.json").read_text())
    edit(meta)
    (ws / "store/store.json").write_text(json.dumps(meta))
    argv = ["info", "store"] if command == "info" else ["fit", "store", *FIT, "--out", "run2"]
    refused(capsys, ws, argv, ["store.json", *words, "prepare it again"])


@pytest.mark.parametrize("content, words", [
    ("[]", ["must hold a JSON object"]),
    ("drop-encoder", ["'encoder' is missing"]),
    ("{", ["not valid JSON"]),
])
@pytest.mark.parametrize("command", ["transform", "analyze", "export"])
def test_damaged_model_json_is_refused_by_name(ws, capsys, content, words, command):
    p = ws / "run/model.json"
    if content == "drop-encoder":
        m = json.loads(p.read_text())
        del m["encoder"]
        content = json.dumps(m)
    p.write_text(content)
    argv = {"transform": ["transform", "run", "sample/trajectory.xtc", "--top", "sample/topology.pdb", "--out", "c.npz"],
            "analyze": ["analyze", "run", "--lags", "20ps", "--out", "an"],
            "export": ["export", "run", "--out", "ex"]}[command]
    refused(capsys, ws, argv, ["model.json", *words])


def test_unreadable_model_pt_never_suggests_unsafe_loading(ws, capsys):
    (ws / "run/model.pt").write_bytes(b"garbage")
    err = refused(capsys, ws, ["export", "run", "--out", "ex"], ["model.pt", "not a valid mdkoop model", "trust"])
    assert "weights_only=False" not in err


def test_absurd_mode_count_and_an_output_under_a_file_are_refused(ws, capsys):
    argv = [a if a != "3" else "100000" for a in FIT]
    refused(capsys, ws, ["fit", "store", *argv, "--out", "run2"], ["--modes 100000", "2-32"])
    (ws / "afile").write_text("x")
    refused(capsys, ws, ["fit", "store", *FIT, "--out", "afile/run"], ["is a file, not a directory"])


def _interrupted_run(ws: Path, name: str = "run2") -> Path:
    """The work directory NAME.inprogress of an interrupted run, without a checkpoint yet."""
    from mdkoop.training.run_dir import IN_PROGRESS_MARKER
    from mdkoop.utils.files import mark_output

    work = ws / f"{name}.inprogress"
    (work / "checkpoints").mkdir(parents=True)
    shutil.copy(ws / "run/config.json", work / "config.json")
    (work / IN_PROGRESS_MARKER).write_text("interrupted\n")
    mark_output(work, "run")
    return work


@pytest.mark.parametrize("ckpt", ["truncated", "malicious"])
def test_resume_from_a_damaged_or_malicious_checkpoint_is_refused(ws, capsys, tmp_path, ckpt):
    work = _interrupted_run(ws)
    sentinel = tmp_path / "pwned"
    if ckpt == "truncated":
        import torch

        torch.save({"state_dict": {"w": torch.zeros(100)}, "global_step": 3}, work / "checkpoints/last.ckpt")
        data = (work / "checkpoints/last.ckpt").read_bytes()
        (work / "checkpoints/last.ckpt").write_bytes(data[: len(data) // 2])
    else:
        class Payload:
            def __reduce__(self):
                return (os.system, (f"touch {sentinel}",))

        (work / "checkpoints/last.ckpt").write_bytes(pickle.dumps({"state_dict": Payload()}))
    err = refused(capsys, ws, ["fit", "store", *FIT, "--out", "run2", "--resume"],
                  ["last.ckpt", "not a valid mdkoop checkpoint", "--overwrite"])
    assert "weights_only=False" not in err
    assert not sentinel.exists()


def test_resume_while_the_run_is_still_training_is_refused(ws, capsys):
    work = _interrupted_run(ws)
    code = ("import sys, time; from mdkoop.utils.files import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(work)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        for extra in (["--resume"], ["--overwrite"], []):
            refused(capsys, ws, ["fit", "store", *FIT, "--out", "run2", *extra],
                    ["being trained right now", f"pid {proc.pid}"])
    finally:
        proc.kill()
        proc.wait()


def test_garbage_xtc_with_mdanalysis_prints_one_message_and_no_destructor_noise(ws):
    (ws / "garbage.xtc").write_bytes(os.urandom(3000))
    r = subprocess.run([sys.executable, "-m", "mdkoop", "prepare", "sample/topology.pdb", "garbage.xtc", "--out", "s2",
                        "--engine", "mdanalysis"], capture_output=True, text=True, cwd=ws)
    assert r.returncode == 2
    assert "garbage.xtc" in r.stderr and "truncated or corrupt" in r.stderr
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr, r.stderr
    assert not (ws / "s2").exists()


# ---- nothing half-written -------------------------------------------------------------------------------------
def test_a_failed_fit_before_its_first_checkpoint_leaves_nothing(ws, capsys, monkeypatch):
    import mdkoop.training.estimator as estimator

    def boom(*a, **k):
        raise MemoryError("simulated")

    monkeypatch.setattr(estimator, "train_and_estimate", boom)
    refused(capsys, ws, ["fit", "store", *FIT, "--out", "run2"], ["out of memory", "--batch-size"])


def test_an_unresumable_leftover_is_removed_and_a_resumable_one_explained(ws, capsys):
    work = _interrupted_run(ws, "run2")
    # no checkpoint: nothing to resume; the next fit removes it by itself and trains
    assert main(["fit", "store", *FIT, "--out", "run2"]) == 0
    assert (ws / "run2/model.pt").is_file() and not work.exists()
    assert "never reached a checkpoint" in capsys.readouterr().err
    # with a checkpoint: refused, saying how to resume or discard it
    work = _interrupted_run(ws, "run3")
    shutil.copy(ws / "run/model.pt", work / "checkpoints/last.ckpt")
    refused(capsys, ws, ["fit", "store", *FIT, "--out", "run3"], ["interrupted run", "--resume", "--overwrite"])


# ---- clear messages ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["fit", "store", "--lag=-5ps", "--out", "r"], ["'-5ps' must be positive"]),
    (["prepare", *S("topology.pdb", "trajectory.xtc"), "--out", "s", "--timestep=-5ps"], ["'-5ps' must be positive"]),
    (["prepare", *S("topology.pdb", "trajectory.xtc"), "--out", "s", "--stride", "100000"], ["stride exceeds"]),
    (["prepare", *S("topology.pdb", "trajectory.xtc"), "--out", "s", "--select", "((("], ["not valid mdtraj selection"]),
    (["prepare", "text.pdb", "sample/trajectory.xtc", "--out", "s"], ["text.pdb", "holds no atoms"]),
    (["info", "sample/topology.pdb"], ["is a file, not a store directory"]),
    (["transform", "run", "sample/trajectory.xtc", "--out", "c.npz"], ["--top FILE"]),
])
def test_clear_messages(ws, capsys, argv, words):
    (ws / "text.pdb").write_text("hello, this is not a PDB\n")
    err = refused(capsys, ws, argv, words)
    assert len(err) < 600, err  # one readable line, not kB of parser padding


def test_non_ascii_paths_work(ws, capsys):
    d = ws / "Müller"
    d.mkdir()
    shutil.copy(ws / "sample/trajectory.xtc", d / "trajectory.xtc")
    shutil.copy(ws / "sample/topology.pdb", d / "topologie_ü.pdb")
    assert main(["prepare", str(d / "topologie_ü.pdb"), str(d / "trajectory.xtc"), "--select", "name CA",
                 "--out", "stüre"]) == 0
    np.testing.assert_array_equal(np.load(ws / "stüre/trajectories/traj_00000.npy"),
                                  np.load(ws / "store/trajectories/traj_00000.npy"))
    assert main(["transform", "run", str(d / "trajectory.xtc"), "--top", str(d / "topologie_ü.pdb"),
                 "--out", "cvs_ü.npz"]) == 0
    assert main(["transform", "run", "sample/trajectory.xtc", "--top", "sample/topology.pdb", "--out", "cvs.npz"]) == 0
    with np.load(ws / "cvs_ü.npz") as a, np.load(ws / "cvs.npz") as b:
        np.testing.assert_array_equal(a["traj0"], b["traj0"])


def test_without_validation_there_is_no_best_checkpoint(ws):
    """docs/training.md: best.ckpt exists only with a validation split (this run has --val-fraction 0)."""
    assert (ws / "run/checkpoints/last.ckpt").is_file()
    assert not (ws / "run/checkpoints/best.ckpt").exists()
    assert json.loads((ws / "run/config.json").read_text())["train"]["val_fraction"] == 0
