"""`mdkoop data fetch`: download with resume, verification, safe extraction, preparation.

Nothing here touches the network: downloads use ``file://`` URLs, a loopback HTTP
server in a thread (for HTTP Range resume) and a refused loopback port (offline).
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import stat
import tarfile
import threading
import zipfile
from pathlib import Path

import mdtraj as md
import numpy as np
import pytest
import yaml

from mdkoop.errors import DownloadError, MissingFileError, OutputExistsError
from mdkoop.io.fetch import download, extract_members, fetch, safe_members, verify_file
from mdkoop.io.manifests import ManifestFile, load_manifest, parse_manifest


def _md5(p: Path) -> str:
    return hashlib.md5(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def cln025_files(tmp_path_factory, ):
    """protein.gro + two short XTCs (C0, C1) of the real CLN025 structure with thermal-size noise, 10 ps apart."""
    from mdkoop.resources import resource_path

    d = tmp_path_factory.mktemp("cln025")
    ref = md.load(str(resource_path("cln025.pdb")))
    rng = np.random.default_rng(0)
    ref.save_gro(str(d / "protein.gro"))
    for i, n in enumerate((12, 9)):
        xyz = ref.xyz[0][None] + rng.normal(0, 0.01, size=(n, ref.n_atoms, 3)).astype(np.float32)
        t = md.Trajectory(xyz, ref.topology, time=np.arange(n) * 10.0)
        t.save_xtc(str(d / f"C{i}.xtc"))
    return d


@pytest.fixture()
def archive(tmp_path, cln025_files):
    """trajs_out.zip laid out like the Zenodo archive: several force-field folders, we need C22star only."""
    z = tmp_path / "src" / "trajs_out.zip"
    z.parent.mkdir()
    with zipfile.ZipFile(z, "w") as zf:
        for ff in ("C22star", "A99SBnmr"):
            for f in ("protein.gro", "C0.xtc", "C1.xtc"):
                zf.write(cln025_files / f, f"trajs_out/{ff}/{f}")
        zf.writestr("trajs_out/README.txt", "not needed")
    return z


def _manifest(archive: Path, md5: str | None, url: str | None = None) -> dict:
    return {
        "name": "c22-test",
        "access": "download",
        "citation": "test",
        "licence": "test",
        "obtain": "Download trajs_out.zip from the test record.",
        "files": [{"name": "trajs_out.zip", "url": url or archive.as_uri(), "size": archive.stat().st_size, "md5": md5,
                   "extract": {"members": ["C22star/protein.gro", "C22star/C*.xtc"], "flatten": True}}],
        "topology": "protein.gro",
        "trajectories": ["C[0-9].xtc", "C[0-9][0-9].xtc"],
        "expected_trajectories": 2,
        "selection": "not element H",
    }


def test_fetch_archive_end_to_end(tmp_path, archive, cln025_files):
    m = parse_manifest(_manifest(archive, _md5(archive)))
    dest = tmp_path / "data"
    res = fetch(m, dest, progress=False)
    files = sorted(p.name for p in (dest / "files").iterdir())
    assert files == ["C0.xtc", "C1.xtc", "protein.gro"]  # only the C22star members, flattened
    assert [p.name for p in res.trajectories] == ["C0.xtc", "C1.xtc"]
    s = res.store
    ref = md.load(str(cln025_files / "protein.gro"))
    n_heavy = sum(a.element.symbol != "H" for a in ref.topology.atoms)
    assert (s.n_trajectories, s.n_atoms) == (2, n_heavy)
    assert list(s.trajectory_lengths) == [12, 9]
    assert s.timestep_ps == pytest.approx(10.0)
    # Coordinates survive the round trip (XTC precision 1e-3 nm).
    heavy = [a.index for a in ref.topology.atoms if a.element.symbol != "H"]
    x0 = md.load(str(cln025_files / "C0.xtc"), top=str(cln025_files / "protein.gro")).xyz[:, heavy]
    np.testing.assert_allclose(np.asarray(s.trajectory(0)), x0, atol=1e-5)
    rec = json.loads((dest / "dataset.json").read_text())
    assert rec["files"][0]["verified"] == "checksum" and rec["files"][0]["md5"] == _md5(archive)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        fetch(m, dest, progress=False)
    # Overwrite reuses the verified download even when the source is gone.
    archive.unlink()
    res2 = fetch(m, dest, progress=False, overwrite=True)
    assert res2.store.n_frames == 21 and not (dest / "downloads" / "trajs_out.zip.part").exists()


def test_checksum_mismatch_is_refused_and_set_aside(tmp_path, archive):
    m = parse_manifest(_manifest(archive, "0" * 32))
    with pytest.raises(DownloadError, match="fails verification"):
        fetch(m, tmp_path / "d", progress=False)
    assert (tmp_path / "d" / "downloads" / "trajs_out.zip.bad").exists()
    assert not (tmp_path / "d" / "downloads" / "trajs_out.zip").exists()
    assert not (tmp_path / "d" / "store").exists()


def test_offline_says_what_to_download_and_where(tmp_path, archive):
    m = parse_manifest(_manifest(archive, _md5(archive), url="http://127.0.0.1:1/trajs_out.zip"))
    dest = tmp_path / "d"
    with pytest.raises(DownloadError) as err:
        fetch(m, dest, progress=False)
    msg = str(err.value)
    assert "http://127.0.0.1:1/trajs_out.zip" in msg and str(dest / "downloads" / "trajs_out.zip") in msg
    assert "by hand" in msg
    # A file placed by hand is verified and used ...
    (dest / "downloads").mkdir(parents=True, exist_ok=True)
    (dest / "downloads" / "trajs_out.zip").write_bytes(archive.read_bytes())
    res = fetch(m, dest, progress=False)
    assert res.store.n_trajectories == 2
    # ... and a wrong file placed by hand is refused.
    (dest / "downloads" / "trajs_out.zip").write_bytes(archive.read_bytes()[:-1] + b"x")
    with pytest.raises(DownloadError, match="fails verification"):
        fetch(m, dest, progress=False, overwrite=False, prepare=False)


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    served: list = []

    def do_GET(self):  # noqa: N802 - http.server API
        data = self.payload
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        # record before sending: the client may return (and the test assert) before this thread runs on
        type(self).served.append(len(body))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_http_download_resumes_from_part_file(tmp_path):
    payload = np.random.default_rng(1).bytes(300_000)
    _RangeHandler.payload, _RangeHandler.served = payload, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/blob.bin"
        target = tmp_path / "blob.bin"
        (tmp_path / "blob.bin.part").write_bytes(payload[:123_456])  # an interrupted earlier download
        download(url, target, size=len(payload), progress=False)
        assert target.read_bytes() == payload
        assert _RangeHandler.served == [len(payload) - 123_456]  # only the rest was transferred
        entry = ManifestFile(name="blob.bin", url=url, size=len(payload), checksum=("sha256", hashlib.sha256(payload).hexdigest()))
        assert verify_file(target, entry) == "checksum"
    finally:
        server.shutdown()
        server.server_close()


def test_file_url_without_range_restarts_cleanly(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abcdef" * 1000)
    (tmp_path / "out.bin.part").write_bytes(b"zzz")  # file:// ignores Range: must not append
    out = download(src.as_uri(), tmp_path / "out.bin", size=6000, progress=False)
    assert out.read_bytes() == src.read_bytes()
    entry = ManifestFile(name="out.bin", url=None, size=5999)
    with pytest.raises(DownloadError, match="5999"):
        verify_file(out, entry)


def _zip_with(tmp_path, name, data=b"x", mode=None):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ok/C0.xtc", b"fine")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, data)
    return z


@pytest.mark.parametrize(
    "member, mode, why",
    [
        ("../../escape.xtc", None, "'..'"),
        ("ok/../../escape.xtc", None, "'..'"),
        ("/tmp/abs.xtc", None, "absolute"),
        ("ok/link.xtc", stat.S_IFLNK | 0o777, "link"),
    ],
)
def test_unsafe_zip_members_are_refused(tmp_path, member, mode, why):
    z = _zip_with(tmp_path, member, b"../../../etc/passwd" if mode else b"evil", mode)
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match=why):
        extract_members(z, ["*.xtc"], dest, progress=False)
    assert not dest.exists()  # nothing extracted at all
    assert not (tmp_path / "escape.xtc").exists() and not (tmp_path.parent / "escape.xtc").exists()


def test_unsafe_tar_members_are_refused(tmp_path):
    t = tmp_path / "evil.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        info = tarfile.TarInfo("data/C0.xtc")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(DownloadError, match="link"):
        safe_members(t, ["*.xtc"])
    good = tmp_path / "good.tar"
    with tarfile.open(good, "w") as tf:
        for name in ("a/C22star/C0.xtc", "a/other/C0.xtc"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tf.addfile(info, io.BytesIO(b"data"))
    out = extract_members(good, ["C22star/*.xtc"], tmp_path / "x", progress=False)
    assert [p.name for p in out] == ["C0.xtc"] and out[0].read_bytes() == b"data"
    with pytest.raises(DownloadError, match="matches"):
        safe_members(good, ["*.gro"])


def test_on_request_dataset(tmp_path, cln025_files):
    m = load_manifest(Path(__file__).resolve().parents[2] / "mdkoop" / "resources" / "manifests" / "desres-chignolin.yaml")
    dest = tmp_path / "desres"
    with pytest.raises(DownloadError, match="on request") as err:
        fetch(m, dest, progress=False)
    assert "D. E. Shaw Research" in str(err.value) and str(dest / "files") in str(err.value)
    # The user places the files by hand (DCD in a sub-folder), then fetch prepares them.
    (dest / "files" / "CLN025-0-protein").mkdir(parents=True)
    t = md.load(str(cln025_files / "C0.xtc"), top=str(cln025_files / "protein.gro"))
    t[0].save_pdb(str(dest / "files" / "CLN025-0-protein.pdb"))
    t.save_dcd(str(dest / "files" / "CLN025-0-protein" / "CLN025-0-protein-000.dcd"))
    res = fetch(m, dest, progress=False)
    assert res.store.n_frames == 12 and res.store.timestep_ps == pytest.approx(200.0)
    with pytest.raises(MissingFileError, match="topology"):
        fetch(parse_manifest({**yaml.safe_load(m.source.read_text()), "topology": "*.prmtop"}), dest, progress=False, overwrite=True)


def test_cli_fetch_manifest_file(tmp_path, archive, capsys):
    from mdkoop.cli.main import main

    mf = tmp_path / "c22-test.yaml"
    mf.write_text(yaml.safe_dump(_manifest(archive, _md5(archive))))
    rc = main(["data", "fetch", str(mf), "--dest", str(tmp_path / "d"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "2 trajectories" in out and "store:" in out
    assert main(["data", "fetch", str(mf), "--dest", str(tmp_path / "d"), "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_bundled_sample_fetch(tmp_path):
    from mdkoop.demo import sample_files

    meta = json.loads(sample_files()["metadata"].read_text())
    res = fetch("cln025-sample", tmp_path / "s", progress=False)
    s = res.store
    assert (s.n_trajectories, s.n_frames, s.n_atoms) == (1, meta["n_frames"], meta["n_atoms_saved"])
    assert s.timestep_ps == pytest.approx(meta["frame_spacing_ps"])
    assert not (tmp_path / "s" / "downloads").exists()  # nothing downloaded
