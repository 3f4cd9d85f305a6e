"""`moviebot eval collab --quick` on real ml-100k: the protocol runs and its numbers hold up."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def report(data_dir):
    from engine.collab import evaluate

    return evaluate.run(data_dir, ["ml-100k"], quick=True, log=lambda *_: None)[0]


def test_every_model_is_scored_on_held_out_users(report):
    assert {"popularity", "als", "ease", "autoencoder"} <= set(report.ranking)
    for metrics in report.ranking.values():
        assert metrics["users"] > 100
        for name in ("precision@10", "recall@10", "ndcg@10", "hr@10", "map@10", "coverage"):
            assert 0.0 <= metrics[name] <= 1.0
    # personal models must beat most-popular on users they never saw
    assert report.ranking["ease"]["ndcg@10"] > report.ranking["popularity"]["ndcg@10"]
    assert report.ranking["als"]["ndcg@10"] > report.ranking["popularity"]["ndcg@10"]


def test_default_is_the_validation_winner_and_annoy_costs_little(report):
    ours = {k: v for k, v in report.validation.items()
            if k in {"popularity", "als", "ease", "autoencoder"}}
    assert report.default == max(ours, key=ours.get)
    assert report.annoy["loss_pct"] <= 2.0


def test_rating_predictors(report):
    blend = report.rating["mf+knn_blend"]["rmse"]
    assert blend < report.rating["biased_mf"]["rmse"]
    assert 0.7 < blend < 1.0 and report.rating["mf+knn_blend"]["mae"] < blend


def test_outputs(report, tmp_path):
    from engine.collab import evaluate

    evaluate.write_outputs(evaluate.to_json([report]), tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.png")
    assert "| ease" in (tmp_path / "r.md").read_text()
    assert 0 < (tmp_path / "r.png").stat().st_size < 200_000


def test_eval_cli_is_registered():
    from bot.cli import build_parser

    args = build_parser().parse_args(["eval", "collab", "--quick", "--dataset", "ml-100k"])
    assert args.quick and args.dataset == ["ml-100k"] and callable(args.func)
