"""The Ray cluster as its dashboard reports it: the nodes, their GPUs and CPUs, and their use.

Read over the dashboard's HTTP API (the one `ray status` and the dashboard's own pages read):
`/api/v0/nodes` (the State API: each node, alive or dead, and its resources) and
`/api/cluster_status` (what each node's resources are used for, refreshed by Ray's monitor
every few seconds, so it lags behind a job that just started; the executor corrects for its own
jobs, app/runs/executors/ray_jobs.py). The server never joins the cluster as a Ray driver.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from app.runs.cluster_placement import node_label

# How long one look at the cluster may take before it counts as unreachable.
REQUEST_SECONDS = 5.0  # two per look: a hung dashboard holds a dispatcher tick 10 s at most
# httpx logs every request at INFO: two a second, the server's log would be nothing else.
logging.getLogger("httpx").setLevel(logging.WARNING)


class ClusterUnreachable(Exception):
    """The dashboard did not answer, or answered something that is not a cluster's state."""


@dataclass(frozen=True)
class RayNode:
    """One node: its resources in total and, as Ray's monitor last saw them, in use."""

    node_id: str
    name: str
    alive: bool
    is_head: bool
    gpus_total: int
    gpus_used: float
    cpus_total: int
    cpus_used: float

    @property
    def label(self) -> str:
        return node_label(self.name, self.node_id)


class RayCluster:
    """Looks at the cluster whose dashboard is at `address` (http://head:8265)."""

    def __init__(self, address: str) -> None:
        import httpx  # here: a server on the local executor never loads it (nor its CLI's rich)

        self.address = address
        self.http = httpx.Client(base_url=address, timeout=REQUEST_SECONDS)

    def nodes(self) -> list[RayNode]:
        """Every node Ray knows, dead ones included; raises ClusterUnreachable."""
        listed = self._get("/api/v0/nodes", params={"limit": 10000, "detail": "true"})
        status = self._get("/api/cluster_status")
        try:
            rows = listed["data"]["result"]["result"]
            usage = status["data"]["clusterStatus"]["loadMetricsReport"]["usageByNode"] or {}
            return [_node(row, usage.get(row["node_id"], {})) for row in rows]
        except (KeyError, TypeError) as error:
            raise ClusterUnreachable(f"unexpected answer from {self.address}: {error!r}") from None

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        import httpx

        try:
            response = self.http.get(path, params=params)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ClusterUnreachable(f"{self.address}{path}: {error}") from None


def _node(row: dict[str, Any], usage: dict[str, list[float]]) -> RayNode:
    total = row.get("resources_total") or {}
    return RayNode(
        node_id=row["node_id"],
        name=row.get("node_name") or row.get("node_ip") or row["node_id"][:8],
        alive=row.get("state") == "ALIVE",
        is_head=bool(row.get("is_head_node")),
        gpus_total=int(total.get("GPU", 0)),
        gpus_used=float(usage.get("GPU", [0.0])[0]),
        cpus_total=int(total.get("CPU", 0)),
        cpus_used=float(usage.get("CPU", [0.0])[0]),
    )
