"""Atomic outputs: nothing half-written, nothing existing harmed."""

import os

import pytest

from mdkoop.errors import OutputError, OutputExistsError
from mdkoop.utils.files import atomic_dir, atomic_file, sha256_file


def test_atomic_dir_success(tmp_path):
    out = tmp_path / "run"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("x")
        assert not out.exists()
    assert (out / "a.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_atomic_dir_failure_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "a.txt").write_text("x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_refuses_existing_and_keeps_it(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep").write_text("old")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        with atomic_dir(out):
            pass
    # overwrite that fails keeps the old contents
    with pytest.raises(ValueError):
        with atomic_dir(out, overwrite=True) as tmp:
            (tmp / "new").write_text("n")
            raise ValueError
    assert (out / "keep").read_text() == "old"
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "new").write_text("n")
    assert sorted(p.name for p in out.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_atomic_dir_unwritable_parent(tmp_path):
    """A parent that cannot hold a directory (here: a regular file) gives OutputError, even as root."""
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    with pytest.raises(OutputError, match="Cannot create"):
        with atomic_dir(blocker / "run"):
            pass
    assert [p.name for p in tmp_path.iterdir()] == ["not_a_dir"]


def test_atomic_file(tmp_path):
    p = tmp_path / "f.json"
    p.write_text("old")
    with pytest.raises(KeyError):
        with atomic_file(p) as fh:
            fh.write("new")
            raise KeyError
    assert p.read_text() == "old"
    with atomic_file(p) as fh:
        fh.write("new")
    assert p.read_text() == "new"
    assert len(sha256_file(p)) == 64
    assert [q.name for q in tmp_path.iterdir()] == ["f.json"]


def test_outputs_follow_the_umask(tmp_path):
    """Outputs are readable by the group/others as a plain open()/mkdir would make them (shared clusters)."""
    old = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "m.json") as fh:
            fh.write("{}")
        with atomic_dir(tmp_path / "d"):
            pass
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
