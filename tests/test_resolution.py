"""Titles resolved the way fans mean them, on the real catalog, and plain chat lines."""

from __future__ import annotations

import asyncio

import pytest

from bot.commands import CommandLayer, User
from bot.parsing import read_phrase
from engine.catalog import Catalog, NotInCatalog, SeriesChoice
from engine.errors import AmbiguousTitle, UnknownTitle

SPAN = {"first_year": 1902, "last_year": 2018, "last_date": "2018-09-24"}


@pytest.fixture(scope="module")
def catalog(catalog_frame) -> Catalog:
    catalog = Catalog(catalog_frame)
    catalog.span = dict(SPAN)
    return catalog


def test_the_notable_film_wins_unless_the_year_says_otherwise(catalog):
    assert catalog.resolve("oldboy").year == 2003          # not the 2013 remake
    assert catalog.resolve("oldboy 2013").year == 2013
    assert catalog.resolve("psycho").year == 1960


def test_two_notable_films_of_one_title_are_asked_about(catalog):
    with pytest.raises(AmbiguousTitle) as err:
        catalog.resolve("hamlet")
    assert {1948, 1990, 1996} <= {c.year for c in err.value.candidates}


def test_lord_of_the_rings_offers_the_trilogy_from_the_fellowship(catalog):
    with pytest.raises(SeriesChoice) as err:
        catalog.resolve("lord of the rings")
    titles = [c.title for c in err.value.candidates]
    assert titles[0] == "The Lord of the Rings: The Fellowship of the Ring"
    assert len(titles) == 3


def test_star_wars_choice_includes_the_empire_strikes_back(catalog):
    with pytest.raises(SeriesChoice) as err:
        catalog.resolve("star wars")
    titles = [c.title for c in err.value.candidates]
    assert titles[0] == "Star Wars: Episode IV - A New Hope"
    assert "Star Wars: Episode V - The Empire Strikes Back" in titles
    years = [c.year for c in err.value.candidates]
    assert years == sorted(years)


def test_harry_potter_is_a_series_in_order(catalog):
    with pytest.raises(SeriesChoice) as err:
        catalog.resolve("harry potter")
    assert err.value.candidates[0].title == "Harry Potter and the Sorcerer's Stone"


def test_a_series_named_after_its_best_film_gives_the_film_and_knows_its_series(catalog):
    alien = catalog.resolve("alien")
    assert (alien.title, alien.year) == ("Alien", 1979)
    series = [c.title for c in catalog.series(alien.movie_id)]
    assert series[:2] == ["Alien", "Aliens"]
    assert catalog.resolve("toy story").year == 1995


@pytest.mark.parametrize("query", ["barbie", "oppenheimer", "dune part two"])
def test_films_after_the_catalog_are_not_found_with_its_date_range(catalog, query):
    with pytest.raises(NotInCatalog) as err:
        catalog.resolve(query)
    text = str(err.value)
    assert "couldn't find" in text and "September 2018" in text and "TMDB_API_KEY" in text
    assert "could be several" not in text
    assert not isinstance(err.value, AmbiguousTitle)


def test_a_year_after_the_catalog_is_said_so(catalog):
    with pytest.raises(NotInCatalog) as err:
        catalog.resolve("barbie 2023")
    assert err.value.newer and "after my catalog ends" in str(err.value)


@pytest.mark.parametrize("query, suggested", [
    ("hello", "Hello, Dolly! (1969)"),
    ("blue", "Three Colors: Blue (1993)"),
    ("white", "Three Colors: White (1994)"),    # its subtitle
])
def test_titles_that_only_contain_the_word_are_suggestions_not_a_choice(catalog, query, suggested):
    """No film is called "Blue": Blue Velvet, Blue Crush and The Big Blue only contain
    the word, so the answer is not-found with them as suggestions, not "which one?"."""
    with pytest.raises(NotInCatalog) as err:
        catalog.resolve(query)
    assert not isinstance(err.value, AmbiguousTitle)
    assert suggested in {c.label for c in err.value.suggestions}
    assert "September 2018" in str(err.value)


@pytest.mark.parametrize("stem", ["blue", "white", "heat"])
def test_films_that_only_start_with_the_same_word_are_no_series(catalog, stem):
    """"Blue Velvet", "Blue Jasmine" and "Blue Valentine" are no franchise (Red and Red 2
    are)."""
    assert catalog.series(stem) == []


def test_sequels_and_subtitles_make_a_series(catalog):
    titles = [c.title for c in catalog.series("star trek")]
    assert titles[:2] == ["Star Trek: The Motion Picture", "Star Trek II: The Wrath of Khan"]
    titles = [c.title for c in catalog.series("pirates of the caribbean")]
    assert titles[0] == "Pirates of the Caribbean: The Curse of the Black Pearl"
    terminator = [c.title for c in catalog.series("terminator")]
    assert terminator[:2] == ["The Terminator", "Terminator 2: Judgment Day"]


