"""Typed button actions: one encoding, at most 64 bytes, read back exactly; junk is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.actions import MAX_BYTES, MAX_PAGES, PAGED, Action, InvalidAction, PageQuery

ids = st.integers(min_value=1, max_value=9_999_999_999)
years = st.one_of(st.none(), st.integers(min_value=1870, max_value=2100))
words = st.text(alphabet=st.characters(codec="utf-8", exclude_characters=";,"), min_size=1, max_size=15)
queries = st.builds(PageQuery, movie_id=st.one_of(st.none(), ids),
                    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=70),
                    genres=st.lists(words, max_size=3).map(tuple), year_min=years, year_max=years,
                    min_votes=st.integers(min_value=0, max_value=100_000))
actions = st.one_of(
    st.builds(lambda verb, i: getattr(Action, verb)(i),
              st.sampled_from(["info", "more", "like", "dislike", "watch"]), ids),
    st.builds(Action.song, st.text(alphabet="abcXYZ0189", min_size=1, max_size=40)),
    st.builds(Action.forget, st.booleans()),
    st.builds(Action.page, st.sampled_from(PAGED), st.one_of(st.none(), queries),
              st.integers(min_value=0, max_value=MAX_PAGES - 1)),
)


@given(actions)
@settings(max_examples=500, deadline=None)
def test_encode_decode_round_trip_within_64_bytes(action):
    wire = action.encode()
    assert len(wire.encode()) <= MAX_BYTES
    back = Action.decode(wire)
    if action.verb == "page" and back.query is None:
        # too long for a button: the query comes from the stored reply context
        assert back == Action.page(action.command, None, action.n)
    else:
        assert back == action
    assert back.encode() == wire


@given(st.one_of(st.text(max_size=80), st.builds(lambda v, r: f"{v}:{r}",
                 st.sampled_from(["info", "more", "like", "song", "forget", "page", "watch"]),
                 st.text(max_size=60))))
@settings(max_examples=800, deadline=None)
def test_junk_is_refused_or_read_exactly(text):
    try:
        action = Action.decode(text)
    except InvalidAction:
        return
    assert action.encode() == text          # only the one canonical spelling is accepted


@pytest.mark.parametrize("text", ["", "like:abc", "like:0", "like:01", "drop table", "page:similar:99:m=1",
                                  "page:similar:1:#318 genre:crime", "page:trending:1", "forget:maybe",
                                  "song:" + "a" * 41, "more:318;", "page:song:1:t=" + "x" * 60])
def test_forged_payloads_raise(text):
    with pytest.raises(InvalidAction):
        Action.decode(text)


def test_earlier_wire_forms_still_read():
    assert Action.decode("more:318") == Action.more(318)
    assert Action.decode("forget:yes") == Action.forget(True)
    assert Action.decode("page:recommend:2") == Action.page("recommend", None, 2)


def test_a_page_query_is_typed_values():
    query = PageQuery(movie_id=318, genres=("crime", "film noir"), year_min=1990, min_votes=50)
    action = Action.page("similar", query, 1)
    assert action.encode() == "page:similar:1:m=318;g=crime,film noir;y=1990-;v=50"
    assert Action.decode(action.encode()).query.filters().genres == ["crime", "film noir"]
    long = Action.page("song", PageQuery(text="é" * 40), 1)
    assert long.encode() == "page:song:1"          # did not fit: read from the stored context
