"""`moviebot data fetch` against a local HTTP server and a local mirror.

The server (http.server on 127.0.0.1, in a thread) serves a zip built here from small
synthetic files, and a manifest written here points at it, so the whole download path runs:
HTTP, progress bar, zip member extraction, sha256 verification, atomic install.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest

from engine.datasets.manifest import load_manifest
from jobs.fetch import fetch
from tests.test_manifest import run_cli

MOVIES_CSV = b"movieId,title,genres\r\n1,Toy Story (1995),Animation|Comedy\r\n"
LINKS_CSV = b"movieId,imdbId,tmdbId\r\n1,0114709,862\r\n"
SONGS_CSV = b"track_id,track_name\n6f807x0ima9a1j3VPbc7VN,I Don't Care\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).requests.append(self.path)
        if self.path.startswith("/status/"):
            self.send_error(int(self.path.split("/")[2]))
            return
        super().do_GET()

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    with zipfile.ZipFile(root / "toy-small.zip", "w") as zf:
        zf.writestr("toy-small/movies.csv", MOVIES_CSV)
        zf.writestr("toy-small/links.csv", LINKS_CSV)
        zf.writestr("__MACOSX/toy-small/._movies.csv", b"junk")
    with zipfile.ZipFile(root / "renamed.zip", "w") as zf:  # top folder differs from manifest
        zf.writestr("toy-small-2024/movies.csv", MOVIES_CSV)
    (root / "songs.csv").write_bytes(SONGS_CSV)
    (root / "broken.zip").write_bytes(b"<html>rate limited</html>")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def write_manifest(path: Path, base: str, *, movies_sha: str | None = None,
                   zip_name: str = "toy-small.zip") -> Path:
    def entry(rel, member, data, columns, required=True, sha256=None):
        return {"path": rel, "columns": columns, "required": required,
                "sha256": sha256 or sha(data),
                "download": {"url": f"{base}/{zip_name}", "member": member}}

    manifest = {"datasets": [
        {"name": "toy-small", "source": "https://example.org/toy", "licence": "test data",
         "files": [
             entry("movielens/toy/movies.csv", "toy-small/movies.csv", MOVIES_CSV,
                   ["movieId", "title", "genres"], sha256=movies_sha),
             entry("movielens/toy/links.csv", "toy-small/links.csv", LINKS_CSV,
                   ["movieId", "imdbId", "tmdbId"], required=False)]},
        {"name": "songs", "source": "https://example.org/songs", "licence": "test data",
         "files": [{"path": "spotify/songs.csv", "columns": ["track_id", "track_name"],
                    "sha256": sha(SONGS_CSV), "download": {"url": f"{base}/songs.csv"}}]},
        {"name": "kaggle-only", "source": "https://www.kaggle.com/datasets/someone/some-set",
         "licence": "test data",
         "files": [{"path": "kaggle/some.csv", "columns": ["id"], "sha256": None}]},
    ]}
    path.write_text(json.dumps(manifest))
    return path




def by_path(outcomes):
    return {o.path: o for o in outcomes}


def test_download_extracts_verifies_and_skips_present(server, tmp_path, capsys):
    manifest = load_manifest(write_manifest(tmp_path / "m.json", server))
    data = tmp_path / "data"
    _Handler.requests.clear()
    outcomes = by_path(fetch(data, manifest=manifest, progress=True))
    assert outcomes["movielens/toy/movies.csv"].status == "fetched"
    assert outcomes["movielens/toy/links.csv"].status == "fetched"
    assert outcomes["spotify/songs.csv"].status == "fetched"
    assert all(o.severity == "ok" for p, o in outcomes.items() if p != "kaggle/some.csv")
    assert (data / "movielens/toy/movies.csv").read_bytes() == MOVIES_CSV
    assert (data / "spotify/songs.csv").read_bytes() == SONGS_CSV
    # one request per URL, though the zip holds two manifest files
    assert sorted(_Handler.requests) == ["/songs.csv", "/toy-small.zip"]
    progress = capsys.readouterr().err
    assert "toy-small.zip" in progress and "100%" in progress
    # nothing temporary is left behind
    assert not list(data.glob(".fetch-*"))
    # the Kaggle-only set cannot be downloaded: say where to get it
    manual = outcomes["kaggle/some.csv"]
    assert manual.status == "manual"
    assert "kaggle.com/datasets/someone/some-set" in manual.message

    _Handler.requests.clear()
    again = by_path(fetch(data, manifest=manifest, progress=False))
    assert {again[p].status for p in outcomes if p != "kaggle/some.csv"} == {"present"}
    assert _Handler.requests == []


def test_damaged_local_copy_is_downloaded_again(server, tmp_path):
    manifest = load_manifest(write_manifest(tmp_path / "m.json", server))
    data = tmp_path / "data"
    fetch(data, manifest=manifest, only=["toy-small"], progress=False)
    (data / "movielens/toy/movies.csv").write_bytes(b"movieId,title,genres\n")
    outcomes = by_path(fetch(data, manifest=manifest, only=["toy-small"], progress=False))
    assert outcomes["movielens/toy/movies.csv"].status == "fetched"
    assert outcomes["movielens/toy/links.csv"].status == "present"
    assert (data / "movielens/toy/movies.csv").read_bytes() == MOVIES_CSV


def test_checksum_mismatch_warns_or_rejects_with_strict(server, tmp_path):
    manifest = load_manifest(write_manifest(tmp_path / "m.json", server, movies_sha="0" * 64))
    lenient = by_path(fetch(tmp_path / "a", manifest=manifest, only=["toy-small"],
                            progress=False))["movielens/toy/movies.csv"]
    assert lenient.severity == "warning"
    assert "sha256" in lenient.message and "differs" in lenient.message
    assert (tmp_path / "a/movielens/toy/movies.csv").exists()

    strict = by_path(fetch(tmp_path / "b", manifest=manifest, only=["toy-small"],
                           strict=True, progress=False))["movielens/toy/movies.csv"]
    assert strict.status == "failed" and strict.severity == "error"
    assert "--strict" in strict.message
    assert not (tmp_path / "b/movielens/toy/movies.csv").exists()


def test_member_found_when_top_folder_changes(server, tmp_path):
    manifest = load_manifest(write_manifest(tmp_path / "m.json", server, zip_name="renamed.zip"))
    outcomes = by_path(fetch(tmp_path / "d", manifest=manifest, only=["toy-small"],
                             progress=False))
    assert outcomes["movielens/toy/movies.csv"].status == "fetched"
    assert outcomes["movielens/toy/links.csv"].status == "failed"
    assert "no toy-small/links.csv" in outcomes["movielens/toy/links.csv"].message


def test_http_error_and_non_zip(server, tmp_path):
    manifest = load_manifest(write_manifest(tmp_path / "m.json", server, zip_name="gone.zip"))
    failed = by_path(fetch(tmp_path / "d", manifest=manifest, only=["toy-small"],
                           progress=False))["movielens/toy/movies.csv"]
    assert failed.status == "failed" and "HTTP 404" in failed.message
    assert "--from DIR" in failed.message

    manifest = load_manifest(write_manifest(tmp_path / "m2.json", server, zip_name="broken.zip"))
    failed = by_path(fetch(tmp_path / "d", manifest=manifest, only=["toy-small"],
                           progress=False))["movielens/toy/movies.csv"]
    assert failed.status == "failed" and "not a valid zip" in failed.message


def test_mirror_copy(server, tmp_path):
    manifest = load_manifest(write_manifest(tmp_path / "m.json", server))
    mirror = tmp_path / "mirror"
    for rel, data in [("movielens/toy/movies.csv", MOVIES_CSV), ("kaggle/some.csv", b"id\n7\n")]:
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(data)
    _Handler.requests.clear()
    outcomes = by_path(fetch(tmp_path / "d", manifest=manifest, mirror=mirror, progress=False))
    assert _Handler.requests == []  # nothing downloaded
    assert outcomes["movielens/toy/movies.csv"].status == "copied"
    assert outcomes["kaggle/some.csv"].status == "copied"  # a mirror may hold Kaggle sets too
    assert outcomes["movielens/toy/links.csv"].status == "missing"
    assert outcomes["movielens/toy/links.csv"].severity == "note"  # optional
    assert outcomes["spotify/songs.csv"].severity == "note"  # not required in this manifest

    again = by_path(fetch(tmp_path / "d", manifest=manifest, mirror=mirror, progress=False))
    assert again["movielens/toy/movies.csv"].status == "present"
    # a required file the mirror lacks is an error
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    missing = by_path(fetch(tmp_path / "e", manifest=manifest, mirror=empty, progress=False))
    assert missing["movielens/toy/movies.csv"].severity == "error"
    assert "not in the mirror" in missing["movielens/toy/movies.csv"].message


def test_wrong_columns_in_download_is_an_error(server, tmp_path):
    path = write_manifest(tmp_path / "m.json", server)
    raw = json.loads(path.read_text())
    raw["datasets"][1]["files"][0]["columns"] = ["track_id", "track_name", "track_genre"]
    path.write_text(json.dumps(raw))
    outcome = by_path(fetch(tmp_path / "d", manifest=load_manifest(path), only=["songs"],
                            progress=False))["spotify/songs.csv"]
    assert outcome.severity == "error" and "missing column(s) track_genre" in outcome.message
    assert not (tmp_path / "d/spotify/songs.csv").exists()  # a broken file is not installed


def test_cli(server, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "m.json", server)
    data = tmp_path / "data"
    argv = ["data", "fetch", "--data-dir", str(data), "--manifest", str(manifest)]
    assert run_cli(argv) == 0
    out = capsys.readouterr().out
    assert "fetched  movielens/toy/movies.csv" in out
    assert "Kaggle login" in out and "kaggle.com/datasets/someone/some-set" in out
    assert str(data / "kaggle/some.csv") in out
    assert run_cli(argv + ["--only", "toy-small"]) == 0
    assert "2 present" in capsys.readouterr().out

    bad = write_manifest(tmp_path / "bad.json", server, movies_sha="0" * 64)
    argv = ["data", "fetch", "--data-dir", str(tmp_path / "strict"), "--manifest", str(bad),
            "--no-progress", "--only", "toy-small"]
    assert run_cli(argv + ["--strict"]) == 1
    assert "--strict" in capsys.readouterr().err
    assert run_cli(argv) == 0  # a mismatch alone is a warning

    mirror = tmp_path / "data"  # the first data dir is a fine mirror
    assert run_cli(["data", "fetch", "--data-dir", str(tmp_path / "copy"), "--manifest",
                    str(manifest), "--from", str(mirror), "--only", "toy-small"]) == 0
    assert (tmp_path / "copy/movielens/toy/links.csv").read_bytes() == LINKS_CSV


# -- offline, and servers that fail: one summary, a quick exit ---------------------------


@pytest.fixture
def closed_port() -> str:
    """A base URL on 127.0.0.1 where nothing listens: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def fetch_cli(manifest: Path, data: Path, capsys, *extra: str):
    code = run_cli(["data", "fetch", "--data-dir", str(data), "--manifest", str(manifest),
                    "--no-progress", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_refused_host_is_tried_once_and_summary_says_what_to_do(closed_port, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "m.json", closed_port)
    outcomes = by_path(fetch(tmp_path / "d", manifest=load_manifest(manifest), progress=False))
    first = outcomes["movielens/toy/movies.csv"]
    assert first.status == "failed" and "connection refused" in first.message
    # the songs come from the same host: not tried again
    assert outcomes["spotify/songs.csv"].message.startswith("skipped: 127.0.0.1:")

    code, out, err = fetch_cli(manifest, tmp_path / "data", capsys)
    assert code == 1
    summary = err.strip().splitlines()
    assert summary[-1].startswith("Data is incomplete")
    text = "\n".join(summary[-6:])
    assert "REQUIRED and missing: toy-small (movies.csv)" in text
    assert "because: cannot connect: connection refused" in text
    assert "fix: run `moviebot data fetch --only toy-small` with network access" in text
    assert f"{closed_port}/toy-small.zip" in text
    assert "optional and missing (2 sets, the bot works without them): songs, kaggle-only" in text
    assert "succeeded: nothing" in text
    # the 2 files of toy-small fail as one line, not one line per file
    assert err.count("failed   toy-small (2 files)") == 1


def test_server_errors_in_the_summary(server, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "m.json", server, zip_name="status/500")
    code, out, err = fetch_cli(manifest, tmp_path / "data", capsys)
    assert code == 1
    assert "because: download failed: HTTP 500" in err
    assert "succeeded: songs (2 failed, 1 fetched, 1 manual)" in err

    # required data fetched, an optional set gone (404): reported in one line, exit 0
    path = write_manifest(tmp_path / "m2.json", server)
    raw = json.loads(path.read_text())
    raw["datasets"][1]["files"][0]["download"]["url"] = f"{server}/status/404"
    path.write_text(json.dumps(raw))
    code, out, err = fetch_cli(path, tmp_path / "data2", capsys)
    assert code == 0
    assert "failed   spotify/songs.csv: download failed: HTTP 404" in err
    lines = out.strip().splitlines()
    assert lines[-1] == "The required data is in place."
    assert "optional and missing (2 sets, the bot works without them): songs, kaggle-only" in out
    assert "succeeded: toy-small" in out
    assert "REQUIRED" not in out + err

    # asking for that set by name and not getting it is a failure
    code, out, err = fetch_cli(path, tmp_path / "data2", capsys, "--only", "songs")
    assert code == 1 and "could not be fetched" in err
