"""The data manifest and `moviebot data check`, on the real data dir and broken copies of it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from bot.cli import CommandGroups
from engine.config import Settings
from engine.datasets.manifest import check_data_dir, load_manifest, read_header
from jobs import data_cli

DATA = Path(Settings.from_env().data_dir)
MOVIES = "movielens/ml-latest-small/movies.csv"
LINKS = "movielens/ml-latest-small/links.csv"
U_ITEM = "movielens/ml-100k/u.item"
U_DATA = "movielens/ml-100k/u.data"


def run_cli(argv: list[str]) -> int:
    """`moviebot <argv>` with just the data commands registered."""
    parser = argparse.ArgumentParser(prog="moviebot")
    top = parser.add_subparsers(dest="command")
    data_cli.register(CommandGroups(top=top, eval=top.add_parser("eval").add_subparsers()))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A data dir of symlinks to the real files; a test replaces the one it breaks."""
    root = tmp_path / "data"
    for entry in load_manifest().files():
        src = DATA / entry.path
        if src.is_file():
            (root / entry.path).parent.mkdir(parents=True, exist_ok=True)
            (root / entry.path).symlink_to(src)
    return root


def replace(root: Path, rel: str, content: bytes) -> None:
    (root / rel).unlink()
    (root / rel).write_bytes(content)


def errors(problems, path=None):
    return [p for p in problems if p.severity == "error" and (path is None or p.path == path)]


# -- the manifest itself -------------------------------------------------------------------

def test_manifest_lists_every_shared_file():
    manifest = load_manifest()
    paths = [f.path for f in manifest.files()]
    assert len(paths) == len(set(paths))
    on_disk = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file()}
    assert on_disk - {"SOURCES.md"} <= set(paths)
    for entry in manifest.files():
        assert entry.source.startswith("https://"), entry.path
        assert manifest.datasets[entry.dataset].licence, entry.path
        if entry.sha256 is not None:
            assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256), entry.path
        if entry.download:
            assert entry.download.url.startswith("https://"), entry.path
        if entry.format == "csv" and (DATA / entry.path).is_file():
            assert set(read_header(DATA / entry.path)) == set(entry.columns), entry.path
    assert manifest.file(U_ITEM).encoding == "latin-1"
    assert {f.path for f in manifest.files() if f.required} >= {MOVIES, LINKS}


def test_manifest_sha256_matches_sources_md():
    """The checksums are the ones SOURCES.md publishes, not just whatever is on disk."""
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| (\S+) \| \d+ \| ([0-9a-f]{64}) \|$", sources, re.M))
    manifest = load_manifest()
    assert len(listed) >= 38
    for path, sha in listed.items():
        assert manifest.file(path).sha256 == sha


def test_real_data_dir_passes_with_checksums():
    problems = check_data_dir(DATA, verify_checksums=True)
    assert [p for p in problems if p.severity != "note"] == []
    # only the optional Hugging Face set (not in shared/data) may be absent
    assert {p.path for p in problems} <= {"spotify/hf_spotify_tracks/dataset.csv"}


# -- broken copies -------------------------------------------------------------------------

def test_missing_required_file(data_copy):
    (data_copy / MOVIES).unlink()
    (problem,) = errors(check_data_dir(data_copy))
    assert problem.path == MOVIES
    assert "missing" in problem.message
    assert "moviebot data fetch" in problem.fix
    assert "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip" in problem.fix


def test_missing_optional_file_is_a_note_with_where_to_get_it(data_copy):
    (data_copy / "tmdb_5000/tmdb_5000_movies.csv").unlink()
    problems = check_data_dir(data_copy)
    assert errors(problems) == []
    (note,) = [p for p in problems if p.path == "tmdb_5000/tmdb_5000_movies.csv"]
    assert note.severity == "note"
    assert "kaggle.com/datasets/tmdb/tmdb-movie-metadata" in note.fix
    assert str(data_copy / "tmdb_5000/tmdb_5000_movies.csv") in note.fix


def test_wrong_columns_names_missing_and_unexpected(data_copy):
    text = (DATA / LINKS).read_bytes().replace(b"movieId,imdbId,tmdbId", b"movieId,imdb,tmdbId", 1)
    replace(data_copy, LINKS, text)
    found = errors(check_data_dir(data_copy), LINKS)
    messages = " ".join(p.message for p in found)
    assert "missing column(s) imdbId" in messages
    assert "unexpected column(s) imdb" in messages


def test_extra_column_alone_is_a_warning(data_copy):
    text = (DATA / LINKS).read_bytes().replace(b"tmdbId\r\n", b"tmdbId,extra\r\n", 1)
    replace(data_copy, LINKS, text)
    problems = [p for p in check_data_dir(data_copy) if p.path == LINKS]
    assert [p.severity for p in problems] == ["warning"]


