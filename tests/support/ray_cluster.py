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
import socket
import sys
import time
from pathlib import Path
from typing import Any

SMALLEST_OBJECT_STORE = 78_643_200  # bytes: Ray refuses less
GPUS_PER_NODE = 2
CPUS_PER_NODE = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RayTestCluster:
    """`start()` a head and `nodes - 1` more nodes; `add_node`, `remove_node`, `stop`."""

    def __init__(self, nodes: int = 2) -> None:
        self.node_count = nodes
        self.dashboard_port = _free_port()
        self.cluster: Any = None

    @property
    def address(self) -> str:
        """The Jobs API address, as TORCHDASH_RAY_ADDRESS takes it."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start(self) -> RayTestCluster:
        # The processes Ray starts inherit this environment: no usage report to the internet,
        # and the jobs' `python` is this interpreter (a node runs in torchdash's environment).
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        bin_dir = str(Path(sys.executable).parent)
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
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
            "dashboard_agent_listen_port": _free_port(),
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
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.address}/api/jobs/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Ray's Jobs API did not answer at {self.address}")
