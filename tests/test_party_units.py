"""The party aggregation and reasons on small hand-made inputs (no build needed)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InvalidInput
from engine.party import aggregate
from engine.party.cli import parse_members
from engine.party.reasons import group_reason, names
from engine.results import Movie


def test_benefit_grows_with_the_score_and_ignores_negative_ones():
    b = aggregate.benefit(np.array([-2.0, 0.0, 1.0, 3.0, 30.0]))
    assert b[0] == b[1] == 0.0
    assert 0 < b[2] < b[3] < b[4] < 1


def test_proportional_gives_each_member_a_share_of_the_list():
    # films 0-2 are loved by member 0 only, film 3 is good for member 1 only
    utility = np.array([[0.9, 0.85, 0.8, 0.0],
                        [0.0, 0.0, 0.0, 0.6]])
    average, _ = aggregate.rank(utility, 2, "average")
    assert average.tolist() == [0, 1]
    fair, gains = aggregate.rank(utility, 2, "proportional")
    assert fair.tolist() == [0, 3]
    assert gains[0] >= gains[1]


def test_least_misery_sinks_a_film_one_member_would_not_enjoy():
    utility = np.array([[0.95, 0.45],
                        [0.0, 0.4]])
    assert aggregate.rank(utility, 1, "average")[0].tolist() == [0]
    assert aggregate.rank(utility, 1, "least_misery", weight=0.5)[0].tolist() == [1]


def test_unknown_fairness_is_refused():
    with pytest.raises(ValueError):
        aggregate.rank(np.ones((2, 3)), 2, "loudest")


def test_the_veto_ladder_relaxes_only_when_nothing_is_left():
    keep, level = aggregate.admissible(np.array([True, False, False]),
                                       np.array([False, True, False]))
    assert keep.tolist() == [False, False, True] and level == aggregate.STRICT
    keep, level = aggregate.admissible(np.array([True, False]), np.array([True, True]))
    assert keep.tolist() == [False, True] and level == aggregate.EXPLICIT_ONLY
    keep, level = aggregate.admissible(np.array([True, True]), np.array([False, False]))
    assert keep.all() and level == aggregate.NO_VETO


def test_a_predicted_dislike_is_a_firmly_negative_score():
    scores = np.array([[1.0, -0.1, -0.5],
                       [2.0, 1.0, 1.0]])
    predicted = aggregate.predicted_dislike(scores, np.array([1.0, 2.0]))
    assert predicted.tolist() == [False, False, True]


def test_the_group_sentence_names_fans_their_films_and_who_has_seen_it():
    alien = Movie(1214, "Alien", 1979, genres=["Horror", "Sci-Fi"])
    blade = Movie(541, "Blade Runner", 1982, genres=["Action", "Sci-Fi", "Thriller"])
    pick = Movie(1, "Gattaca", 1997, genres=["Drama", "Sci-Fi", "Thriller"])
    text = group_reason(pick, ["Ann", "Bo", "Cy"], np.array([0.9, 0.7, 0.3]),
                        [alien, blade, alien], [None, None, None], [False, False, False])
    assert text.startswith("Ann and Bo love sci-fi films like Alien and Blade Runner")
    assert "it also fits Cy (who liked Alien)" in text and text.endswith("nobody has seen it")
    rewatch = group_reason(pick, ["Ann", "Bo"], np.array([0.9, 0.0]), [alien, None],
                           [None, 2.0], [False, False])
    assert "Bo turned it down" in rewatch and "Ann loves" in rewatch
    watch = group_reason(pick, ["Ann", "Bo"], np.array([1.0, 0.1]), [alien, blade],
                         [None, None], [True, False])
    assert watch.startswith("on Ann's watchlist")
    assert names(["Ann", "Bo", "Cy"]) == "Ann, Bo and Cy"


def test_members_are_parsed_with_names_and_watchlists():
    members = parse_members("Ann=318:5,260:like|1196:dislike,2571:watchlist|Cy=")
    assert [m.name for m in members] == ["Ann", "Member 2", "Cy"]
    assert members[0].history == ((318, "5"), (260, "like"))
    assert members[1].history == ((1196, "dislike"), (2571, "watchlist"))
    assert members[2].history == ()


@pytest.mark.parametrize("text, says", [
    ("", "separated by"),
    ("318:5|", "Member 2 has no history"),
    ("318:5|=260:4", "empty name"),
    ("Ann=318:eleven", "Ann: “eleven” is not a rating"),
    ("Ann=abc:watchlist", "MOVIE_ID:watchlist"),
    ("Ann=318", "MOVIE_ID:RATING"),
])
def test_bad_members_are_friendly_errors(text, says):
    with pytest.raises(InvalidInput) as err:
        parse_members(text)
    assert says in str(err.value)


def test_rank_benefits_put_every_member_on_the_same_scale():
    # two members whose raw scores differ tenfold get the same benefit for their own best
    loud, quiet = np.array([9.0, 5.0, 1.0, 0.5]), np.array([0.9, 0.1, 0.5, 0.05])
    seen = np.array([3])
    assert aggregate.own_ranks(loud, seen, np.array([0, 1, 2])).tolist() == [0, 1, 2]
    assert aggregate.own_ranks(quiet, seen, np.array([0, 2, 1])).tolist() == [0, 1, 2]
    b_loud = aggregate.member_benefit(loud, seen, np.array([0, 1, -1]), "rank")
    b_quiet = aggregate.member_benefit(quiet, seen, np.array([0, 2, -1]), "rank")
    assert b_loud.tolist() == b_quiet.tolist()
    assert b_loud[0] == aggregate.RANK_TOP > b_loud[1] > b_loud[2] == 0.0
    half = aggregate.rank_benefit(np.array([0.0, 20.0]), top=0.4, half=20.0)
    assert half.tolist() == [0.4, 0.2]
    assert aggregate.favourite_benefit(7.0, "rank") == aggregate.RANK_TOP


def test_nash_serves_the_member_nobody_has_served_yet():
    # film 0 is great for member 0 and fine for member 1; films 1-2 are member 0's only,
    # film 3 is member 1's only
    utility = np.array([[0.6, 0.55, 0.5, 0.0],
                        [0.1, 0.0, 0.0, 0.3]])
    order, _ = aggregate.rank(utility, 2, "nash")
    assert order.tolist() == [0, 3]
    assert aggregate.rank(utility, 2, "average")[0].tolist() == [0, 1]


def test_a_party_event_starts_on_a_full_hour_with_time_for_snacks():
    from datetime import UTC, datetime, timedelta

    from bot.party import EVENT_LEAD, event_start

    for minute in (0, 10, 44, 45, 46, 59):
        now = datetime(2026, 11, 26, 20, minute, 30, tzinfo=UTC)
        start = event_start(now)
        assert start.minute == 0 and start.second == 0
        assert EVENT_LEAD <= start - now < EVENT_LEAD + timedelta(hours=1)


def test_group_order_shows_the_picks_most_members_expect_to_enjoy_first():
    scores = np.array([[0.1, 0.9, 0.0, 0.5],
                       [0.2, 0.8, 0.9, 0.4]])
    # picked by a fairness rule in the order 2, 0, 1: shown by the members' mean score
    assert aggregate.group_order([2, 0, 1], scores).tolist() == [1, 2, 0]
    assert aggregate.group_order([], scores).tolist() == []


def test_the_choice_keeps_off_the_edge_of_the_target():
    from engine.party import evaluate

    def row(mean, d_mean, d_mean_se, low, d_min, d_min_se):
        return {"mean_ndcg": mean, "mean_vs_plain": d_mean, "mean_vs_plain_se": d_mean_se,
                "min_ndcg": low, "min_vs_plain": d_min, "min_vs_plain_se": d_min_se}

    plain = row(0.100, 0.0, 0.0, 0.010, 0.0, 0.0)
    table = {v.name: row(0.09, -0.02, 0.001, 0.010, 0.0, 0.001) for v in evaluate.VARIANTS}
    grazing, inside = evaluate.VARIANTS[1].name, evaluate.VARIANTS[2].name
    # the best minimum, with the mean 0.2 standard errors inside the 5 % band
    table[grazing] = row(0.0951, -0.0049, 0.0005, 0.016, 0.006, 0.001)
    # a smaller minimum gain, but 2 standard errors inside on both sides
    table[inside] = row(0.0960, -0.0040, 0.0005, 0.0124, 0.0024, 0.0002)
    table["plain average"] = plain
    assert evaluate.choose(table) == inside
