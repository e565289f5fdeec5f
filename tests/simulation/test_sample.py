"""Folding-event counting (known answers) and the bundled sample (complete, honest metadata, readable)."""

from __future__ import annotations

import json

import mdtraj as md
import numpy as np
import pytest

from mdkoop.errors import ConfigError
from mdkoop.resources import RESOURCES
from mdkoop.simulation.sample import folding_events

SAMPLE = RESOURCES / "sample"


def test_folding_events_known_answers():
    # folded, fray (no event), unfold, wander, refold, unfold again
    r = np.array([0.05, 0.10, 0.25, 0.12, 0.40, 0.30, 0.20, 0.36, 0.10, 0.14, 0.50])
    ev = folding_events(r, 0.15, 0.35)
    assert (ev["n_unfolding"], ev["n_refolding"]) == (2, 1)
    assert ev["fraction_folded_core"] == pytest.approx(5 / 11)
    assert ev["fraction_unfolded_core"] == pytest.approx(3 / 11)
    # frames 0-3 folded, 4-7 unfolded, 8-9 folded, 10 unfolded
    assert ev["fraction_assigned_folded"] == pytest.approx(6 / 11)
    # Starting in the transition region: unassigned until the first core.
    ev2 = folding_events(np.array([0.2, 0.3, 0.4, 0.1]))
    assert (ev2["n_unfolding"], ev2["n_refolding"], ev2["fraction_assigned_folded"]) == (0, 1, 0.25)
    assert folding_events(np.array([]))["n_unfolding"] == 0
    with pytest.raises(ConfigError):
        folding_events(r, 0.4, 0.3)


@pytest.mark.skipif(not (SAMPLE / "metadata.json").exists(), reason="the bundled sample has not been generated yet")
def test_bundled_sample_is_complete_and_described():
    meta = json.loads((SAMPLE / "metadata.json").read_text())
    assert meta["system"] == "cln025" and meta["command"].startswith("mdkoop simulate cln025")
    assert meta["atoms_saved"] == "heavy"
    size = sum(p.stat().st_size for p in SAMPLE.iterdir())
    assert size < 5 * 1024**2
    t = md.load(str(SAMPLE / "trajectory.xtc"), top=str(SAMPLE / "topology.pdb"))
    assert t.n_frames == meta["n_frames"] and t.n_atoms == meta["n_atoms_saved"]
    np.testing.assert_allclose(np.diff(t.time), meta["frame_spacing_ps"], atol=1e-3)
    ref = md.load(str(SAMPLE / "reference_folded.pdb"))
    assert [a.name for a in ref.topology.atoms] == [a.name for a in t.topology.atoms]
    # The summary is recomputable from the files.
    rmsd = md.rmsd(t, ref, atom_indices=t.topology.select("name CA"))
    ev = folding_events(rmsd, meta["summary"]["folded_below_nm"], meta["summary"]["unfolded_above_nm"])
    for k in ("n_unfolding", "n_refolding"):
        assert ev[k] == meta["summary"][k]
    assert ev["fraction_folded_core"] == pytest.approx(meta["summary"]["fraction_folded_core"], abs=0.01)
