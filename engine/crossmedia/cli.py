"""`moviebot song`, `moviebot playlist` and `moviebot eval crossmedia`."""

from __future__ import annotations

import argparse
import json


def register(groups) -> None:
    from engine.cli_args import add_common, add_filter_args

    song = groups.top.add_parser(
        "song", help="movies with the vibe of a song",
        description='Movies that feel like a song: "Bohemian Rhapsody - Queen", a title alone, '
                    'an artist ("Queen": their typical vibe), a Spotify track link/URI/ID, a mood '
                    '("vibe sad", chill, hype, happy, romantic, dark, epic) or a typed vibe: '
                    '"vibe energy=0.8 valence=0.2". Films whose soundtrack credits the song '
                    'come first.')
    song.add_argument("query", help='a song ("title - artist"), Spotify link, or "vibe k=v ..."')
    song.add_argument("-k", type=int, default=10, help="how many movies (1-200, default 10)")
    song.add_argument("--json", action="store_true", help="print JSON instead of a list")
    song.add_argument("--no-featured", action="store_true",
                      help="leave out the films whose soundtrack credits the song (vibe only)")
    add_filter_args(song)
    add_common(song)
    song.set_defaults(func=run_song)

    playlist = groups.top.add_parser("playlist", help="a playlist of songs for a movie",
                                     description="Songs from the song table that fit a movie.")
    playlist.add_argument("movie", help='a movie title, e.g. "Pulp Fiction", or #movieId')
    playlist.add_argument("-k", type=int, default=10, help="how many songs (default 10)")
    playlist.add_argument("--json", action="store_true", help="print JSON instead of a list")
    add_common(playlist)
    playlist.set_defaults(func=run_playlist)

    ev = groups.eval.add_parser(
        "crossmedia", help="held-out soundtrack ranks of the song->movie engine",
        description="For each soundtrack (song, movie) pair of the test fold (movie_id %% 5 == 0), "
                    "the movie's rank among all catalog movies as /song serves it with the "
                    "featured lookup off: HR@10/50/100, NDCG@10 (± standard errors), median "
                    "rank, against the prior alone, popularity, genre-only and hand-defined "
                    "baselines; a shuffled-song control with a sign test; spread across 200 "
                    "random songs; the overlap of the four vibe corners.")
    ev.add_argument("--json", action="store_true", help="print the results as JSON")
    add_common(ev)
    ev.set_defaults(func=run_eval)


def run_song(args: argparse.Namespace) -> int:
    from engine import Engine
    from engine.cli_args import filters_from, settings_from
    from engine.crossmedia.serving import song_header

    engine = Engine.load(settings_from(args).artifacts)
    recs = engine.song(args.query, k=args.k, filters=filters_from(args),
                       featured=not args.no_featured)
    if args.json:
        print(json.dumps(recs.to_json(), ensure_ascii=False, indent=2))
        return 0
    print(song_header(recs.query))
    if not recs.results:
        print("  nothing matches those filters; try loosening them.")
    for i, rec in enumerate(recs.results, 1):
        print(f"{i:>3}. {rec.movie.label}  [{rec.score:.3f}]  {rec.reason}")
    return 0


def run_playlist(args: argparse.Namespace) -> int:
    from engine import Engine
    from engine.cli_args import settings_from

    engine = Engine.load(settings_from(args).artifacts)
    movie = engine.resolve(args.movie)
    picks = engine.recommender("crossmedia").songs_for_movie(movie, k=args.k)
    if args.json:
        print(json.dumps({"movie": movie.brief(), "songs": [p.to_json() for p in picks]},
                         ensure_ascii=False, indent=2))
        return 0
    print(f"A playlist for {movie.label}:")
    for i, pick in enumerate(picks, 1):
        print(f"{i:>3}. {pick.song.label}  [{pick.score:.3f}]  {pick.reason}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.artifacts import current_version
    from engine.cli_args import settings_from

    from .evaluate import evaluate

    settings = settings_from(args)
    report = evaluate(current_version(Path(settings.artifacts)), settings.data_dir)
    if args.json:
        print(json.dumps(report.tables, indent=2))
        return 0
    print(report.format())
    return 0