def test_weak_fuzzy_matches_are_never_a_choice(catalog):
    with pytest.raises(UnknownTitle) as err:
        catalog.resolve("xyzzy qwerty plugh")
    assert not isinstance(err.value, AmbiguousTitle)


@pytest.mark.parametrize("line, intent, title, era", [
    ("movies like inception", "similar", "inception", ""),
    ("something like heat", "similar", "heat", ""),
    ("similar to the matrix?", "similar", "the matrix", ""),
    ("heat but older", "similar", "heat", "older"),
    ("films like alien but newer", "similar", "alien", "newer"),
    ("hello", "help", "", ""), ("thanks!", "help", "", ""), ("hi there", "help", "", ""),
    ("Hello, Dolly!", "info", "Hello, Dolly", ""),
    ("Some Like It Hot", "info", "Some Like It Hot", ""),
    ("Like Water for Chocolate", "info", "Like Water for Chocolate", ""),
])
def test_plain_lines_are_read_as_people_mean_them(line, intent, title, era):
    phrase = read_phrase(line)
    assert (phrase.intent, phrase.title, phrase.era) == (intent, title, era)


@pytest.mark.parametrize("line, title", [
    ("all star wars films", "star wars"), ("show me every harry potter movie", "harry potter"),
    ("all of the alien films", "alien"),
])
def test_asking_for_all_films_of_a_series_is_the_whole_series(line, title):
    phrase = read_phrase(line)
    assert (phrase.intent, phrase.title, phrase.whole_series) == ("similar", title, True)
    assert not read_phrase("movies like star wars").whole_series
    assert read_phrase("All About Eve").intent == "info"


def _chat(engine, text):
    layer = CommandLayer(lambda: engine)
    return asyncio.run(layer.handle(text, User("console", "t")))


def test_chat_movies_like_inception_lists_similar_films(engine):
    reply = _chat(engine, "movies like inception")
    assert reply.text.startswith("Because you asked about Inception")
    assert reply.cards and not reply.is_error


def test_chat_but_older_keeps_to_older_films(engine):
    reply = _chat(engine, "heat but older")
    assert reply.cards and all(c.subtitle[:4] < "1995" for c in reply.cards)


def test_chat_greeting_gets_help_with_the_date_range(engine):
    reply = _chat(engine, "hello")
    assert "/similar" in reply.text and "to September 2018" in reply.text
    assert not reply.buttons


def test_chat_barbie_is_not_found_with_the_date_range(engine):
    reply = _chat(engine, "barbie")
    assert reply.is_error and "September 2018" in reply.text and "several" not in reply.text


@pytest.mark.parametrize("query, title", [
    ("three colors: white", "Three Colors: White"),     # a TMDB collection; Blue is better known
    ("Three Colors: Red", "Three Colors: Red"),
    ("the empire strikes back", "Star Wars: Episode V - The Empire Strikes Back"),
])
def test_a_film_of_a_series_named_by_its_own_title_is_that_film(catalog, query, title):
    assert catalog.resolve(query).title == title


@pytest.mark.parametrize("query, title", [
    ("the two towers", "The Lord of the Rings: The Two Towers"),
    ("a new hope", "Star Wars: Episode IV - A New Hope"),
    ("dead man's chest", "Pirates of the Caribbean: Dead Man's Chest"),   # not Dead Man's Shoes
])
def test_a_sequel_is_found_by_its_subtitle(catalog, query, title):
    assert catalog.resolve(query).title == title


def test_numbering_alone_names_no_film(catalog):
    with pytest.raises(NotInCatalog):
        catalog.resolve("episode iv")


def test_a_name_that_starts_its_sequels_titles_is_still_a_choice(catalog):
    """"terminator": The Terminator's title, but also how "Terminator 2" starts, and T2 is
    the better known; "three colors" is the collection's name, no film's."""
    for query in ("terminator", "three colors"):
        with pytest.raises(SeriesChoice):
            catalog.resolve(query)


def test_a_whole_title_with_its_article_names_that_film(catalog):
    """"the terminator" is how the 1984 film is called, and it is about as well known as T2;
    "the lord of the rings" is also a film's whole title, but an obscure one (1978): a choice."""
    film = catalog.resolve("the terminator")
    assert (film.title, film.year) == ("The Terminator", 1984)
    with pytest.raises(SeriesChoice) as choice:
        catalog.resolve("the lord of the rings")
    assert "Fellowship of the Ring" in choice.value.candidates[0].title


def test_films_that_only_share_a_name_are_no_series(catalog):
    heat = catalog.resolve("heat")
    assert heat.year == 1995 and catalog.series(heat.movie_id) == []   # not "The Heat" (2013)


def test_info_card_names_the_series_and_offers_its_entries(engine):
    reply = _chat(engine, "/info alien")
    assert reply.cards[0].title == "Alien (1979)"
    assert "Series: Alien (1979) · Aliens (1986)" in reply.cards[0].body
    assert [b.label for b in reply.buttons][:1] == ["Aliens (1986)"]
