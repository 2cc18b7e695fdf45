"""A search scored by a trained supernet (--evaluator supernet), and the two-stage re-scoring of
its best candidates by proxy training (--rescore-top)."""
from __future__ import annotations

import pytest

from mixsearch.controller.search import SearchConfig, run_search
from mixsearch.evaluator import SupernetError, evaluate
from mixsearch.evaluator.supernet import SupernetRecipe, SupernetScorer, train_supernet
from mixsearch.search_space import load_arch_with_metadata
from mixsearch.search_space.space import load_space

from ..evaluator.supernet_spaces import CUSTOM


@pytest.fixture
def proxy(tiny_proxy):
    return tiny_proxy.replace(bn_batches=2, batch_size=8)


@pytest.fixture
def space_file(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(CUSTOM)
    return path


@pytest.fixture
def supernet_file(tmp_path, space_file, proxy):
    path = tmp_path / "supernet.pt"
    train_supernet(load_space(space_file), proxy, SupernetRecipe(epochs=1), path, progress=False)
    return path


def test_candidates_are_scored_by_the_supernet_and_the_best_rescored_by_training(tmp_path, space_file,
                                                                                 supernet_file, proxy):
    result = run_search(SearchConfig(name="two-stage", runs_dir=str(tmp_path / "runs"), space=str(space_file),
                                     evaluator="supernet", supernet=str(supernet_file), trials=6, rescore_top=2,
                                     proxy=proxy, progress=False, seed=3))
    complete = [r for r in result.records if r.status == "complete"]
    assert len(complete) == 6  # one score per candidate: nothing to prune
    scorer = SupernetScorer(supernet_file, proxy, space=load_space(space_file))
    for record in complete:  # the search's score is the supernet's, by an independent scorer
        assert len(record.curve) == 1
        assert record.accuracy == pytest.approx(scorer.score(record.spec).accuracy)
    top = sorted(complete, key=lambda r: (-r.reward, r.number))[:2]
    rescored = [r for r in result.records if r.rescore_accuracy is not None]
    assert sorted(r.number for r in rescored) == sorted(r.number for r in top)
    for record in rescored:  # the second score is proxy training, kept apart from the first
        assert record.rescore_accuracy == pytest.approx(evaluate(record.spec, proxy).accuracy)
        assert record.rescore_reward == pytest.approx(record.rescore_accuracy)  # no target: reward = accuracy
    assert result.best.number == max(rescored, key=lambda r: (r.rescore_reward, -r.number)).number
    _, metadata = load_arch_with_metadata(result.best_yaml)
    assert (metadata["proxy_accuracy"], metadata["rescore_accuracy"]) == (result.best.accuracy,
                                                                          result.best.rescore_accuracy)
    again = run_search(SearchConfig(name="two-stage", runs_dir=str(tmp_path / "runs"), space=str(space_file),
                                    evaluator="supernet", supernet=str(supernet_file), trials=6, rescore_top=2,
                                    proxy=proxy, progress=False, seed=3, resume=True))
    assert [r.rescore_accuracy for r in again.records] == [r.rescore_accuracy for r in result.records]


def test_without_a_path_the_run_trains_its_supernet_once(tmp_path, space_file, proxy):
    config = SearchConfig(name="own", runs_dir=str(tmp_path), space=str(space_file), evaluator="supernet",
                          trials=2, proxy=proxy, progress=False)
    result = run_search(config)
    trained = tmp_path / "own" / "supernet.pt"
    assert trained.is_file() and sum(r.status == "complete" for r in result.records) == 2
    written = trained.stat().st_mtime_ns
    run_search(config.replace(trials=3, resume=True))
    assert trained.stat().st_mtime_ns == written  # reused, not trained again


def test_a_supernet_of_another_space_is_refused_before_the_run_folder(tmp_path, supernet_file, proxy):
    with pytest.raises(SupernetError):
        run_search(SearchConfig(name="other", runs_dir=str(tmp_path / "runs"), evaluator="supernet",
                                supernet=str(supernet_file), trials=1, proxy=proxy, progress=False))
    assert not (tmp_path / "runs" / "other").exists()
