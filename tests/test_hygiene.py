"""Catalog text hygiene on the real files: mojibake, people, genres, keywords, titles."""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.datasets import hygiene as hy
from engine.datasets.titles import parse_ml_title


@pytest.fixture(scope="module")
def by_id(catalog_frame):
    return catalog_frame.set_index("movie_id")


# -- the repairs, on the built catalog -------------------------------------------------
def test_no_movie_keeps_mojibake_after_the_build(catalog_frame):
    counts = hy.audit(catalog_frame)
    assert counts["mojibake_movies"] == 0
    assert counts["ftfy_would_change_movies"] == 0
    assert counts["html_entity_movies"] == 0
    assert counts["not_nfc_movies"] == 0


def test_what_still_matches_the_literal_patterns_is_real_names(catalog_frame):
    """Ã/Å/â€/Ä after the build: only real words such as "Åmål" or "Malin Åkerman"."""
    hits = set()
    for row in catalog_frame.itertuples():
        for column in hy.TEXT_COLUMNS:
            for text in hy._values(getattr(row, column)):
                if hy.PATTERN_RE.search(text):
                    hits.add(text if len(text) < 40 else text[:40])
    assert not any("Ã" in h or "â€" in h for h in hits), hits
    assert {"Fucking Åmål", "Malin Åkerman"} <= hits
    assert len(hits) < 10


def test_named_examples_are_repaired(by_id):
    assert by_id.loc[307, "directors"] == ["Krzysztof Kieślowski"]          # Blue
    assert "Lasse Hallström" in {d for ds in by_id["directors"] for d in ds}
    assert by_id.loc[112183, "title"] == "Birdman: Or (The Unexpected Virtue of Ignorance)"
    assert "Alejandro González Iñárritu" in by_id.loc[112183, "directors"]
    assert all("IMAX" not in g for g in by_id["genres"])
    assert all("TV Movie" not in g and "Foreign" not in g for g in by_id["tmdb_genres"])


def test_iron_man_and_guardians_have_no_production_tags(by_id, catalog_frame):
    for title in ("Iron Man", "Guardians of the Galaxy"):
        row = catalog_frame[catalog_frame["title"] == title].iloc[0]
        assert row["keywords"].size if hasattr(row["keywords"], "size") else row["keywords"]
        assert not any(hy.is_production_tag(k) for k in row["keywords"]), title
    assert hy.audit(catalog_frame)["production_tags"] == 0


def test_the_colours_trilogy_carries_one_spelling(by_id):
    """Blue (TMDB export, once garbled) and White (IMDb, without the accent) agree; no
    source has a director for Red."""
    spellings = {d for m in (306, 307, 308) for d in by_id.loc[m, "directors"]}
    assert spellings == {"Krzysztof Kieślowski"}


# -- people --------------------------------------------------------------------------
def test_person_key_ignores_accents_order_and_hyphens():
    assert hy.person_key("Joon-ho Bong") == hy.person_key("Bong Joon Ho")
    assert hy.person_key("Krzysztof Kieślowski") == hy.person_key("Krzysztof Kieslowski")
    assert hy.person_key("Ethan Coen") != hy.person_key("Joel Coen")


def test_canonical_spelling_prefers_diacritics_then_votes():
    names = ["Krzysztof Kieslowski", "Krzysztof Kieslowski", "Krzysztof Kieślowski",
             "Joon-ho Bong", "Bong Joon Ho", "Bong Joon Ho"]
    mapping = hy.canonical_people(names)
    assert mapping["Krzysztof Kieslowski"] == "Krzysztof Kieślowski"
    assert mapping["Joon-ho Bong"] == mapping["Bong Joon Ho"] == "Bong Joon Ho"


def test_every_person_has_one_spelling_in_the_catalog(catalog_frame):
    assert hy.audit(catalog_frame)["people_with_several_spellings"] == 0


