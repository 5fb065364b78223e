"""A real Ray cluster on this machine for the tests (`ray[default]`, with the Jobs API).

A head and more nodes, started by `ray.cluster_utils.Cluster` as separate raylets on one host,
each with logical GPUs (`num_gpus`): Ray schedules GPU jobs on them and sets each job's
`CUDA_VISIBLE_DEVICES`, though the machine has no GPU (the workers then train on the CPU through
the one GPU fake seam, TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU). Each node gets Ray's smallest object
store; the dashboard, which serves the Jobs API, is bound to 127.0.0.1 on a free port. (Ray's own
processes talk over this host's own address, which never leaves the machine.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from app.settings import Settings
from tests.support.servers import free_port, spawn_server, wait_for_server
from tests.support.waiting import wait_until

SMALLEST_OBJECT_STORE = 78_643_200  # bytes: Ray refuses less
GPUS_PER_NODE = 2
CPUS_PER_NODE = 2


class RayTestCluster:
    """`start()` a head and `nodes - 1` more nodes; `add_node`, `remove_node`, `stop`."""

    def __init__(self, nodes: int = 2) -> None:
        self.node_count = nodes
        self.dashboard_port = free_port()
        self.cluster: Any = None

    @property
    def address(self) -> str:
        """The Jobs API address, as TORCHDASH_RAY_ADDRESS takes it."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start(self) -> RayTestCluster:
        # The processes Ray starts inherit this environment: no usage report to the internet.
        # PATH is left as it is, as with a plain `ray start`: the jobs run the worker with the
        # server's own interpreter, by its path (TORCHDASH_RAY_PYTHON's default).
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        from ray.cluster_utils import Cluster

        self.cluster = Cluster(
            initialize_head=True,
            connect=False,
            head_node_args={
                **self._node_args(),
                "include_dashboard": True,
                "dashboard_host": "127.0.0.1",
                "dashboard_port": self.dashboard_port,
            },
        )
        for _ in range(self.node_count - 1):
            self.add_node(wait=False)
        self.cluster.wait_for_nodes(timeout=120)
        self._wait_for_jobs_api()
        return self

    def _node_args(self) -> dict[str, Any]:
        return {
            "num_cpus": CPUS_PER_NODE,
            "num_gpus": GPUS_PER_NODE,
            "object_store_memory": SMALLEST_OBJECT_STORE,
            "dashboard_agent_listen_port": free_port(),
        }

    def add_node(self, wait: bool = True) -> str:
        """Start one more node; its Ray node id."""
        node = self.cluster.add_node(**self._node_args(), wait=wait)
        if wait:
            self.cluster.wait_for_nodes(timeout=120)
        return node.node_id

    def remove_node(self, node_id: str) -> None:
        """Kill a node's Ray processes at once, as when its machine is lost."""
        node = next(n for n in self.cluster.worker_nodes if n.node_id == node_id)
        self.cluster.remove_node(node, allow_graceful=False)

    def head_node_id(self) -> str:
        return self.cluster.head_node.node_id

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.shutdown()

    def _wait_for_jobs_api(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.address}/api/jobs/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Ray's Jobs API did not answer at {self.address}")


def server_env(cluster: RayTestCluster, settings: Settings) -> dict[str, str]:
    """The variables of a torchdash server that puts its runs on `cluster`."""
    return {
        "TORCHDASH_EXECUTOR": "ray",
        "TORCHDASH_RAY_ADDRESS": cluster.address,
        "TORCHDASH_DATABASE_URL": settings.sqlalchemy_url,
        # THE GPU FAKE SEAM: the nodes' GPUs are Ray's logical ones; the training is on the CPU.
        "TORCHDASH_FAKE_GPUS_TRAIN_ON_CPU": "1",
        "TORCHDASH_RAY_POLL_INTERVAL": "0.5",
        "TORCHDASH_RAY_CANCEL_ANSWER_SECONDS": "120",
    }


@contextmanager
def ray_serving(
    cluster: RayTestCluster, settings: Settings, token: str | None = None, **extra: str
) -> Iterator[str]:
    """A server on `cluster` (`extra` adds variables; `token` is its TORCHDASH_TOKEN) that
    starts on an idle cluster and leaves it so: its queued and training runs are cancelled."""
    port = free_port()
    env = {**server_env(cluster, settings), **extra}
    if token is not None:
        env["TORCHDASH_TOKEN"] = token
    server = spawn_server(settings, port, **env)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        wait_for_server(base)
        # Each test starts on an idle cluster: a run that has ended still holds its GPUs until its
        # Ray job's processes have exited (the test before may have just finished its runs).
        wait_until(
            lambda: _cluster_idle(base, headers), 120, "the previous test's Ray jobs to exit"
        )
        yield base
    finally:
        cancel_everything(base, headers)
        server.terminate()
        server.wait(timeout=15)


def cancel_everything(base: str, headers: dict[str, str] | None = None) -> None:
    """Leave the cluster free for the next test: cancel what is queued or training at `base`."""

    def live() -> list[int]:
        runs = httpx.get(f"{base}/api/runs", headers=headers, timeout=5).json()["runs"]
        return [run["id"] for run in runs if run["status"] in ("queued", "running")]

    try:
        for run_id in live():
            httpx.post(f"{base}/api/runs/{run_id}/cancel", headers=headers, timeout=5)
        wait_until(lambda: not live(), 120, "the test's runs to end")
    except httpx.HTTPError:
        pass


def _cluster_idle(base: str, headers: dict[str, str]) -> bool:
    answer = httpx.get(f"{base}/api/devices", headers=headers, timeout=10).json()
    # A node lost by an earlier test stays listed, dead, with nothing free: it holds no job.
    alive = [node for node in answer["cluster"]["nodes"] if node["alive"]]
    return all(node["gpus_free"] == node["gpus_total"] for node in alive)
