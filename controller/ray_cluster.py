"""Connecting the search to Ray: a private local Ray, or an existing cluster at HOST:PORT.

Every address stays on the loopback interface when the user asks for it. Ray 2.60 "helpfully"
rewrites 127.0.0.1 into the machine's network address (it assumes a loopback node can't be part
of a cluster), which both leaks the search onto the network and fails where that interface is
firewalled; `compat.ray_loopback_kept()` turns that rewrite off for the duration of `ray.init`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mixsearch.search_space.errors import MixsearchError

from . import compat

LOOPBACK = "127.0.0.1"
_AUTH_MODE = "RAY_AUTH_MODE"
_CONNECT_TIMEOUT_S = 2.0


class RayClusterError(MixsearchError):
    """The Ray cluster named by the user can't be reached or joined."""


def parse_address(address: str) -> tuple[str, int]:
    """'HOST:PORT' -> (host, port); a clear error for anything else."""
    host, sep, port_text = address.strip().rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RayClusterError(
            f"--ray-address: {address!r} is not HOST:PORT; give the head's address as printed by "
            "`ray start --head`, e.g. 127.0.0.1:6379"
        )
    return host, int(port_text)


def check_listening(address: str, timeout_s: float = _CONNECT_TIMEOUT_S) -> tuple[str, int]:
    """Raise RayClusterError unless something accepts TCP connections at HOST:PORT."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise RayClusterError(
            f"--ray-address: nothing is listening at {host}:{port} ({reason}); start a cluster with "
            f"`ray start --head --node-ip-address=127.0.0.1 --port={port}` or drop --ray-address"
        ) from None
    return host, port


# An HTTP/2 client's opening (the preface and an empty SETTINGS frame): Ray's GCS is a gRPC server,
# which answers any client with a SETTINGS frame of its own at once.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_HEAD_TIMEOUT_S = 5.0


def check_ray_head(address: str, timeout_s: float | None = None) -> tuple[str, int]:
    """Raise RayClusterError unless HOST:PORT answers as a gRPC server (a Ray head's GCS does)
    within `timeout_s` (default _HEAD_TIMEOUT_S): ray.init would wait minutes on a port of
    something else, saying nothing."""
    timeout_s = _HEAD_TIMEOUT_S if timeout_s is None else timeout_s
    host, port = check_listening(address, min(timeout_s, _CONNECT_TIMEOUT_S))
    if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
        return host, port  # a TLS head answers only a TLS handshake; ray.init checks it
    answer = b""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(_HTTP2_PREFACE)
            while len(answer) < 9:
                chunk = sock.recv(9 - len(answer))
                if not chunk:
                    break
                answer += chunk
    except OSError:  # socket.timeout included: it never answered
        pass
    if len(answer) < 9 or answer[3] != 4 or answer[5:9] != bytes(4):
        raise RayClusterError(
            f"--ray-address: {host}:{port} is not a Ray cluster's head (it did not answer as Ray's GCS within "
            f"{timeout_s:g} s); give the address `ray start --head` printed (port 6379 by default), or check "
            f"it with `ray status --address={host}:{port}`")
    return host, port


def token_available() -> bool:
    """Whether this machine holds a Ray auth token (env or the file `ray start --head` writes)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    return Path(path).is_file()


@contextlib.contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """Set (or, for None, leave) environment variables, restoring the previous values on exit."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is not None:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _loopback_kept(host: str) -> Iterator[None]:
    if host not in (LOOPBACK, "localhost"):
        yield
        return
    with compat.ray_loopback_kept():
        yield


def node_addresses() -> list[str]:
    """The advertised address of every live node of the connected Ray."""
    import ray

    return [node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")]


def _check_loopback_nodes(expected_host: str) -> None:
    if expected_host not in (LOOPBACK, "localhost"):
        return
    stray = sorted({address for address in node_addresses() if address != LOOPBACK})
    if stray:
        raise RayClusterError(
            f"--ray-address: the cluster has nodes advertising {', '.join(stray)} instead of 127.0.0.1; "
            "start every node with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 and --node-ip-address=127.0.0.1"
        )


def short_temp_dir() -> str:
    """A per-process Ray temp dir short enough for Unix socket paths (107 bytes on Linux)."""
    return tempfile.mkdtemp(prefix="msray-", dir="/tmp" if os.path.isdir("/tmp") else None)


@contextlib.contextmanager
def connect(address: str | None, num_cpus: int | None = None) -> Iterator[None]:
    """Connect this process to Ray for the duration of the block.

    address None starts a private Ray on 127.0.0.1 (no dashboard) with `num_cpus` CPUs and shuts
    it down on exit. "HOST:PORT" joins a running cluster (the token-auth environment is set when
    the machine holds a token) and disconnects on exit, leaving the cluster running.
    """
    import ray

    if ray.is_initialized():
        raise RayClusterError("Ray is already initialised in this process; run one search per process")
    if address is None:
        temp_dir = short_temp_dir()
        # A local ray.init turns token auth on by writing RAY_AUTH_MODE into os.environ for good;
        # restore it so a later connect in this process sees the user's own setting.
        with _environment(**{_AUTH_MODE: os.environ.get(_AUTH_MODE)}), _loopback_kept(LOOPBACK):
            compat.ray_init_local(num_cpus, LOOPBACK, temp_dir)
            try:
                _check_loopback_nodes(LOOPBACK)
                yield
            finally:
                ray.shutdown()
                shutil.rmtree(temp_dir, ignore_errors=True)
        return

    host, port = check_ray_head(address)
    auth = "token" if os.environ.get(_AUTH_MODE) is None and token_available() else None
    with _environment(**{_AUTH_MODE: auth}), _loopback_kept(host):
        try:
            ray.init(address=f"{host}:{port}", log_to_driver=False, configure_logging=False)
        except ConnectionError as err:
            raise RayClusterError(
                f"--ray-address: could not join the Ray cluster at {host}:{port} "
                f"({str(err).splitlines()[0][:160]}); check it with `ray status --address={host}:{port}`"
            ) from None
        except ray.exceptions.AuthenticationError:
            raise RayClusterError(
                f"--ray-address: the cluster at {host}:{port} refused this driver's token; set "
                "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH to the head's token file (~/.ray/auth_token)"
            ) from None
        try:
            _check_loopback_nodes(host)
            yield
        finally:
            ray.shutdown()  # for a joined cluster this only disconnects the driver