def test_cast_lists_are_merged_across_sources(by_id):
    """Old Boy: the IMDb list and the TMDB list agree on Choi Min-sik, written once."""
    cast = list(by_id.loc[27773, "cast"])
    assert len({hy.person_key(n) for n in cast}) == len(cast)
    assert sum(hy.person_key(n) == hy.person_key("Min-sik Choi") for n in cast) == 1


# -- the repair functions --------------------------------------------------------------
@pytest.mark.parametrize("garbled, clean", [
    ("Lasse HallstrÃ¶m", "Lasse Hallström"),
    ("Krzysztof KieÅ›lowski", "Krzysztof Kieślowski"),
    ("Jonas Ã…kerlund", "Jonas Åkerlund"),            # ftfy leaves this one: byte pair
    ("ToshirÅ Mifune", "Toshirō Mifune"),              # a byte was lost: restored
    ("Miguel Ãngel Fuentes", "Miguel Ángel Fuentes"),
    ("Raffaella CarrÃ", "Raffaella Carrà"),            # non-breaking space stripped
    ("Kiá»u Chinh", "Kiều Chinh"),
    ("é‚±æ·‘è²ž", "邱淑貞"),
    ("Marcel IureÈ™", "Marcel Iureș"),               # Romanian ș: a lead ftfy leaves
    ("DragoÈ™ Bucur", "Dragoș Bucur"),
])
def test_fix_text_repairs(garbled, clean):
    letters = Counter({"ō": 5, "Á": 5, "à": 5, "ề": 1})
    assert hy.fix_text(garbled, letters) == clean
    assert hy.looks_garbled(garbled) and not hy.looks_garbled(clean)


def test_a_keyword_ending_in_a_stripped_non_breaking_space_is_cleaned():
    """"infatuation Â": the Â of a UTF-8 non-breaking space whose second byte was
    stripped as whitespace; alone, it is no keyword at all."""
    assert hy.looks_garbled("infatuation Â") and hy.looks_garbled("Â")
    assert hy.fix_list(["infatuation Â", "Â", "ice cream man"]) == ["infatuation", "ice cream man"]


def test_romanian_and_stray_byte_names_are_repaired_in_the_build(by_id):
    """Marcel Iureș (The Peacemaker, Hart's War, Amen.) came as "IureÈ™"; Phantasm's
    keywords had "ice cream man Â" and The Crow: Salvation a keyword that was only "Â"."""
    for movie in (1616, 5107, 6041, 58783):
        assert "Marcel Iureș" in list(by_id.loc[movie, "cast"])
    assert "Dragoș Bucur" in list(by_id.loc[83369, "cast"])
    assert "ice cream man" in list(by_id.loc[2901, "keywords"])
    assert all("Â" not in k for m in (2901, 3563, 44633) for k in by_id.loc[m, "keywords"])


def test_html_entities_are_decoded():
    assert hy.fix_text("Marks &amp; Co.") == "Marks & Co."


@pytest.mark.parametrize("good", ["Fucking Åmål", "Ångström", "Malin Åkerman", "ÄRZTE",
                                  "São Paulo", "M. Hulot’s Holiday", "café…”", "Éric Rohmer",
                                  "異星爭霸戰：尊卡特傳奇", "Đỗ Thị Hải Yến"])
def test_real_names_are_left_alone(good):
    assert hy.fix_text(good) == good
    assert not hy.looks_garbled(good)


_titles = st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_titles)
@example("aÂÂ")        # a restored space exposes another lost byte
@example("\xa0Ä²")      # a repaired letter (the ligature Ĳ) that ftfy then normalises
@example("Maážš Lee")   # real Czech letters, not the start of a 3-byte character
def test_fix_text_is_idempotent(text):
    once = hy.fix_text(text)
    assert hy.fix_text(once) == once
    assert unicodedata.is_normalized("NFC", once)


