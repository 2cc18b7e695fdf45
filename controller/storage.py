"""Where a run's Optuna study lives: the run folder's own SQLite file, or any SQLAlchemy database
given by --storage (one study per run name there)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import optuna

from mixsearch.search_space.errors import MixsearchError

STUDY_NAME = "mixsearch"
STUDY_FILE = "study.db"


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
    microseconds instead of an fsync (milliseconds, and a proposal makes dozens of commits), and every
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
