"""A study kept in a database outside the run folder (any SQLAlchemy URL), shared by several runs."""
import optuna
import pytest

from mixsearch.controller.storage import StorageError, study_name
from mixsearch.controller.trials import load_trials
from mixsearch.controller.search import SearchConfig, resume_config, run_search


def test_two_runs_share_one_database_and_resume_from_it(tmp_path, tiny_proxy):
    url = f"sqlite:///{tmp_path / 'shared' / 'studies.db'}"
    (tmp_path / "shared").mkdir()
    runs = tmp_path / "runs"
    for name, seed in (("a", 1), ("b", 2)):
        run_search(SearchConfig(name=name, runs_dir=str(runs), target_flops=300_000_000, trials=2, seed=seed,
                                proxy=tiny_proxy, progress=False, storage=url))
    assert not (runs / "a" / "study.db").exists()  # nothing of the study in the run folder
    names = {s.study_name for s in optuna.get_all_study_summaries(url)}
    assert names == {study_name("a", url), study_name("b", url)}
    before = {r.number: r for r in load_trials(runs / "a")}
    assert sum(r.finished for r in before.values()) == 2

    # --resume reads the URL back from config.yaml and adds to that run's study only
    run_search(resume_config(str(runs), "a", trials=3, progress=False))
    after = load_trials(runs / "a")
    assert sum(r.finished for r in after) == 3
    for record in after:
        if record.number in before:
            assert (record.params, record.values) == (before[record.number].params, before[record.number].values)
    assert sum(r.finished for r in load_trials(runs / "b")) == 2


@pytest.mark.parametrize("url, words", [
    ("mysql://user@127.0.0.1:1/db", "no database driver"),             # driver module not installed
    ("postgresql+nosuchdriver://user@127.0.0.1:1/db", "cannot open"),  # driver name unknown to SQLAlchemy
    ("sqlite:////nonexistent-folder/x/studies.db", "cannot open"),     # database can't be created
])
def test_a_storage_that_cannot_be_opened_is_refused_before_the_run_folder_is_written(tmp_path, tiny_proxy, url,
                                                                                      words):
    config = SearchConfig(name="x", runs_dir=str(tmp_path / "runs"), target_flops=300_000_000, trials=1,
                          proxy=tiny_proxy, progress=False, storage=url.replace("user@", "user:secret@"))
    with pytest.raises(StorageError, match=words) as error:
        run_search(config)
    assert "secret" not in str(error.value)  # passwords are masked in messages
    assert not (tmp_path / "runs").exists()


def _open_at_barrier(args) -> str:
    run_dir, barrier = args
    from mixsearch.controller.storage import open_storage
    barrier.wait(timeout=30)
    try:
        open_storage(run_dir).engine.dispose()
        return "ok"
    except StorageError as err:
        return str(err)


def test_processes_opening_a_new_study_file_together_all_succeed(tmp_path):
    """The race a run's first seconds have (the driver creating the schema while a `show` or a test's
    poll opens the file): every opener waits for the schema instead of failing on the other's tables
    ("already exists") or schema version ("UNIQUE constraint failed: alembic_version")."""
    import multiprocessing

    context = multiprocessing.get_context("fork")  # optuna already imported: starts in milliseconds
    for attempt in range(3):
        run_dir = tmp_path / f"run{attempt}"
        run_dir.mkdir()
        with context.Manager() as manager:
            barrier = manager.Barrier(4)
            with context.Pool(4) as pool:
                outcomes = pool.map(_open_at_barrier, [(str(run_dir), barrier)] * 4)
        assert outcomes == ["ok"] * 4
        assert optuna.get_all_study_summaries(f"sqlite:///{run_dir / 'study.db'}") == []
