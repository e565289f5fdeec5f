"""The run directory of :meth:`mdkoop.training.estimator.KoopmanSVD.fit` on disk.

A run is built in ``<RUN>.inprogress/`` (marker file ``IN_PROGRESS``, ownership marker of kind ``run``),
under an exclusive lock (:class:`~mdkoop.utils.files.RunLock`) while a process trains in it, and renamed to
``<RUN>`` when every file is written. An interrupted run keeps its work directory when it reached a
checkpoint (``--resume`` continues it); one that never did is removed, by the failing process or, after a
SIGKILL, by the next ``fit``. See ``docs/guarantees.md``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import torch

from ..errors import ConfigError, ModelFormatError, OutputExistsError
from ..utils.files import RunLock, check_output_dir, mark_output, output_kind, replace_dir
from ..utils.logging import get_logger
from .config import FitConfig

__all__ = ["IN_PROGRESS_MARKER", "in_progress_dir", "last_checkpoint", "plan_run_dir", "start_work_dir",
           "finish_run_dir", "after_failed_fit", "check_resume_config", "plan_fit_dir", "process_rank"]

log = get_logger("training")

IN_PROGRESS_MARKER = "IN_PROGRESS"

#: TrainConfig fields that may change on --resume (they do not change the optimisation trajectory so far)
_RESUME_FREE = {"epochs", "patience", "device", "devices", "num_nodes"}


def in_progress_dir(run_dir: str | Path) -> Path:
    """The directory where the run ``run_dir`` is built before its final rename: ``<run_dir>.inprogress``."""
    run_dir = Path(run_dir)
    return run_dir.with_name(run_dir.name + ".inprogress")


def last_checkpoint(work: Path) -> Path:
    """The resumable checkpoint of a work directory: ``checkpoints/last.ckpt``."""
    return Path(work) / "checkpoints" / "last.ckpt"


def plan_run_dir(run: Path, resume: bool, overwrite: bool, inputs=()) -> tuple[Path, Path | None]:
    """Decide the work directory (and the checkpoint on resume); refuse what may not be touched.

    Parameters
    ----------
    run : Path
        The final run directory.
    resume, overwrite : bool
        ``--resume`` / ``--overwrite``.
    inputs : iterable of path-like
        The fit's input paths (the store): the run directory may not be, or contain, one.

    Returns
    -------
    (Path, Path or None)
        The work directory and, on resume, its checkpoint.
    """
    work = in_progress_dir(run)
    if resume and overwrite:
        raise ConfigError("Give either --resume or --overwrite, not both.")
    holder = RunLock.is_held(work) if work.is_dir() else None
    if holder is not None:
        raise OutputExistsError(
            f"The run {str(run)!r} is being trained right now by another process"
            f"{f' (pid {holder})' if holder > 0 else ''} in {str(work)!r}. Wait for it to finish, or stop it "
            "first; then --resume continues it.")
    if resume:
        ckpt = last_checkpoint(work)
        if run.exists() and not work.exists():
            raise OutputExistsError(f"The run {str(run)!r} is already complete: nothing to resume. "
                                    "Use --overwrite to train it again, or another --out.")
        if not ckpt.is_file():
            raise ConfigError(f"Cannot resume {str(run)!r}: no checkpoint at {str(ckpt)!r} "
                              "(the run stopped before its first checkpoint). Start it again without --resume.")
        _check_checkpoint(ckpt)
        return work, ckpt
    if (run.exists() or run.is_symlink()) and not overwrite:
        raise OutputExistsError(f"The run directory {str(run)!r} already exists: pass --resume to continue it, "
                                "--overwrite to replace it, or choose another --out.")
    check_output_dir(run, overwrite, "run directory", kind="run", inputs=inputs)
    if work.exists() or work.is_symlink():
        if not _is_own_work_dir(work):
            raise OutputExistsError(
                f"{str(work)!r} exists but is not an interrupted mdkoop run: mdkoop will not replace it. "
                "Remove it yourself or choose another --out.")
        resumable = last_checkpoint(work).is_file()
        if resumable and not overwrite:
            raise OutputExistsError(
                f"An interrupted run of {str(run)!r} is in {str(work)!r}: continue it with the same command and "
                "--resume, or discard it and start again with --overwrite.")
        if not resumable:
            log.info("%s is an interrupted run that never reached a checkpoint (nothing to resume): it will be replaced",
                     work)
    return work, None


def start_work_dir(work: Path) -> None:
    """Create a fresh work directory (replacing an interrupted one) with its markers."""
    if work.exists() or work.is_symlink():
        if not _is_own_work_dir(work):
            raise OutputExistsError(f"{str(work)!r} is not an interrupted mdkoop run: mdkoop will not remove it.")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    mark_output(work, "run")
    (work / IN_PROGRESS_MARKER).write_text(
        "This run of `mdkoop fit` is in progress or was interrupted. Continue it with --resume "
        "(same command), or start again with --overwrite.\n")


def finish_run_dir(work: Path, run: Path, overwrite: bool) -> None:
    """Rename the complete work directory to ``run`` (checked again: it may have appeared meanwhile)."""
    (work / IN_PROGRESS_MARKER).unlink(missing_ok=True)
    check_output_dir(run, overwrite, "run directory", kind="run")
    replace_dir(work, run)
    (run / RunLock.FILE).unlink(missing_ok=True)
    log.info("run directory complete: %s", run)


def after_failed_fit(work: Path, exc: BaseException) -> None:
    """After a failed or interrupted fit: keep a resumable work directory, remove one without a checkpoint."""
    if last_checkpoint(work).is_file():
        log.warning("the run stopped; its last checkpoint is kept in %s. Continue it with the same command and "
                    "--resume, or start again with --overwrite.", work)
        return
    if isinstance(exc, KeyboardInterrupt):
        log.warning("the run was interrupted before its first checkpoint: nothing to resume; %s is removed.", work)
    shutil.rmtree(work, ignore_errors=True)


def check_resume_config(path: Path, cfg: FitConfig) -> None:
    """Refuse ``--resume`` with settings that differ from the interrupted run's ``config.json``."""
    if not path.is_file():
        raise ConfigError(f"Cannot resume: {str(path)!r} is missing, so the interrupted run's settings are unknown. "
                          "Start again with --overwrite.")
    old = FitConfig.load(path)
    diffs = []
    for section in ("encoder", "train"):
        a, b = getattr(old, section).to_dict(), getattr(cfg, section).to_dict()
        for k in sorted(a):
            if a[k] != b.get(k) and not (section == "train" and k in _RESUME_FREE):
                diffs.append(f"{k}: {a[k]!r} -> {b.get(k)!r}")
    if old.data.get("select") != cfg.data.get("select"):
        diffs.append(f"select: {old.data.get('select')!r} -> {cfg.data.get('select')!r}")
    if diffs:
        raise ConfigError("Cannot resume with different settings (" + "; ".join(diffs) + "). Repeat the original "
                          "command with --resume (only --epochs, --patience and the devices may change), "
                          "or start again with --overwrite.")


