"""The other libraries' private parts we rely on, and nothing else: each has no public equivalent.
tests/controller/test_compat.py pins them to the installed versions, so an upgrade that moves one
fails there, by name, rather than somewhere in a search.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

# The versions these were read from (test_compat checks the installed ones still have them).
RAY_VERSION = "2.60.0"
OPTUNA_VERSION = "5.1.0"

# Ray's switch for "clusters on a machine whose nodes sit on loopback"; 0 keeps 127.0.0.1 as given.
_CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextlib.contextmanager
def ray_loopback_kept() -> Iterator[None]:
    """While Ray starts or connects, keep a loopback node address as 127.0.0.1: Ray rewrites it
    into the machine's network address unless its (private) cluster constant is off, and it reads
    the constant at import, so the environment variable alone comes too late."""
    import ray._private.ray_constants as ray_constants

    saved_constant, saved_env = ray_constants.ENABLE_RAY_CLUSTER, os.environ.get(_CLUSTER_SWITCH)
    ray_constants.ENABLE_RAY_CLUSTER = False
    os.environ[_CLUSTER_SWITCH] = "0"  # for the processes ray.init starts
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_constant
        if saved_env is None:
            os.environ.pop(_CLUSTER_SWITCH, None)
        else:
            os.environ[_CLUSTER_SWITCH] = saved_env


def ray_init_local(num_cpus: int | None, node_ip_address: str, temp_dir: str) -> None:
    """A private local Ray pinned to one address and temp folder (the underscore arguments are the
    only way ray.init takes them; the temp folder must be short for Unix socket paths)."""
    import ray

    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address=node_ip_address, _temp_dir=temp_dir,
             log_to_driver=False, configure_logging=False)


def optuna_table_names() -> frozenset[str]:
    """Tables of Optuna's RDB schema: its private models hold the one list of them."""
    from optuna.storages._rdb.models import BaseModel

    return frozenset(BaseModel.metadata.tables)
