"""Group recommendations (issue 19): Engine.group_recommend on the session's --quick build."""

from __future__ import annotations

import json

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


def ids_of(recs) -> list[int]:
    return [r.movie.movie_id for r in recs.results]


def test_a_film_anyone_disliked_or_rated_low_is_vetoed_even_with_rewatch(engine):
    base = engine.group_recommend(GroupQuery((ANN, BO), rewatch=True), k=5)
    first, second = ids_of(base)[:2]
    cy = GroupMember.of("Cy", [(SHAWSHANK, 5), (first, "dislike"), (second, 2)])
    vetoed = engine.group_recommend(GroupQuery((ANN, BO, cy), rewatch=True), k=5)
    assert not vetoed.query.relaxed_veto
    assert first not in ids_of(vetoed) and second not in ids_of(vetoed)


def test_another_part_of_a_series_someone_turned_down_is_vetoed(engine):
    jedi = 1210   # Star Wars: Episode VI
    fan = GroupMember.of("Ann", [(STAR_WARS, 5), (EMPIRE, 5), (ALIEN, 4.5)])
    assert jedi in ids_of(engine.group_recommend(GroupQuery((fan,)), k=10))
    hater = GroupMember.of("Bo", [(STAR_WARS, "dislike"), (NOTTING_HILL, 5),
                                  (PRETTY_WOMAN, 5), (HARRY_SALLY, 5)])
    assert jedi not in ids_of(engine.group_recommend(GroupQuery((fan, hater)), k=10))


def few_films(engine) -> tuple[Filters, list[int]]:
    """Filters that only a handful of well-known films pass, and those films."""
    filters = Filters(year_min=1994, year_max=1994, genres=["Crime"], min_votes=8000)
    ids = [int(m) for m in engine.catalog.ids if filters.accepts(engine.movie(int(m)))]
    assert 2 <= len(ids) <= 8, ids
    return filters, ids


def test_rewatch_allows_rated_films_and_says_who_rated_them(engine):
    filters, ids = few_films(engine)
    ann = GroupMember.of("Ann", [*ANN.history, *[(m, 4.5) for m in ids]])
    fresh = engine.group_recommend(GroupQuery((ann, BO)), k=3, filters=filters)
    assert fresh.results == [] and "no film" in fresh.query.note
    again = engine.group_recommend(GroupQuery((ann, BO), rewatch=True), k=3, filters=filters)
    assert again.results and not again.query.relaxed_veto
    for r in again.results:
        assert r.movie.movie_id in ids and "Ann rated it 4.5★" in r.reason


def test_no_common_candidate_relaxes_the_veto_and_tells_the_group(engine):
    filters, ids = few_films(engine)
    cy = GroupMember.of("Cy", [(ALIEN, 5), (BLADE_RUNNER, 5), (MATRIX, 5),
                               *[(m, "dislike") for m in ids]])
    recs = engine.group_recommend(GroupQuery((ANN, cy), rewatch=True), k=3, filters=filters)
    q = recs.query
    assert q.relaxed_veto and q.note and "relaxed" in q.note
    assert recs.results
    for r in recs.results:
        assert "Cy turned it down" in r.reason
    assert recs.to_json()["query"]["relaxed_veto"] is True


def test_a_watchlist_film_is_a_candidate_and_the_reason_says_whose(engine):
    seven = 47
    bo = GroupMember.of("Bo", [*BO.history, (seven, "watchlist")])
    recs = engine.group_recommend(GroupQuery((ANN, bo)), k=10)
    assert seven in ids_of(recs)
    reason = next(r.reason for r in recs.results if r.movie.movie_id == seven)
    assert "on Bo's watchlist" in reason


def test_a_member_with_no_history_still_gets_a_list(engine):
    recs = engine.group_recommend(GroupQuery((ANN, GroupMember("Newcomer"))), k=5)
    assert len(recs.results) == 5
    assert not set(ids_of(recs)) & rated(ANN)


def test_fairness_variants_all_answer(engine):
    lists = {f: ids_of(engine.group_recommend(GroupQuery((ANN, BO), fairness=f), k=5))
             for f in ("proportional", "least_misery", "average")}
    assert all(len(v) == 5 for v in lists.values())
    default = engine.group_recommend(GroupQuery((ANN, BO)), k=5)
    assert default.query.fairness == "proportional" and ids_of(default) == lists["proportional"]


