"""Checks of a study database before anything opens it for writing (Optuna creates its tables on
open): a database that holds another program's tables is refused unchanged, and a run whose study
is missing, emptied or damaged is refused by `show` and `--resume` instead of being started afresh
over the results it still has (trials.csv, best.yaml, ... are named)."""
from __future__ import annotations

import os
import sqlite3
import stat
import urllib.parse
from pathlib import Path

from . import compat
from .storage import STUDY_FILE, StorageError, open_storage, shown_url, storage_url

# What the run folder keeps besides the study: the results as of the last summary written.
RESULT_FILES = ("config.yaml", "trials.csv", "best.yaml", "best_timm.txt", "progress.png", "pareto")


def optuna_tables() -> frozenset[str]:
    """Tables of Optuna's RDB schema (its models; alembic keeps the schema version)."""
    return compat.optuna_table_names() | {"alembic_version"}


def intact_files(run_dir: str | os.PathLike) -> str:
    found = [name + ("/" if (Path(run_dir) / name).is_dir() else "") for name in RESULT_FILES
             if (Path(run_dir) / name).exists()]
    return ", ".join(found) if found else "nothing"


def _sqlite_path(url: str) -> str | None:
    import sqlalchemy

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except Exception:  # noqa: BLE001 — not a URL at all: opening it reports that
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def check_study_storage(run_dir: str | os.PathLike, url: str | None, study: str, must_hold_study: bool,
                        starting: bool = False) -> None:
    """Raise StorageError unless the study database of a run may be opened: it holds no tables but
    Optuna's, and (`must_hold_study`: show, --resume) it is readable and holds the study `study`.
    `starting`: the run's driver is alive and may not have created its study yet. Reads only."""
    full_url = storage_url(run_dir, url)
    where = str(Path(run_dir) / STUDY_FILE) if url is None else f"--storage {shown_url(full_url)}"

    def lost(problem: str, not_yet_created: bool = False) -> StorageError:
        if starting and not_yet_created:
            return StorageError(f"{run_dir}: its study holds no search yet; wait for the run to start")
        return StorageError(f"{where}: {problem}: the run's study is lost or damaged; still intact in "
                            f"{run_dir}: {intact_files(run_dir)}; restore the study from a backup to show or "
                            "resume the run, or start a new --name")

    path = _sqlite_path(full_url)
    if path is not None:  # never open()ed here: closing any descriptor of the file would drop the
        # POSIX locks SQLite holds on it in this process (a driver reads its own study at the end)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            if must_hold_study:
                raise lost("is missing", True) from None
            return
        except OSError as err:
            raise StorageError(f"{where}: cannot read it ({err.strerror}); check the path and its "
                               "permissions") from None
        if not stat.S_ISREG(info.st_mode):
            raise StorageError(f"{where}: not a regular file; give the path of a SQLite file (or a new one)")
        if info.st_size == 0:
            if must_hold_study:
                raise lost("is empty (0 bytes)", True)
            return
    tables, studies = _read_schema(full_url, where, lost, must_hold_study)
    foreign = sorted(tables - optuna_tables())
    if foreign:
        raise StorageError(f"{where}: holds tables that are not Optuna's ({', '.join(foreign[:5])}"
                           f"{', ...' if len(foreign) > 5 else ''}), left unchanged; keep studies in a database "
                           "of their own (a new file, e.g. sqlite:///studies.db)")
    if must_hold_study and study not in studies:
        raise lost(f"holds no study {study!r}" if tables else "holds no Optuna study", True)


def _read_schema(url: str, where: str, lost, must_hold_study: bool) -> tuple[set[str], set[str]]:
    """(table names, study names) of the database, read without writing anything."""
    path = _sqlite_path(url)
    if path is not None:
        try:
            return _read_sqlite(path, must_hold_study, lost)
        except sqlite3.Error as err:
            if must_hold_study:
                raise lost(f"is unreadable ({err})") from None
            raise StorageError(f"{where}: cannot read the SQLite file ({err}); it is damaged or not a database, "
                               "left unchanged") from None
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as connection:
                tables = set(sqlalchemy.inspect(connection).get_table_names())
                studies = set()
                if "studies" in tables:
                    studies = {row[0] for row in connection.exec_driver_sql("SELECT study_name FROM studies")}
        finally:
            engine.dispose()
    except (ImportError, sqlalchemy.exc.SQLAlchemyError, ValueError):
        raise _unopenable(url) from None  # no driver, a bad URL, a server down: said as opening says it
    return tables, studies


def _unopenable(url: str) -> StorageError:
    """The error opening the storage gives (it fails the same way, so it creates nothing)."""
    try:
        open_storage(".", url).engine.dispose()
    except StorageError as err:
        return err
    return StorageError(f"--storage {shown_url(url)}: cannot read its tables; check the URL and the server")


def _read_sqlite(path: str, check_integrity: bool, lost) -> tuple[set[str], set[str]]:
    """Read-only: a read-only connection never checkpoints or rolls back into the file, so nothing
    is written even to a damaged one (SQLite may add its empty -wal/-shm companions beside it)."""
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        if check_integrity:  # a truncated file still lists its tables
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise lost(f"is damaged ({verdict})")
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~'")}
        studies = set()
        if "studies" in tables:
            studies = {row[0] for row in connection.execute("SELECT study_name FROM studies")}
        return tables, studies
    finally:
        connection.close()