def test_latin1_where_utf8_expected(data_copy):
    original = (DATA / MOVIES).read_text(encoding="utf-8")
    assert "Amélie" in original
    replace(data_copy, MOVIES, original.encode("latin-1", errors="replace"))
    (problem,) = errors(check_data_dir(data_copy))
    assert problem.path == MOVIES
    assert "not valid UTF-8" in problem.message and "line " in problem.message
    assert "UTF-8" in problem.fix


def test_utf8_where_latin1_expected(data_copy):
    converted = (DATA / U_ITEM).read_bytes().decode("latin-1").encode("utf-8")
    replace(data_copy, U_ITEM, converted)
    (problem,) = errors(check_data_dir(data_copy))
    assert problem.path == U_ITEM
    assert "latin-1" in problem.message


def test_wrong_delimiter_in_headerless_file(data_copy):
    replace(data_copy, U_DATA, (DATA / U_DATA).read_bytes().replace(b"\t", b","))
    (problem,) = errors(check_data_dir(data_copy))
    assert problem.path == U_DATA
    assert "expected 4 tab-separated fields" in problem.message


def test_bom_and_crlf_header_is_fine_but_checksum_warns(data_copy):
    replace(data_copy, MOVIES, b"\xef\xbb\xbf" + (DATA / MOVIES).read_bytes())
    assert errors(check_data_dir(data_copy)) == []
    problems = check_data_dir(data_copy, verify_checksums=True)
    assert errors(problems) == []
    (warning,) = [p for p in problems if p.severity == "warning"]
    assert warning.path == MOVIES and "sha256" in warning.message
    assert "newer release" in warning.fix


def test_empty_file(data_copy):
    replace(data_copy, LINKS, b"")
    (problem,) = errors(check_data_dir(data_copy))
    assert problem.path == LINKS and "empty" in problem.message


def test_missing_data_dir(tmp_path):
    (problem,) = check_data_dir(tmp_path / "nope")
    assert problem.severity == "error" and "does not exist" in problem.message
    assert "MOVIEBOT_DATA_DIR" in problem.fix


# -- the command ---------------------------------------------------------------------------

def test_cli_exit_codes(data_copy, capsys):
    assert run_cli(["data", "check", "--data-dir", str(DATA), "--checksums"]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    (data_copy / MOVIES).unlink()
    assert run_cli(["data", "check", "--data-dir", str(data_copy)]) == 1
    out = capsys.readouterr().out
    assert f"error: {MOVIES}: required file is missing" in out
    assert "moviebot data fetch" in out


def test_cli_manifest_override(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"datasets": [{"name": "toy", "source": "https://example.org", '
                        '"files": [{"path": "toy.csv", "columns": ["a"], "required": true}]}]}')
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "toy.csv").write_text("a\n1\n")
    assert run_cli(["data", "check", "--data-dir", str(tmp_path / "d"),
                    "--manifest", str(manifest)]) == 0
    assert "1 file(s) OK" in capsys.readouterr().out


def test_registered_in_the_moviebot_command(capsys):
    from bot.cli import main

    assert main(["data", "check", "--data-dir", str(DATA)]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    assert main(["data", "fetch", "--only", "no-such-set", "--data-dir", str(DATA)]) == 1
    err = capsys.readouterr().err
    assert "no dataset called “no-such-set”" in err and "ml-latest-small" in err


def test_manifest_row_counts_match_the_files():
    """`rows` in the manifest are CSV records (csv module) or lines, as in SOURCES.md."""
    import csv

    for entry in load_manifest().files():
        path = DATA / entry.path
        if entry.rows is None or not path.is_file():
            continue
        with path.open(encoding=entry.encoding, newline="") as fh:
            if entry.format == "csv":
                count = sum(1 for _ in csv.reader(fh)) - 1
            else:
                count = sum(1 for _ in fh)
        assert count == entry.rows, entry.path
    # and they are the counts SOURCES.md states
    stated = {MOVIES: 9742, LINKS: 9742, "movielens/ml-latest-small/ratings.csv": 100_836,
              "movielens/ml-20m-youtube/ml-youtube.csv": 25_623, U_ITEM: 1682, U_DATA: 100_000,
              "spotify/tidytuesday_2020-01-21_spotify_songs/spotify_songs.csv": 32_833,
              "tmdb_5000/tmdb_5000_movies.csv": 4803, "tmdb_udacity_10k/tmdb-movies.csv": 10_866,
              "tmdb_full_dataset_v11/TMDB_movie_dataset_v11.csv": 2631,
              "imdb_5000_movie_dataset/movie_metadata.csv": 5043}
    manifest = load_manifest()
    assert {path: manifest.file(path).rows for path in stated} == stated