def test_explain_gives_the_group_sentence(engine):
    recs = engine.group_recommend(GroupQuery((ANN, BO)), k=3)
    party = engine.party()
    assert party.explain(GroupQuery((ANN, BO)), recs.results[0].movie) == recs.results[0].reason


def run_cli(capsys, *argv: str) -> tuple[int, dict]:
    from bot.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, json.loads(out)


def test_cli_party_prints_the_group_list_as_json(quick_artifacts, capsys):
    code, doc = run_cli(capsys, "party", "--members", "Ann=318:5,260:4|1196:like,2571:5",
                        "-k", "3", "--json", "--artifacts", str(quick_artifacts))
    assert code == 0
    assert doc["query"]["members"] == ["Ann", "Member 2"]
    assert doc["query"]["relaxed_veto"] is False and doc["query"]["note"] == ""
    assert len(doc["results"]) == 3
    assert not {r["movie_id"] for r in doc["results"]} & {318, 260, 1196, 2571}
    assert all(r["reason"] for r in doc["results"])


@pytest.mark.parametrize("members, says", [
    ("318:5|1196:eleven", "Member 2: “eleven” is not a rating"),
    ("318:5|", "Member 2 has no history"),
    ("318:5|abc:4", "is not a movie id"),
])
def test_cli_bad_members_are_json_errors(quick_artifacts, capsys, members, says):
    code, doc = run_cli(capsys, "party", "--members", members, "--json",
                        "--artifacts", str(quick_artifacts))
    assert code == 1
    assert doc["error"]["type"] == "InvalidInput" and says in doc["error"]["message"]


def test_cli_eval_party_quick(data_dir, quick_artifacts, tmp_path, capsys):
    from bot.cli import main

    out = tmp_path / "party.json"
    code = main(["eval", "party", "--quick", "--groups", "4", "--data-dir", str(data_dir),
                 "--artifacts", str(quick_artifacts), "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "min-member NDCG@10" in text and "plain average" in text
    assert "the other side" in text
    tables = json.loads(out.read_text())
    assert tables["model"] == "als" and tables["served_default"] in tables["test"]
    for split in ("validation", "test"):
        table = tables[split]
        assert {"popularity", "plain average", "random member"} <= set(table)
        assert table["plain average"]["groups"] == 16     # 4 groups of each size 2-5
        for row in table.values():
            assert 0 <= row["min_ndcg"] <= row["mean_ndcg"] <= 1
            assert row["mean_se"] >= 0
            # the other side: lists scored for strangers, and how varied the lists are
            assert 0 <= row["shuffled_ndcg"] <= 1
            assert 1 <= row["distinct_films"] <= 16 * 10
            assert 1 / 16 <= row["top_film_share"] <= 1
    assert tables["chosen_on_validation"] in tables["validation"]


def test_content_neighbour_ids_are_the_films_recommend_lists(engine):
    from engine.queries import MovieQuery

    content = engine.recommender("content")
    exclude = frozenset({STAR_WARS, EMPIRE})
    for movie_id in (SHAWSHANK, MATRIX, ALIEN):
        movie = engine.movie(movie_id)
        listed = [r.movie.movie_id for r in content.recommend(MovieQuery(movie, exclude), 12).results]
        assert content.neighbour_ids(movie, 12, exclude) == listed
    queries = [(engine.movie(m), exclude) for m in (SHAWSHANK, MATRIX, ALIEN)]
    assert content.neighbour_ids_many(queries, 12) == [
        content.neighbour_ids(movie, 12, ex) for movie, ex in queries]


def test_the_party_recommender_loads_from_a_version_directory(engine):
    from engine.party.serving import PartyRecommender

    party = PartyRecommender.load(engine.version_dir / "party", engine.catalog)
    assert party.content is not None
    standalone = party.recommend(GroupQuery((ANN, BO)), k=5)
    assert ids_of(standalone) == ids_of(engine.group_recommend(GroupQuery((ANN, BO)), k=5))