def _check_checkpoint(ckpt: Path) -> None:
    """Refuse a checkpoint that is not readable as weights-only data (truncated, damaged, or a foreign pickle)."""
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch's text would suggest weights_only=False: never relay it
        raise ModelFormatError(
            f"Cannot resume from {str(ckpt)!r}: it is not a valid mdkoop checkpoint ({type(exc).__name__}; the file "
            "is truncated, damaged, or not from mdkoop). mdkoop loads only plain weights, never arbitrary pickled "
            "objects. Start the run again with --overwrite.") from None
    if not isinstance(state, dict) or "state_dict" not in state:
        raise ModelFormatError(f"Cannot resume from {str(ckpt)!r}: it holds no training state. "
                               "Start the run again with --overwrite.")


def _is_own_work_dir(work: Path) -> bool:
    """True if ``work`` is the work directory of an mdkoop fit (marker files), not something else."""
    return (not work.is_symlink() and work.is_dir()
            and ((work / IN_PROGRESS_MARKER).is_file() or output_kind(work) == "run"))


def process_rank() -> int:
    """Global rank of this process as set by Lightning's launcher, torchrun or SLURM (0 when single)."""
    for key in ("RANK", "SLURM_PROCID"):
        if key in os.environ and ("WORLD_SIZE" in os.environ or "SLURM_NTASKS" in os.environ):
            with contextlib.suppress(ValueError):
                return int(os.environ[key])
    with contextlib.suppress(ValueError):
        return int(os.environ.get("NODE_RANK", 0)) * 1000 + int(os.environ.get("LOCAL_RANK", 0))
    return 0


def plan_fit_dir(run_dir, resume: bool, overwrite: bool, inputs=()) -> tuple[Path | None, Path | None]:
    """``(work directory, checkpoint to resume)`` of a fit; ``(None, None)`` without a run directory.

    Rank 0 checks and plans (:func:`plan_run_dir`); the other ranks of a DDP run follow its work directory.
    """
    if run_dir is None:
        if resume:
            raise ConfigError("resume=True needs run_dir (the interrupted run's directory).")
        return None, None
    if process_rank() != 0:  # rank 0 checks and writes; the others follow its work directory
        work = in_progress_dir(run_dir)
        return work, last_checkpoint(work) if resume else None
    return plan_run_dir(Path(run_dir), resume, overwrite, inputs)
