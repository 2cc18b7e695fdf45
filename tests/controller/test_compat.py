"""The private parts of Ray and Optuna that controller/compat.py uses, pinned to the installed
versions: an upgrade that moves one fails here, by name."""
import inspect
import os

import optuna
import ray

from mixsearch.controller import compat


def test_installed_versions_are_the_ones_compat_was_read_from():
    # On a new version: re-read each private use in compat.py against it, then update the pins.
    assert (ray.__version__, optuna.__version__) == (compat.RAY_VERSION, compat.OPTUNA_VERSION)


def test_loopback_pinning_turns_rays_cluster_rewrite_off_and_restores_it():
    import ray._private.ray_constants as ray_constants

    before_constant, before_env = ray_constants.ENABLE_RAY_CLUSTER, os.environ.get(compat._CLUSTER_SWITCH)
    with compat.ray_loopback_kept():
        assert ray_constants.ENABLE_RAY_CLUSTER is False
        assert os.environ[compat._CLUSTER_SWITCH] == "0"
    assert ray_constants.ENABLE_RAY_CLUSTER == before_constant
    assert os.environ.get(compat._CLUSTER_SWITCH) == before_env


def test_ray_init_still_reads_the_private_arguments_we_pass():
    source = inspect.getsource(ray.init)
    assert "_node_ip_address" in source and "_temp_dir" in source


def test_optunas_table_list_names_its_schema(tmp_path):
    import sqlite3

    optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="s")
    with sqlite3.connect(tmp_path / "study.db") as connection:
        created = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert compat.optuna_table_names() == created - {"alembic_version"}
