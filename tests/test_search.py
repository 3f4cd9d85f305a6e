"""Title search: normalisation properties (hypothesis) and resolution on the real catalog."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.catalog import Catalog
from engine.errors import AmbiguousTitle, InvalidInput, UnknownTitle
from engine.search import ARTICLES, normalize, split_year, title_key


@pytest.fixture(scope="module")
def catalog(catalog_frame) -> Catalog:
    return Catalog(catalog_frame)


@given(st.text(max_size=80))
def test_normalize_is_idempotent_ascii_lowercase(text):
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.lower() and once.isascii()
    assert "  " not in once and once == once.strip()


@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=30))
def test_case_and_punctuation_do_not_matter(word):
    assert normalize(word.upper() + "!?") == normalize(word.lower())


@given(st.sampled_from(["The", "A", "An"]), st.text(alphabet="abcdefghij ", min_size=2, max_size=20))
def test_leading_and_movielens_trailing_articles_give_the_same_key(article, body):
    body = body.strip()
    if not body or set(body.split()) & ARTICLES:  # "die" is itself an article
        return
    assert title_key(f"{article} {body}") == title_key(f"{body}, {article}")


def test_accents_fold():
    assert normalize("Amélie") == normalize("amelie") == "amelie"
    assert title_key("Léon: The Professional") == "leon the professional"


@pytest.mark.parametrize("query, expected", [
    ("Heat (1995)", ("Heat", 1995)), ("heat 1995", ("heat", 1995)), ("Heat, 1995", ("Heat", 1995)),
    ("1917", ("1917", None)), ("Blade Runner 2049", ("Blade Runner 2049", None)),
])
def test_split_year(query, expected):
    assert split_year(query) == expected


@pytest.mark.parametrize("query, title, year", [
    ("toy story", "Toy Story", 1995),
    ("the godfater", "The Godfather", 1972),          # typo
    ("Godfather, The", "The Godfather", 1972),        # MovieLens article order
    ("heat 1995", "Heat", 1995), ("Heat (1995)", "Heat", 1995),
    ("MATRIX", "The Matrix", 1999),
    ("Se7en", "Seven", 1995),                         # a.k.a. title
    ("amelie", "Amelie", 2001), ("Amélie", "Amelie", 2001),
    ("schindlers list", "Schindler's List", 1993),
    ("pulp fiction!!!", "Pulp Fiction", 1994),
    ("inceptoin", "Inception", 2010),
    ("shawshank", "The Shawshank Redemption", 1994),  # one title contains every word
    ("death race 2000", "Death Race 2000", 1975),     # a year that is part of the title
    ("psycho", "Psycho", 1960),                       # the famous one dominates the remake
])
def test_resolves(catalog, query, title, year):
    movie = catalog.resolve(query)
    assert (movie.title, movie.year) == (title, year)


def test_ambiguous_titles_offer_a_choice(catalog):
    with pytest.raises(AmbiguousTitle) as err:
        catalog.resolve("hamlet")
    years = {c.year for c in err.value.candidates}
    assert {1990, 1996, 1948} <= years
    assert all(c.title == "Hamlet" for c in err.value.candidates)
    with pytest.raises(AmbiguousTitle) as err:
        catalog.resolve("star wars")
    assert err.value.candidates[0].title == "Star Wars: Episode IV - A New Hope"


def test_year_picks_one_of_several(catalog):
    assert catalog.resolve("hamlet 1948").year == 1948


def test_unknown_titles_get_suggestions_or_nothing(catalog):
    with pytest.raises(UnknownTitle) as err:
        catalog.resolve("xyzzy qwerty plugh")
    assert "couldn't find" in str(err.value)


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", "x" * 201])
def test_bad_queries_are_explained(catalog, bad):
    with pytest.raises(InvalidInput):
        catalog.resolve(bad)


def test_ranked_candidates_carry_confidence(catalog):
    found = catalog.search("godfather", k=5)
    assert found[0].title == "The Godfather" and found[0].confidence == 1.0
    assert any("Part II" in c.title for c in found)
    assert all(0 <= c.confidence <= 1 for c in found)
