"""Atomic outputs: nothing half-written, nothing existing harmed."""

import os
import subprocess
import sys

import pytest

from mdkoop.errors import OutputError, OutputExistsError
from mdkoop.utils.files import (
    OUTPUT_MARKER,
    RunLock,
    atomic_dir,
    atomic_file,
    check_output_dir,
    check_output_file,
    output_kind,
    remove_stale_temporaries,
    sha256_file,
    temporary_name,
)


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
    with pytest.raises(OutputError, match="is a file, not a directory"):
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


# ---- --overwrite replaces only mdkoop's own output of the same kind, never an input --------------------------
def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_marker_is_written_and_recognised(tmp_path):
    with atomic_dir(tmp_path / "s", kind="store") as tmp:
        assert (tmp / OUTPUT_MARKER).is_file()
    assert output_kind(tmp_path / "s") == "store"
    with atomic_dir(tmp_path / "s", overwrite=True, kind="store") as tmp:
        (tmp / "new").write_text("n")
    assert (tmp_path / "s" / "new").is_file()


@pytest.mark.parametrize("make", ["foreign_dir", "file", "symlink", "other_kind"])
def test_overwrite_refuses_what_mdkoop_did_not_write(tmp_path, make):
    out = tmp_path / "out"
    if make == "foreign_dir":
        out.mkdir()
        (out / "thesis.tex").write_text("years of work")
    elif make == "file":
        out.write_text("a file")
    elif make == "symlink":
        (tmp_path / "target").mkdir()
        (tmp_path / "target" / "x").write_text("x")
        out.symlink_to(tmp_path / "target")
    else:
        with atomic_dir(out, kind="run"):
            pass
    before = _tree(tmp_path)
    with pytest.raises(OutputExistsError, match="Refusing to replace"):
        with atomic_dir(out, overwrite=True, kind="store"):
            raise AssertionError("the block must not run")
    assert _tree(tmp_path) == before


def test_overwrite_never_replaces_an_input(tmp_path):
    out = tmp_path / "store"
    with atomic_dir(out, kind="store") as tmp:
        (tmp / "traj.xtc").write_text("input")
    for inp in (out, out / "traj.xtc"):
        with pytest.raises(OutputExistsError, match="input of this command"):
            check_output_dir(out, True, "store", kind="store", inputs=[inp])
    # a symbolic link to the output counts as the output
    (tmp_path / "alias").symlink_to(out)
    with pytest.raises(OutputExistsError, match="input"):
        check_output_dir(out, True, "store", kind="store", inputs=[tmp_path / "alias" / "traj.xtc"])
    # an output inside an input directory is fine (run/analysis is the default analysis directory)
    check_output_dir(out / "analysis", True, "analysis", kind="analysis", inputs=[out])
    assert (out / "traj.xtc").read_text() == "input"


def test_check_output_file(tmp_path):
    f = tmp_path / "cvs.npz"
    f.write_text("someone else's")
    with pytest.raises(OutputExistsError, match="not a CV file that mdkoop wrote"):
        check_output_file(f, True, "CV file", is_own=lambda p: False)
    with pytest.raises(OutputExistsError, match="input"):
        check_output_file(f, True, "CV file", is_own=lambda p: True, inputs=[f])
    assert check_output_file(f, True, "CV file", is_own=lambda p: True) == f
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(OutputExistsError, match="directory"):
        check_output_file(tmp_path / "d.npz", True, "CV file")
    with pytest.raises(OutputExistsError, match="directory"):
        with atomic_file(tmp_path / "d.npz", "w"):
            pass


# ---- temporaries of dead processes are cleaned; those of live ones never -----------------------------------
def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    out = tmp_path / "store"
    code = f"from mdkoop.utils.files import temporary_name; p = temporary_name({str(out)!r}); p.mkdir(); print(p)"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    live = temporary_name(out)  # this process: alive
    live.mkdir()
    (tmp_path / ".other.tmp-1.2-abcd").mkdir()  # another output's temporary: not ours to judge
    removed = remove_stale_temporaries(out)
    assert [p.name for p in removed] == [os.path.basename(dead)]
    assert live.is_dir() and (tmp_path / ".other.tmp-1.2-abcd").is_dir()
    live.rmdir()


def test_atomic_dir_cleans_stale_temporaries_first(tmp_path):
    out = tmp_path / "s"
    code = f"from mdkoop.utils.files import temporary_name; p = temporary_name({str(out)!r}); p.mkdir(); (p / 'big').write_bytes(b'0' * 1000)"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert len(list(tmp_path.iterdir())) == 1
    with atomic_dir(out, kind="store"):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


# ---- run locks --------------------------------------------------------------------------------------------
def test_run_lock_is_exclusive_and_released_by_a_dead_process(tmp_path):
    code = ("import sys, time; from mdkoop.utils.files import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert RunLock.is_held(tmp_path) == proc.pid
        with pytest.raises(OutputExistsError, match=f"pid {proc.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        proc.kill()
        proc.wait()
    assert RunLock.is_held(tmp_path) is None  # the kernel released it with the SIGKILLed process
    with RunLock(tmp_path):
        assert RunLock.is_held(tmp_path) == os.getpid()
