"""A real two-node Ray cluster on this machine, for tests: a head and a worker node, each a
separate `ray start` process, every address on 127.0.0.1, token authentication on.

Each `ray start` runs in a new session, so every process it leaves behind (GCS, raylet, agents,
Ray workers, which rename themselves `ray::...`) carries that session id; `stop()` ends exactly
those sessions, never another user's Ray (`ray stop` would kill every Ray on the machine).

    with LocalCluster(tmp_path) as cluster:
        subprocess.run([... "--ray-address", cluster.address], env=cluster.env)

Run this file directly to measure start time and memory: python tests/cluster/local_cluster.py
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

LAUNCHER = Path(__file__).with_name("ray_node.py")
START_TIMEOUT_S = 90
STOP_GRACE_S = 5.0
STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_stat(pid: int) -> tuple[str, int] | None:
    """(state, session id) of a process, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[3])


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _decode_host(hex_address: str, width: int) -> str:
    """A /proc/net/tcp{,6} address (little-endian 32-bit words) as dotted IPv4 where it is one."""
    raw = b"".join(bytes.fromhex(hex_address[i:i + 8])[::-1] for i in range(0, width, 8))
    if len(raw) == 16 and raw[:12] == b"\0" * 10 + b"\xff\xff":
        raw = raw[12:]  # IPv4-mapped IPv6
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def session_processes(session_ids: set[int]) -> list[int]:
    """Live (non-zombie) processes whose session is one of `session_ids`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _read_stat(int(entry.name))
        if stat and stat[1] in session_ids and stat[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


@dataclass
class LocalCluster:
    root: Path
    cpus_per_node: int = 1
    port: int = 0
    sessions: dict[str, int] = field(default_factory=dict)  # node -> session id (= its `ray start` pid)
    timings_s: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        # Ray's socket paths live under the temp dir; keep it short (107-byte limit).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="msc-", dir="/tmp"))
        self.port = self.port or free_port()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a driver (e.g. `mixsearch run`) joining this cluster."""
        env = dict(os.environ)
        env["RAY_AUTH_MODE"] = "token"
        env.pop("RAY_ADDRESS", None)
        return env

    def _start_node(self, name: str, args: list[str]) -> None:
        log = self.root / f"ray-{name}.log"
        command = [sys.executable, str(LAUNCHER), "start", *args, f"--num-cpus={self.cpus_per_node}",
                   "--num-gpus=0", "--disable-usage-stats", f"--temp-dir={self.temp_dir}"]
        started = time.monotonic()
        with open(log, "w") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=self.env, start_new_session=True)
            self.sessions[name] = process.pid
            try:
                code = process.wait(timeout=START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                code = None
        self.timings_s[name] = time.monotonic() - started
        if code != 0:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"ray start ({name}) failed with {code}; log {log}:\n{tail}")

    def start(self) -> "LocalCluster":
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._start_node("head", ["--head", "--node-ip-address=127.0.0.1", f"--port={self.port}",
                                      "--include-dashboard=false", "--dashboard-host=127.0.0.1"
                                      ])
            self._start_node("worker", [f"--address={self.address}", "--node-ip-address=127.0.0.1"])
        except BaseException:
            self.stop()
            raise
        return self

    def processes(self) -> list[int]:
        return session_processes(set(self.sessions.values()))

    def rss_bytes(self) -> int:
        return sum(_rss_bytes(pid) for pid in self.processes())

    def ray_worker_pids(self) -> list[int]:
        """Ray worker processes (tasks/actors) of this cluster: they rename themselves `ray::...`."""
        return [pid for pid in self.processes() if _cmdline(pid).startswith("ray::")
                and not _cmdline(pid).startswith(("ray::DashboardAgent", "ray::RuntimeEnvAgent"))]

    def listening_hosts(self) -> set[str]:
        """The local addresses this cluster's processes accept TCP connections on (from /proc/net)."""
        inodes = set()
        for pid in self.processes():
            try:
                for link in Path(f"/proc/{pid}/fd").iterdir():
                    target = os.readlink(link)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
            except OSError:
                continue
        hosts = set()
        for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    hosts.add(_decode_host(fields[1].split(":")[0], width))
        return hosts

    def nodes(self) -> list[dict]:
        """`ray.nodes()` as seen by a fresh driver (a subprocess, so this process never joins)."""
        code = ("import json, ray\n"
                f"ray.init(address={self.address!r}, log_to_driver=False)\n"
                "print('NODES=' + json.dumps([{k: n[k] for k in ('NodeID', 'Alive', 'NodeManagerAddress',"
                " 'ObjectManagerPort', 'NodeManagerPort', 'Resources')} for n in ray.nodes()]))\n"
                "ray.shutdown()\n")
        env = self.env
        env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # the driver keeps 127.0.0.1 as given
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                              timeout=START_TIMEOUT_S)
        for line in done.stdout.splitlines():
            if line.startswith("NODES="):
                return json.loads(line[len("NODES="):])
        raise RuntimeError(f"could not list the nodes of {self.address}: {done.stderr[-2000:]}")

    def stop(self) -> list[int]:
        """End every process of this cluster's sessions; returns those still alive (should be [])."""
        sessions = set(self.sessions.values())
        for signum, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
            pids = session_processes(sessions)
            for pid in pids:
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait_s
            while pids and time.monotonic() < deadline:
                time.sleep(0.1)
                pids = session_processes(sessions)
            if not pids:
                break
        left = session_processes(sessions)
        if not left:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        return left

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    """Start, measure and stop a two-node cluster; prints the figures as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster(Path(tmp))
        try:
            cluster.start()
            time.sleep(2.0)  # let the agents finish loading before measuring memory
            nodes = cluster.nodes()
            figures = {"head_start_s": round(cluster.timings_s["head"], 2),
                       "worker_start_s": round(cluster.timings_s["worker"], 2),
                       "processes": len(cluster.processes()),
                       "rss_mb": round(cluster.rss_bytes() / 2**20),
                       "nodes": [(n["NodeManagerAddress"], n["Alive"]) for n in nodes]}
        finally:
            left = cluster.stop()
        figures["left_after_stop"] = left
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
