"""A Ray cluster of several nodes on this machine, as docs/distributed.md starts one: ``ray start --head`` and
``ray start --address`` (one process group each; `stop` ends exactly those). Used by tests/test_cluster_ray.py,
tests/test_distributed.py (a head alone) and benchmarks/bench_ray_cluster.py."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ray

RAY = str(Path(sys.executable).with_name("ray"))
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ray[default] (lite's [ray-cluster] extra, which CI installs): the dashboard, its job server, `ray list`
RAY_DEFAULT = all(importlib.util.find_spec(m) is not None for m in ("aiohttp", "aiohttp_cors", "opencensus"))

# Ray reads RAY_AUTH_MODE when it is imported: this process (the driver of most tests) runs without token
# authentication, so the two-node cluster does too; test_wrong_token_is_a_lite_error_with_the_fix starts its own.
NO_AUTH = {"RAY_AUTH_MODE": "disabled"}


def start_node(args: list[str], cwd: Path, log: Path, auth: dict[str, str] = NO_AUTH) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN")} | auth
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    with log.open("w") as f:
        return subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", *args], cwd=cwd, env=env,
                                stdout=f, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` now (Ray's workers run in sessions of their own, outside the node's group)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def stop_node(proc: subprocess.Popen) -> None:
    """End a node: its process group (``ray start --block``, raylet, GCS) and the workers it started."""
    workers = _descendants(proc.pid) if proc.poll() is None else []
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    for pid in workers:  # a worker of a killed node may outlive it: end exactly those this node started
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def alive_nodes() -> list[dict]:
    return [n for n in ray.nodes() if n.get("Alive")]


class TwoNodes:
    """The head (``head_cpus``, started in ``head_dir``) and a second node (``node_cpus``, in ``node_dir``)."""

    def __init__(self, root: Path, head_cpus: int = 2, node_cpus: int = 1, dashboard: bool = False) -> None:
        self.head_cpus, self.node_cpus = head_cpus, node_cpus
        self.root, self.port = root, free_port()
        self.head_dir, self.node_dir = root / "head", root / "node2"
        self.head_dir.mkdir()
        self.node_dir.mkdir()
        self.address = f"{ray.util.get_node_ip_address()}:{self.port}"
        #: ``http://127.0.0.1:PORT`` of the head's dashboard (Ray's job server, ``ray job submit``), or None
        self.dashboard = f"http://127.0.0.1:{free_port()}" if dashboard else None
        self.procs: list[subprocess.Popen] = []
        self.temp_dirs: list[str] = []

    def start(self, nodes: int = 2) -> None:
        """Start the head (and the second node when ``nodes`` is 2); this process connects as the driver."""
        dash = (["--include-dashboard=true", f"--dashboard-port={self.dashboard.rsplit(':', 1)[1]}"]
                if self.dashboard else ["--include-dashboard=false"])  # fmt: skip
        self.procs.append(start_node(["--head", f"--port={self.port}", f"--num-cpus={self.head_cpus}", *dash],
                                     self.head_dir, self.root / "head.log"))  # fmt: skip
        if nodes == 2:
            self.node = self.add_node()
        ray.init(address=self.address, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        self.wait_nodes(nodes)

    def add_node(self) -> subprocess.Popen:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the head is up when its port answers
            with socket.socket() as s:
                if s.connect_ex((self.address.rsplit(":", 1)[0], self.port)) == 0:
                    break
            time.sleep(0.2)
        # A temp dir of its own, as a second raylet on the same machine needs (docs/distributed.md): with the
        # head's, both nodes' runtime-env agents unpack a job's working_dir into the same folder, and one
        # deletes it under the other's processes. Short (Ray's socket paths live there), removed by stop().
        temp = tempfile.mkdtemp(prefix="ray-n2-", dir="/tmp")
        self.temp_dirs.append(temp)
        p = start_node([f"--address={self.address}", f"--num-cpus={self.node_cpus}", f"--temp-dir={temp}"],
                       self.node_dir, self.root / "node2.log")  # fmt: skip
        self.procs.append(p)
        self.node = p
        return p

    def wait_nodes(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(alive_nodes()) != n:
            assert time.monotonic() < deadline, f"{len(alive_nodes())} alive nodes, expected {n}"
            time.sleep(0.2)

    def remove_node(self) -> None:
        """End the second node (if it still runs) and wait until the head is the only alive node (if the cluster
        was not ended already: tests/conftest.py ends it after the last test that uses it)."""
        stop_node(self.node)
        if ray.is_initialized():
            self.wait_nodes(1)

    def stop(self) -> None:
        import gc

        gc.collect()  # datasets and their executor threads go while their Ray session is still up
        ray.shutdown()
        for p in reversed(self.procs):
            stop_node(p)
        for temp in self.temp_dirs:
            shutil.rmtree(temp, ignore_errors=True)  # a killed raylet's files may vanish while this runs
