"""Trial records: everything known about one candidate, kept as Optuna user attributes in the run's
SQLite study (each write is a committed transaction, so a killed driver loses nothing it wrote).

Status of a record:
  running     — proposed and being trained (or left behind by a driver that died; see --resume)
  complete    — trained; has accuracy, reward and objective values
  pruned      — stopped early by the pruner / ASHA; curve and reward so far are kept
  failed      — training failed (NaN, divergence, exception, worker killed); `failure` says why
  rejected    — over the cost cap, never trained (does not count toward the trial budget)
  interrupted — was running when the driver died; its parameters were re-queued on --resume
  queued      — enqueued (re-queued or pre-filtered), not yet started; load_trials leaves these out
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from mixsearch.search_space.errors import MixsearchError

STUDY_NAME = "mixsearch"
STUDY_FILE = "study.db"
FINISHED = ("complete", "pruned", "failed")  # statuses that used up a trial of the budget
STATUSES = ("queued", "running", "complete", "pruned", "failed", "rejected", "interrupted")


@dataclass
class TrialRecord:
    number: int
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    arch: str = ""                       # the candidate as arch YAML (load with loads_arch)
    flops: int | None = None             # multiply-adds at the space's resolution
    num_params: int | None = None
    latency_ms: float | None = None      # predicted by the latency table, if one was given
    accuracy: float | None = None        # final proxy validation accuracy
    val_loss: float | None = None
    curve: list[dict[str, float]] = field(default_factory=list)
    reward: float | None = None
    values: list[float] | None = None    # what the Optuna study optimised
    seconds: float | None = None         # wall time of the evaluation
    failure: str | None = None
    pid: int | None = None
    hostname: str | None = None
    node_id: str | None = None           # Ray node id; None in-process
    started: float | None = None         # unix time

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


RECORD_KEYS = tuple(f.name for f in fields(TrialRecord) if f.name not in ("number", "params", "values"))


def status_counts(records: list[TrialRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts


def process_identity() -> dict[str, Any]:
    """pid, hostname and Ray node id of the process running a trial."""
    node_id = None
    try:
        import ray
        if ray.is_initialized():
            node_id = ray.get_runtime_context().get_node_id()
    except Exception:  # Ray absent or not in a Ray process: an in-process trial has no node
        node_id = None
    return {"pid": os.getpid(), "hostname": socket.gethostname(), "node_id": node_id}


def record_from_trial(trial: FrozenTrial) -> TrialRecord:
    attrs = trial.user_attrs
    status = attrs.get("status")
    if trial.state == TrialState.WAITING:
        status = "queued"
    elif trial.state == TrialState.RUNNING:
        status = "running"
    elif trial.state == TrialState.FAIL and status not in ("failed", "interrupted"):
        status = "failed"
    elif status is None:
        status = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(trial.state, "failed")
    values = list(trial.values) if trial.values is not None and trial.state == TrialState.COMPLETE else None
    known = {k: attrs[k] for k in RECORD_KEYS if k in attrs and k != "status"}
    return TrialRecord(number=trial.number, status=status, params=dict(trial.params), values=values, **known)


def storage_url(run_dir: str | os.PathLike, url: str | None = None) -> str:
    """`url` (any SQLAlchemy URL, e.g. postgresql://host/db for a cluster) or the run's own SQLite file."""
    return url or f"sqlite:///{Path(run_dir).resolve() / STUDY_FILE}"


class StorageError(MixsearchError):
    """The study database can't be opened: no driver for the URL, server down, bad credentials."""


def study_name(run_name: str, url: str | None = None) -> str:
    """The run's own SQLite file holds one study; a shared database holds one per run name."""
    return STUDY_NAME if url is None else f"{STUDY_NAME}-{run_name}"


def open_storage(run_dir: str | os.PathLike, url: str | None = None) -> optuna.storages.RDBStorage:
    """The run's study storage. SQLite runs in WAL mode with synchronous=NORMAL: a commit costs
    microseconds instead of an fsync (~20 ms here, and a proposal makes ~70 of them), and every
    committed write still survives the death of the process (only an OS crash can lose the last ones)."""
    import sqlalchemy

    full_url = storage_url(run_dir, url)
    try:
        storage = _create_storage(full_url, sqlalchemy)
    except ImportError as err:
        raise StorageError(f"--storage {shown_url(full_url)}: no database driver for it ({err.__cause__ or err}); "
                           f"install one (e.g. pip install 'psycopg[binary]' for postgresql://) or name an "
                           f"installed one in the URL (postgresql+psycopg2://...)") from None
    except (sqlalchemy.exc.SQLAlchemyError, ValueError) as err:
        first_line = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        fix = ("check the path, and that the file is an intact SQLite database" if full_url.startswith("sqlite")
               else "check the URL and that the database server is running")
        where = f"{Path(run_dir) / STUDY_FILE}:" if url is None else f"--storage {shown_url(full_url)}:"
        raise StorageError(f"{where} cannot open the study database ({first_line}); {fix}") from None
    if not full_url.startswith("sqlite"):
        return storage

    def tune_connection(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    sqlalchemy.event.listen(storage.engine, "connect", tune_connection)
    storage.engine.dispose()  # connections made while optuna set up the schema lack the pragmas
    return storage


def shown_url(url: str) -> str:
    """The URL with its password masked, for messages."""
    import sqlalchemy

    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even parseable: the message says so anyway
        return repr(url)


def _create_storage(url: str, sqlalchemy, attempts: int = 20) -> optuna.storages.RDBStorage:
    """Optuna creates the schema check-then-create; a second process opening the file while the
    first creates it (a `mixsearch show` or `load_trials` as a run starts) sees "table ... already
    exists", or "UNIQUE constraint failed: alembic_version" when both stamp the schema version. The
    schema is complete moments later, so try again, a bounded number of times."""
    # A generous SQLite lock timeout: Ray's driver callbacks and a `mixsearch show` may touch the file together.
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for _ in range(attempts - 1):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as err:
            if not _schema_race(err):
                raise
            time.sleep(0.1)
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def _schema_race(err: Exception) -> bool:
    """Another process created (part of) the schema between optuna's check and its create."""
    text = str(err)
    return "already exists" in text or ("UNIQUE constraint failed" in text and "alembic_version" in text)


def load_trials(run_dir: str | os.PathLike) -> list[TrialRecord]:
    """Every trial of the run at `run_dir` (queued ones excepted), in order; safe while it runs.
    A study that is missing, emptied or damaged is refused (naming what the folder still holds),
    never created afresh."""
    from .run_folder import CONFIG_FILE, RunFolderError, driver_alive, load_config
    from .study_check import check_study_storage

    has_config = (Path(run_dir) / CONFIG_FILE).is_file()
    url = load_config(run_dir).get("storage") if has_config else None
    if url is not None and not isinstance(url, str):
        raise RunFolderError(f"{Path(run_dir) / CONFIG_FILE}: storage: got {url!r}; expected a database URL")
    if not has_config and not (Path(run_dir) / STUDY_FILE).is_file():
        raise RunFolderError(f"{run_dir}: no {STUDY_FILE}; give the folder of a search (runs/<name>)")
    name = study_name(Path(run_dir).name, url)
    check_study_storage(run_dir, url, name, must_hold_study=True, starting=driver_alive(run_dir))
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(run_dir, url))
    except KeyError:  # the storage exists but the search has not created its study yet
        raise RunFolderError(f"{run_dir}: its study holds no search yet; wait for the run to start") from None
    trials = study.get_trials(deepcopy=False)
    return [record_from_trial(t) for t in trials if t.state != TrialState.WAITING]
