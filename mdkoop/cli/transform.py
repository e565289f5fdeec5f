"""``mdkoop transform``: compute the learned CVs for trajectories.

Writes one ``(n_frames, k)`` float64 array per input trajectory into an ``.npz``
file, under the keys ``traj0``, ``traj1``, ... in input order. The file is
written under a temporary name and renamed at the end.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

from ..errors import InputError, MissingFileError
from ..utils.threads import add_threads_option

log = logging.getLogger("mdkoop.cli")


def register(sub):
    p = sub.add_parser(
        "transform",
        help="compute CVs (singular or eigenfunctions) of a fitted model for trajectories",
        description="Compute the slow CVs of a fitted run for every frame of the given trajectories. "
        "Writes CVS.npz with one (n_frames, k) array per trajectory, keys traj0, traj1, ... in input order. "
        "For models on feature arrays (MLP encoder), give .npy files of shape (n_frames, n_features) instead.",
    )
    p.add_argument("run", help="run directory of `mdkoop fit` (holds model.pt and model.json)")
    p.add_argument("trajectories", nargs="+", metavar="TRAJ",
                   help="trajectory files (xtc, dcd, nc, ...), store directories (one array per trajectory), "
                   "or .npy features for feature models")
    p.add_argument("--top", help="topology (pdb, gro, psf, prmtop) of the trajectories; needed for formats without one")
    p.add_argument("--out", required=True, help="output .npz file")
    p.add_argument("--kind", choices=("singular", "eigen"), default="singular",
                   help="left singular functions (default) or Koopman eigenfunctions")
    p.add_argument("--k", type=int, default=None, help="number of CVs, slowest first (default: all)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_threads_option(p)
    p.set_defaults(func=run)
    return p


def _load_inputs(paths: list[str], model, top):
    import numpy as np

    from ..registry import STRUCTURAL_ENCODERS

    for p in paths:
        if not Path(p).exists():
            raise MissingFileError(f"The trajectory {p!r} does not exist.")
    if top is not None and not Path(top).is_file():
        raise MissingFileError(f"The topology {top!r} does not exist.")
    npy = [p.endswith(".npy") for p in paths]
    stores = [Path(p).is_dir() for p in paths]
    structural = model.encoder_config.kind in STRUCTURAL_ENCODERS
    if any(stores) and not structural:
        raise InputError("Store directories hold atom positions; this model reads feature arrays: give .npy files.")
    if any(npy):
        if not all(npy):
            raise InputError("Do not mix .npy feature files with trajectory files in one call.")
        if structural:
            raise InputError(f"This model reads atom positions ({model.encoder_config.kind} encoder): give trajectory "
                             "files and --top, not .npy.")
        return [np.load(p, allow_pickle=False) for p in paths]
    if not structural:
        raise InputError(
            f"This model was trained on feature arrays ({model.encoder_config.kind} encoder), not on atom positions: "
            "compute the same features and give them as .npy files of shape (n_frames, n_features)."
        )
    return list(paths)


def transform_to_npz(run_dir, trajectories, out, top=None, kind="singular", k=None, overwrite=False,
                     device="auto") -> dict:
    """Compute CVs of the model in ``run_dir`` for ``trajectories`` and write them to ``out`` (.npz).

    Parameters
    ----------
    run_dir : path-like
        Run directory of ``mdkoop fit``.
    trajectories : list of str
        Trajectory files (with ``top``) or ``.npy`` feature files for feature models.
    out : path-like
        Output ``.npz``; keys ``traj0``, ``traj1``, ... each (n_frames, k) float64.
    top : str, optional
        Topology file.
    kind : {"singular", "eigen"}
    k : int, optional
    overwrite : bool
    device : str

    Returns
    -------
    dict of str -> ndarray
        What was written.
    """
    import numpy as np

    from ..training.model import load_model
    from ..utils.files import atomic_file, check_output_file

    out = Path(out)
    if out.suffix != ".npz":
        raise InputError(f"--out {str(out)!r} must end with .npz.")
    inputs = [run_dir, *trajectories, *([top] if top is not None else [])]
    check_output_file(out, overwrite, "CV file", is_own=is_cv_file, inputs=inputs)
    model = load_model(run_dir)
    data = _load_inputs([str(t) for t in trajectories], model, top)
    cvs = {}
    for i, item in enumerate(data):
        arrs = model.transform([item] if not isinstance(item, str) else item, kind=kind, k=k, top=top, device=device)
        for a in arrs:  # a store directory contributes one array per trajectory, in store order
            key = f"traj{len(cvs)}"
            cvs[key] = np.asarray(a, dtype=np.float64)
            log.info("%s: %d frames -> %d CVs (%s)", trajectories[i], cvs[key].shape[0], cvs[key].shape[1], key)
    buf = io.BytesIO()
    np.savez(buf, **cvs)
    with zipfile.ZipFile(buf, "a") as z:
        z.comment = CV_FILE_COMMENT
    with atomic_file(out, "wb", overwrite=overwrite) as fh:
        fh.write(buf.getvalue())
    return cvs


#: zip comment that marks a CV file written by ``mdkoop transform`` (``--overwrite`` replaces only such files)
CV_FILE_COMMENT = b"mdkoop transform CVs"


def is_cv_file(path) -> bool:
    """True for a ``.npz`` written by ``mdkoop transform`` (its zip comment, or only ``trajN`` arrays)."""
    import re

    try:
        with zipfile.ZipFile(path) as z:
            if z.comment == CV_FILE_COMMENT:
                return True
            names = z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return bool(names) and all(re.fullmatch(r"traj\d+\.npy", n) for n in names)


def run(args) -> int:
    transform_to_npz(args.run, args.trajectories, args.out, top=args.top, kind=args.kind, k=args.k,
                     overwrite=args.overwrite, device=args.device)
    print(args.out)
    return 0
