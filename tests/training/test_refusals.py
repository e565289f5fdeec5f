"""`mdkoop fit` refuses bad requests before any work starts: a clear error, exit status 2, no run directory."""

import pytest
import torch

from mdkoop.cli.main import main

SMALL = ["--batch-size", "16", "--n-atom-basis", "8", "--interactions", "1", "--n-rbf", "4", "--epochs", "1", "--modes", "3",
         "--no-progress"]


def _refused(capsys, tmp_path, argv, words):
    out = tmp_path / "run"
    rc = main(["fit", *SMALL, "--out", str(out), *argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    for w in words:
        assert w in err, err
    assert "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob("run.inprogress*")) and not list(tmp_path.glob(".run*"))
    return err


def test_unknown_option_value_is_refused_by_the_parser(cln025_store, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", str(cln025_store.path), "--lag", "20ps", "--out", str(tmp_path / "run"), "--loss", "mse"])
    assert info.value.code == 2
    assert "invalid choice: 'mse'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_bad_numbers_are_refused(cln025_store, tmp_path, capsys):
    _refused(capsys, tmp_path, [str(cln025_store.path), "--lag", "20ps", "--lr", "-1"], ["learning rate"])
    _refused(capsys, tmp_path, [str(cln025_store.path), "--lag", "15ps"], ["not a whole multiple", "10"])


def test_lag_too_long_for_the_split(cln025_store, tmp_path, capsys):
    # 2 trajectories of 60 frames: the validation trajectory (60 frames) has no pair at a 70-frame lag
    _refused(capsys, tmp_path, [str(cln025_store.path), "--lag", "700ps"], ["lag", "too long"])


def test_batch_larger_than_the_data(cln025_store, tmp_path, capsys):
    _refused(capsys, tmp_path, [str(cln025_store.path), "--lag", "20ps", "--batch-size", "5000", "--overwrite"],
             ["batch size 5000", "training pairs"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda(cln025_store, tmp_path, capsys):
    _refused(capsys, tmp_path, [str(cln025_store.path), "--lag", "20ps", "--device", "cuda"], ["CUDA", "--device cpu"])


def test_bf16_on_cpu(cln025_store, tmp_path, capsys):
    _refused(capsys, tmp_path, [str(cln025_store.path), "--lag", "20ps", "--device", "cpu", "--precision",
                                "bf16-mixed"], ["bf16"])


def test_missing_store_and_bad_selection(cln025_store, tmp_path, capsys):
    _refused(capsys, tmp_path, [str(tmp_path / "nostore"), "--lag", "20ps"], ["does not exist", "mdkoop prepare"])
    _refused(capsys, tmp_path, [str(cln025_store.path), "--lag", "20ps", "--select", "name ZZZ"], ["selects no atoms"])


def test_existing_run_dir_needs_resume_or_overwrite(cln025_store, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc = main(["fit", str(cln025_store.path), "--lag", "20ps", "--out", str(out), *SMALL])
    err = capsys.readouterr().err
    assert rc == 2 and "--resume" in err and "--overwrite" in err
    assert (out / "keep.txt").read_text() == "mine"
    assert not list(tmp_path.glob("run.inprogress*"))
    # --resume of a directory that is not an interrupted run is refused too, and leaves it alone
    rc = main(["fit", str(cln025_store.path), "--lag", "20ps", "--out", str(out), "--resume", *SMALL])
    assert rc == 2 and "nothing to resume" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
