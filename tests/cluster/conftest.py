"""Fixtures: one real two-node Ray cluster for the module that asks for it, a tiny proxy, and a
runner for the `mixsearch` command in a subprocess (a driver we can kill)."""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

_spec = importlib.util.spec_from_file_location("mixsearch_test_local_cluster",
                                               Path(__file__).with_name("local_cluster.py"))
local_cluster = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = local_cluster  # dataclasses look their module up by name
_spec.loader.exec_module(local_cluster)

# A proxy so small that a candidate trains in about a second on one core.
TINY_PROXY = {"dataset": "digits", "epochs": 1, "data_fraction": 0.1, "resolution": 16, "width_mult": 0.25, "threads": 1, "repeats": 1,
              "time_limit_s": 120.0}
COMMAND_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def two_node_cluster(tmp_path_factory):
    cluster = local_cluster.LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        left = cluster.stop()
        assert left == [], f"processes of the test cluster survived stop(): {left}"


@pytest.fixture
def proxy_file(tmp_path):
    def write(**changes) -> Path:
        path = tmp_path / f"proxy-{len(list(tmp_path.glob('proxy-*.yaml')))}.yaml"
        path.write_text(yaml.safe_dump({**TINY_PROXY, **changes}))
        return path
    return write


def mixsearch_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from mixsearch.cli import main; sys.exit(main())", *args]


class Driver:
    """A `mixsearch` subprocess in its own session, so killing it never touches this test process."""

    def __init__(self, args, env, log: Path):
        self.log = log
        self._out = open(log, "w")
        self.process = subprocess.Popen(mixsearch_command(*args), stdout=self._out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    def wait(self, timeout=COMMAND_TIMEOUT_S) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"mixsearch did not finish within {timeout} s; log:\n{self.output()[-3000:]}")
        finally:
            self._out.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def driver(tmp_path):
    started = []

    def start(*args, env=None) -> Driver:
        d = Driver(args, env or dict(os.environ), tmp_path / f"driver-{len(started)}.log")
        started.append(d)
        return d
    yield start
    for d in started:
        d.kill()


def _wait_until(condition, timeout_s: float, what: str, poll_s: float = 0.5):
    """Poll `condition()` until it returns a truthy value; bounded by timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def wait_until():
    return _wait_until
