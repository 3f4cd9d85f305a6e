"""Group recommendations (issue 19): Engine.group_recommend on the session's --quick build."""

from __future__ import annotations

import pytest

from engine.errors import InvalidInput
from engine.queries import GroupMember, GroupQuery, ResolvedGroup
from engine.results import Filters

SHAWSHANK, STAR_WARS, EMPIRE, MATRIX, ALIEN, BLADE_RUNNER = 318, 260, 1196, 2571, 1214, 541
NOTTING_HILL, PRETTY_WOMAN, HARRY_SALLY, SLEEPLESS = 2671, 597, 1307, 539

ANN = GroupMember.of("Ann", [(ALIEN, 5), (BLADE_RUNNER, 5), (MATRIX, 4.5), (STAR_WARS, "like")])
BO = GroupMember.of("Bo", [(NOTTING_HILL, 5), (PRETTY_WOMAN, 4.5), (HARRY_SALLY, "like"),
                           (SLEEPLESS, 5), (MATRIX, "dislike")])


def rated(*members: GroupMember) -> set[int]:
    return {m for member in members for m, _ in member.history}


def test_a_group_gets_unseen_films_with_reasons_that_name_members(engine):
    recs = engine.group_recommend(GroupQuery((ANN, BO)), k=5)
    assert recs.kind == "party"
    assert isinstance(recs.query, ResolvedGroup)
    assert recs.query.members == ("Ann", "Bo") and not recs.query.relaxed_veto
    assert len(recs.results) == 5
    ids = [r.movie.movie_id for r in recs.results]
    assert len(set(ids)) == 5 and not set(ids) & rated(ANN, BO)
    scores = [r.score for r in recs.results]
    assert scores == sorted(scores, reverse=True)
    for r in recs.results:
        assert "nobody has seen it" in r.reason
    # each member is behind at least one pick, by name
    assert any("Ann" in r.reason for r in recs.results)
    assert any("Bo" in r.reason for r in recs.results)
    assert recs.to_json()["query"]["members"] == ["Ann", "Bo"]


def test_group_onboarding_lists_well_known_varied_films(engine):
    films = engine.group_onboarding(8)
    assert len(films) == 8 and len({m.movie_id for m in films}) == 8
    assert len({m.genres[0] for m in films if m.genres}) >= 4


def test_bad_members_get_a_friendly_error(engine):
    with pytest.raises(InvalidInput):
        engine.group_recommend([], k=5)
    with pytest.raises(InvalidInput):
        engine.group_recommend([GroupMember.of("Ann", [(ALIEN, 9)])], k=5)
    with pytest.raises(InvalidInput):
        engine.group_recommend(GroupQuery((ANN,), fairness="loudest"), k=5)
    with pytest.raises(InvalidInput):
        engine.group_recommend(GroupQuery((ANN, BO)), k=0)


def test_filters_are_honoured(engine):
    recs = engine.group_recommend(GroupQuery((ANN, BO)), k=3,
                                  filters=Filters(year_max=1990, genres=["Comedy"]))
    assert recs.results
    for r in recs.results:
        assert r.movie.year <= 1990 and "Comedy" in r.movie.genres
