"""Describe a CLN025 simulation (folded fraction, unfolding/refolding events) and package it as the bundled sample.

The folding state is judged by the C-alpha RMSD to the folded reference structure with
two thresholds (a transition-based, "core-to-core" definition): a frame below
``folded_below`` is folded, one above ``unfolded_above`` is unfolded, and frames in
between keep the last state. Fluctuations that never reach the other core do not count.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MissingFileError
from ..utils.files import atomic_dir

__all__ = ["folding_events", "describe_cln025_run", "make_sample"]


def folding_events(rmsd: np.ndarray, folded_below: float = 0.15, unfolded_above: float = 0.35) -> dict:
    """Count unfolding and refolding events in an RMSD time series.

    Parameters
    ----------
    rmsd : ndarray, shape (T,)
        C-alpha RMSD to the folded structure per frame, nm.
    folded_below, unfolded_above : float
        Core thresholds in nm (``folded_below < unfolded_above``).

    Returns
    -------
    dict
        ``n_unfolding`` (folded core → unfolded core), ``n_refolding`` (unfolded → folded),
        ``fraction_folded_core`` (frames below ``folded_below``), ``fraction_unfolded_core``
        (frames above ``unfolded_above``), ``fraction_assigned_folded`` (frames whose last
        core was the folded one), and the thresholds.
    """
    r = np.asarray(rmsd, dtype=np.float64).ravel()
    if not folded_below < unfolded_above:
        raise ConfigError(f"folded_below ({folded_below}) must be smaller than unfolded_above ({unfolded_above}).")
    state = np.full(r.shape, -1, dtype=np.int8)  # -1 unassigned (before the first core), 1 folded, 0 unfolded
    cur = -1
    n_unf = n_ref = 0
    for i, x in enumerate(r):
        new = 1 if x < folded_below else (0 if x > unfolded_above else cur)
        if cur == 1 and new == 0:
            n_unf += 1
        elif cur == 0 and new == 1:
            n_ref += 1
        cur = new
        state[i] = cur
    n = max(len(r), 1)
    return {
        "n_unfolding": int(n_unf),
        "n_refolding": int(n_ref),
        "fraction_folded_core": float(np.mean(r < folded_below)) if len(r) else 0.0,
        "fraction_unfolded_core": float(np.mean(r > unfolded_above)) if len(r) else 0.0,
        "fraction_assigned_folded": float(np.sum(state == 1) / n),
        "folded_below_nm": folded_below,
        "unfolded_above_nm": unfolded_above,
    }


def _folded_reference_heavy(reference_pdb: Path, atom_indices: list[int]):
    import mdtraj as md

    ref = md.load(str(reference_pdb))
    return ref.atom_slice(np.asarray(atom_indices, dtype=np.int64))


def describe_cln025_run(run_dir: str | Path, reference_pdb: str | Path | None = None) -> dict:
    """Folding summary of a ``mdkoop simulate cln025`` run directory.

    Parameters
    ----------
    run_dir : path
        Holds ``topology.pdb``, ``trajectory.xtc``, ``metadata.json``.
    reference_pdb : path, optional
        The folded structure of the simulated system (default: the bundled ``cln025.pdb``).

    Returns
    -------
    dict
        :func:`folding_events` plus ``rmsd_ca_nm`` quantiles, ``n_frames`` and a one-line ``text``.
    """
    import mdtraj as md

    from ..resources import resource_path

    run_dir = Path(run_dir)
    meta = json.loads((run_dir / "metadata.json").read_text())
    ref = _folded_reference_heavy(Path(reference_pdb) if reference_pdb else resource_path("cln025.pdb"), meta["atom_indices_saved"])
    t = md.load(str(run_dir / "trajectory.xtc"), top=str(run_dir / "topology.pdb"))
    ca = t.topology.select("name CA")
    rmsd = md.rmsd(t, ref, atom_indices=ca)
    ev = folding_events(rmsd)
    q = np.quantile(rmsd, [0.05, 0.5, 0.95])
    ev.update(
        n_frames=int(t.n_frames),
        rmsd_ca_nm={"q05": round(float(q[0]), 3), "median": round(float(q[1]), 3), "q95": round(float(q[2]), 3)},
        text=(
            f"{ev['n_unfolding']} unfolding and {ev['n_refolding']} refolding events "
            f"(C-alpha RMSD to the folded structure: folded core < {ev['folded_below_nm']} nm, unfolded core > "
            f"{ev['unfolded_above_nm']} nm); {100 * ev['fraction_folded_core']:.0f}% of the frames in the folded core, "
            f"{100 * ev['fraction_unfolded_core']:.0f}% in the unfolded core"
        ),
    )
    return ev


def make_sample(run_dir: str | Path, out: str | Path, *, reference_pdb: str | Path | None = None, overwrite: bool = False,
                note: str = "") -> dict:
    """Package a CLN025 run as a sample folder (topology, XTC, folded heavy-atom reference, metadata with summary).

    Parameters
    ----------
    run_dir : path
        Output of ``mdkoop simulate cln025``.
    out : path
        Sample folder to create (e.g. ``mdkoop/resources/sample``).
    reference_pdb : path, optional
        Folded structure (default: the bundled ``cln025.pdb``).
    overwrite : bool
    note : str
        Free text added to the metadata (e.g. why this temperature).

    Returns
    -------
    dict
        The written ``metadata.json``.
    """
    from ..resources import resource_path

    run_dir = Path(run_dir)
    for f in ("topology.pdb", "trajectory.xtc", "metadata.json"):
        if not (run_dir / f).is_file():
            raise MissingFileError(f"{str(run_dir / f)!r} is missing: give the output folder of `mdkoop simulate cln025`.")
    meta = json.loads((run_dir / "metadata.json").read_text())
    if meta.get("system") != "cln025":
        raise ConfigError(f"{str(run_dir)!r} is a {meta.get('system')!r} run; the sample is made from CLN025.")
    ref_path = Path(reference_pdb) if reference_pdb else resource_path("cln025.pdb")
    summary = describe_cln025_run(run_dir, ref_path)
    with atomic_dir(out, overwrite=overwrite, what="sample directory", kind="sample",
                    inputs=[run_dir, reference_pdb]) as tmp:
        shutil.copy2(run_dir / "topology.pdb", tmp / "topology.pdb")
        shutil.copy2(run_dir / "trajectory.xtc", tmp / "trajectory.xtc")
        _folded_reference_heavy(ref_path, meta["atom_indices_saved"]).save_pdb(str(tmp / "reference_folded.pdb"))
        meta = {
            **meta,
            "summary": summary,
            "reference_folded": "reference_folded.pdb: the saved atoms of mdkoop/resources/cln025.pdb (folded)",
            "sample_note": note,
        }
        meta["files"] = {**meta.get("files", {}), "reference_folded": "reference_folded.pdb"}
        with open(tmp / "metadata.json", "w") as fh:
            json.dump(meta, fh, indent=2)
            fh.write("\n")
    return meta
