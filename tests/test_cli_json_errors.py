"""`--json` on every recommending command: a failure is a JSON error object on stdout and a
non-zero exit (bot/cli.py main, one place), never plain text a script cannot parse."""

from __future__ import annotations

import json

import pytest

from bot.cli import main

UNKNOWN = "xyzzy qwerty plugh"


def run_json(capsys, *argv: str) -> tuple[int, dict, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, json.loads(out), err


@pytest.mark.parametrize("argv", [
    ("similar", UNKNOWN),
    ("playlist", UNKNOWN),
])
def test_an_unknown_title_is_a_json_error(quick_artifacts, capsys, argv):
    code, doc, err = run_json(capsys, *argv, "--json", "--artifacts", str(quick_artifacts))
    assert code == 1 and err == ""
    error = doc["error"]
    assert error["type"] == "UnknownTitle" and error["query"] == UNKNOWN
    assert f"“{UNKNOWN}”" in error["message"]
    assert isinstance(error["suggestions"], list)


def test_an_ambiguous_title_lists_the_candidates(quick_artifacts, capsys):
    code, doc, _ = run_json(capsys, "similar", "hamlet", "--json",
                            "--artifacts", str(quick_artifacts))
    assert code == 1 and doc["error"]["type"] == "AmbiguousTitle"
    titles = {c["title"] for c in doc["error"]["suggestions"]}
    assert "Hamlet" in titles
    assert all(isinstance(c["movie_id"], int) and c["movie_id"] > 0
               for c in doc["error"]["suggestions"])


@pytest.mark.parametrize("argv, says", [
    (("song", "vibe loudness=banana"), "needs a number"),
    (("recommend", "--history", "318:eleven"), "is not a rating"),
    (("top", "-k", "0"), "between 1 and"),
    (("similar", "heat", "-k", "100000"), "between 1 and"),
])
def test_bad_input_is_a_json_error(quick_artifacts, capsys, argv, says):
    code, doc, err = run_json(capsys, *argv, "--json", "--artifacts", str(quick_artifacts))
    assert code == 1 and err == ""
    assert doc["error"]["type"] == "InvalidInput" and says in doc["error"]["message"]
    assert "suggestions" not in doc["error"]


def test_without_json_the_error_stays_a_sentence_on_stderr(quick_artifacts, capsys):
    code = main(["similar", UNKNOWN, "--artifacts", str(quick_artifacts)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith("moviebot: I couldn't find a movie called")


def test_a_json_success_is_unchanged(quick_artifacts, capsys):
    code = main(["similar", "heat 1995", "-k", "3", "--json", "--artifacts", str(quick_artifacts)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and "error" not in doc and len(doc["results"]) == 3


def test_an_argument_argparse_refuses_is_a_json_error_too(capsys):
    code, doc, err = run_json(capsys, "similar", "heat", "-k", "many", "--json")
    assert code == 2 and err == ""
    assert doc["error"]["type"] == "UsageError"
    assert "moviebot similar" in doc["error"]["message"] and "many" in doc["error"]["message"]


def test_without_json_argparse_keeps_its_usage_text(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["similar", "heat", "-k", "many"])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "usage: moviebot similar" in err and "invalid int value" in err