@settings(max_examples=300, deadline=None)
@given(_titles)
def test_fix_text_never_garbles_a_valid_title(text):
    """Valid text never comes out looking like mojibake it did not look like before."""
    fixed = hy.fix_text(text)
    if not hy.looks_garbled(text):
        assert not hy.looks_garbled(fixed)
    assert not (hy.PATTERN_RE.search(fixed) and not hy.PATTERN_RE.search(text))


_ACCENTED = "àáâäåæçèéêëìíîïñòóôöøùúûüýÿßśłńźżčšžřěůőűćğışōșț"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["Ma", "Á", "Ö", "Ł", "Ś", "É"]),
       st.text(alphabet=_ACCENTED + "abcdefghijklmnop", min_size=1, max_size=12))
def test_garbling_a_name_then_fixing_gives_it_back(start, body):
    """The round trip ftfy exists for: a name's UTF-8 read as Windows-1252, repaired.
    (Names as they are written: capitals start words.)"""
    word = start + body + " Lee"
    try:
        garbled = word.encode("utf-8").decode("windows-1252")
    except UnicodeDecodeError:  # a byte Windows-1252 has no character for
        return
    assert hy.fix_text(garbled) == word


def test_genres_and_keywords_are_filtered():
    assert hy.clean_genres(["Action", "IMAX", "Sci-Fi"], hy.ML_GENRES) == ["Action", "Sci-Fi"]
    assert hy.clean_keywords(["superhero", "aftercreditsstinger", "Woman Director",
                              "duringcreditsstinger", "based on comic"]) == ["superhero", "based on comic"]


def test_cut_off_titles_are_kept_whole():
    assert parse_ml_title("Birdman: Or (The Unexpected Virtue of Ignorance) (2014)")[0] == \
        "Birdman: Or (The Unexpected Virtue of Ignorance)"
    assert parse_ml_title("Skin I Live In, The (La piel que habito) (2011)") == \
        ("The Skin I Live In", ["La piel que habito"], 2011)


def test_one_films_credits_name_each_person_once():
    assert hy.merge_people([["Alejandro G. Iñárritu"], ["Alejandro González Iñárritu"]], 4) == \
        ["Alejandro González Iñárritu"]
    assert hy.merge_people([["Joel Coen", "Ethan Coen"], ["Ethan Coen"]], 4) == ["Joel Coen", "Ethan Coen"]
    assert hy.merge_people([["Min-sik Choi"], ["Choi Min-sik", "Ji-tae Yu"]], 8) == \
        ["Min-sik Choi", "Ji-tae Yu"]


def test_a_synopsis_credit_completes_the_cast(by_id):
    """No cast list in the data names Audrey Tautou for Amélie (IMDB 5000 has three others,
    by Facebook likes); two TMDB synopses say "Amélie (Audrey Tautou)"."""
    assert list(by_id.loc[4973, "cast"])[0] == "Audrey Tautou"
    assert "Kirk Douglas" in list(by_id.loc[1178, "cast"])       # Paths of Glory
    assert "Robert Englund" in list(by_id.loc[1347, "cast"])     # A Nightmare on Elm Street


def test_only_parentheses_of_known_actors_credit_anyone():
    known = {hy.person_key(n) for n in ("Audrey Tautou", "Cary Grant", "Audrey Hepburn",
                                         "Chris Isaak", "Kyle MacLachlan")}
    assert hy.overview_cast("the painfully shy Amélie (Audrey Tautou) discovers", known) == \
        ["Audrey Tautou"]
    assert hy.overview_cast("FBI agents Desmond (Chris Isaak) and Cooper (Kyle MacLachlan)",
                            known) == ["Chris Isaak", "Kyle MacLachlan"]
    assert hy.overview_cast("a remake of Charade (which starred Cary Grant and Audrey "
                            "Hepburn)", known) == []
    assert hy.overview_cast("She moves to Paris (France) with Jean (John Doe)", known) == []


def test_birdman_credits_its_director_once(by_id):
    assert by_id.loc[112183, "directors"] == ["Alejandro González Iñárritu"]
