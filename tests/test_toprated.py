"""The toprated recommender (the component contract's smallest example) and /top."""

from __future__ import annotations

import numpy as np

from bot.commands import CommandLayer, User
from engine.results import Filters
from engine.toprated.build import weighted_ratings
from engine.toprated.serving import TopQuery


def test_weighted_rating_pulls_few_ratings_towards_the_mean():
    counts = np.array([1, 200, 50, 0], dtype=float)
    means = np.array([5.0, 4.4, 3.0, np.nan])
    scores, m, c = weighted_ratings(counts, means)
    assert m > 1                               # one rating never outweighs the prior
    assert scores[1] > scores[0]               # 200 ratings at 4.4 beat one 5-star rating
    assert abs(scores[3] - c) < 1e-9           # unrated: exactly the prior mean
    assert min(means[:3]) < c < max(means[:3])


def test_top_is_sorted_filtered_and_explained(engine):
    recs = engine.recommend("toprated", TopQuery(), k=20)
    scores = [r.score for r in recs.results]
    assert len(recs.results) == 20 and scores == sorted(scores, reverse=True)
    assert all(r.movie.rating_count >= 10 for r in recs.results[:10])
    assert all("MovieLens ratings" in r.reason for r in recs.results)

    noir = Filters(genres=["Crime"], year_max=1979)
    picked = engine.recommend("toprated", TopQuery(), k=10, filters=noir).results
    assert picked and all(noir.accepts(r.movie) for r in picked)
    assert 858 in {r.movie.movie_id for r in picked}      # The Godfather (1972)
    assert recs.to_json()["query"] == {}
    assert engine.recommend("toprated", TopQuery(), k=3, filters=noir).to_json()["query"] == {
        "filters": {"genres": ["Crime"], "year_max": 1979}}


async def test_top_command_pages_with_typed_actions(engine):
    layer = CommandLayer(lambda: engine)
    user = User("console", "1", "Ann")
    first = await layer.handle("/top genre:drama before:1960", user)
    assert first.text == "The best-rated drama films up to 1960:"
    assert len(first.cards) == layer.page_size
    more = next(b for b in first.buttons if b.label.startswith("More"))
    second = await layer.press(more.action.encode(), user)
    assert second.cards and {c.movie_id for c in second.cards}.isdisjoint(
        {c.movie_id for c in first.cards})
    assert all(engine.movie(c.movie_id).year <= 1960 for c in first.cards + second.cards)
