"""Data manifests: the shipped ones are valid and complete; invalid ones are refused with a clear message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from mdkoop.errors import ConfigError, InputError, MissingFileError
from mdkoop.io.manifests import get_manifest, list_manifests, load_manifest, parse_manifest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {"ala2-mdshare", "cln025-c22star", "desres-chignolin", "cln025-sample"}


def _minimal(**over):
    d = {
        "name": "toy",
        "access": "download",
        "citation": "A. Author (2024)",
        "licence": "CC-BY-4.0",
        "obtain": "ask the author",
        "topology": "top.pdb",
        "trajectories": ["*.xtc"],
        "files": [{"name": "top.pdb", "url": "file:///nonexistent/top.pdb", "size": 10, "md5": "0" * 32}],
    }
    d.update(over)
    return d


def test_shipped_manifests_are_valid_and_complete():
    ms = list_manifests()
    assert SHIPPED <= set(ms)
    for name, m in ms.items():
        assert m.citation and m.licence and m.obtain and m.topology and m.trajectories, name
        if m.access == "download":
            assert all(f.url for f in m.files), name
    ala = ms["ala2-mdshare"]
    # mdshare's catalogue: 1 PDB + 3 XTC, all with md5 and size; 3 x 250 ns at 1 ps.
    assert [f.name for f in ala.files][0] == "alanine-dipeptide-nowater.pdb"
    assert len(ala.files) == 4 and all(f.checksum and f.checksum[0] == "md5" and f.size for f in ala.files)
    assert ala.total_size == 1813 + 42909936 + 42911308 + 42907500
    assert ala.frame_spacing_ps == 1.0
    c22 = ms["cln025-c22star"]
    (zipfile_entry,) = c22.files
    assert zipfile_entry.is_archive and zipfile_entry.checksum is None  # not published here: never invented
    assert "10681926" in zipfile_entry.url and c22.expected_trajectories == 34
    assert ms["desres-chignolin"].access == "on-request" and not ms["desres-chignolin"].files
    assert ms["cln025-sample"].access == "bundled"


def test_data_manifests_dir_points_at_the_shipped_files():
    for name in SHIPPED:
        p = REPO / "data_manifests" / f"{name}.yaml"
        assert p.exists(), p
        shipped = load_manifest(REPO / "mdkoop" / "resources" / "manifests" / f"{name}.yaml")
        assert load_manifest(p).files == shipped.files and load_manifest(p).name == name
        assert p.resolve() == (REPO / "mdkoop" / "resources" / "manifests" / f"{name}.yaml").resolve()


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"citation": None}, "citation"),
        ({"access": "torrent"}, "access"),
        ({"files": [{"name": "a.pdb", "url": "file:///x", "md5": "xyz"}]}, "md5"),
        ({"files": [{"name": "a.pdb", "url": "file:///x", "md5": "0" * 32, "sha256": "0" * 64}]}, "not both"),
        ({"files": [{"name": "a.pdb"}]}, "no url"),
        ({"files": [{"name": "../a.pdb", "url": "file:///x"}]}, "plain file name"),
        ({"files": [{"name": "a.pdb", "url": "file:///x", "size": -1}]}, "size"),
        ({"trajectories": []}, "trajectories"),
        ({"frame_spacing_ps": 0}, "frame_spacing_ps"),
        ({"name": "bad name!"}, "name"),
        ({"access": "bundled"}, "bundled"),
    ],
)
def test_invalid_manifests_are_refused(change, fragment):
    d = _minimal(**change)
    with pytest.raises(ConfigError, match=fragment) as err:
        parse_manifest(d, where="'toy.yaml'")
    assert "toy.yaml" in str(err.value)


def test_user_manifest_dir_adds_and_overrides(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(_minimal(name="my-data")))
    (tmp_path / "override.yaml").write_text(yaml.safe_dump(_minimal(name="ala2-mdshare", title="mine")))
    monkeypatch.setenv("MDKOOP_MANIFESTS", str(tmp_path) + os.pathsep + str(tmp_path / "missing"))
    ms = list_manifests()
    assert "my-data" in ms and ms["ala2-mdshare"].title == "mine"
    assert get_manifest(str(tmp_path / "mine.yaml")).name == "my-data"


def test_unknown_or_broken_manifests(tmp_path):
    with pytest.raises(InputError, match="cln025-sample"):  # lists the known names
        get_manifest("no-such-dataset")
    with pytest.raises(MissingFileError):
        load_manifest(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_manifest(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_manifest(lst)


def test_cli_data_list(capsys):
    from mdkoop.cli.main import main

    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in SHIPPED:
        assert name in out
    assert "122.8 MiB" in out  # the three mdshare XTCs + PDB
    assert main(["data", "fetch", "no-such-dataset"]) == 2
    assert "No dataset called 'no-such-dataset'" in capsys.readouterr().err
