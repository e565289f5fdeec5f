"""Shared fixtures: fixed seeds, real MD test files, markers.

Tests run single-threaded BLAS/torch by default so that parallel helpers on a
2-core machine do not oversubscribe; set MDKOOP_TEST_THREADS to change that.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("MDKOOP_TEST_THREADS", "1"))

import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("MDKOOP_TEST_THREADS", "1")))

SEED = 1234
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fixed_seeds():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; none is available on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mdatests():
    """MDAnalysisTests' real trajectories: dict of name -> path."""
    d = pytest.importorskip("MDAnalysisTests.datafiles")
    return {
        "psf": d.PSF, "dcd": d.DCD,           # adenylate kinase, 98 frames, 3341 atoms
        "gro": d.GRO, "xtc": d.XTC,           # adk OPLS-AA, 10 frames, 47681 atoms (with solvent)
        "prmtop": d.PRMncdf, "ncdf": d.NCDF,  # alanine dipeptide in water, Amber NetCDF
    }


@pytest.fixture(scope="session")
def cln025_pdb() -> Path:
    from mdkoop.resources import resource_path

    return resource_path("cln025.pdb")
