"""The cluster allocator: which queued runs can start on a Ray cluster now.

Ray picks the node of each job itself; torchdash submits a run only when some node has room for
it, so no job waits in Ray's own queue (where it fails after 15 minutes pending) and the queue's
order, cancel and reordering stay torchdash's. The rules, as docs/cluster.md states them:

- A run trains on CUDA when its device is `cuda`, or `auto` while the cluster has a GPU. It
  needs `processes` GPUs on ONE node (a DDP run does not span nodes) and no CPU; every other run
  needs one CPU of a node. `cuda:N` names a GPU of one machine and is refused at submit.
- Queued runs are looked at in queue order, and one that cannot start does not hold up a later
  one that can, as on one machine.
- A run needing more GPUs than the largest node has waits, saying so (a node may join); submit
  refuses such a run with a 422 before that (app/runs/config_checks.py).
- Strict reservation, the rule of one machine (app/runs/placement.py) carried over to nodes: a
  GPU run that waits reserves the free GPUs of every node that could ever hold it (as many GPUs
  in all as it needs), unless an earlier waiting run reserved that node first. Ray, not torchdash,
  picks the node of a job among those with room, so a GPU kept on a node cannot be named to Ray:
  a later GPU run starts only when no reserved node has room for it (Ray could put it there),
  and waits otherwise ("reserved 1 free GPU on 10.0.0.1 (4f3a…) for run 12"). A reserved node's
  free GPUs then only grow, so the first waiting run starts once the runs that held that node's
  GPUs when it began waiting have ended, however many smaller runs are queued after it. A run
  larger than every node reserves nothing: it may wait for a node that never joins.

It is pure: the Ray executor builds it at every look from the nodes' free resources. The
queue's estimate (app/runs/queue.py) replays the same allocator over time on a
`ClusterSnapshot`: the nodes as the dispatcher last read them, torchdash's runs on them given
back and taken out again (`held` naming a node) until each run's remaining time is up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.runs.placement import Decision, Held, gpus_needed, reserved_for


@dataclass(frozen=True)
class NodeRoom:
    """One node of the cluster and what it has free for torchdash now."""

    node_id: str
    name: str  # Ray's node name (its address)
    alive: bool
    is_head: bool
    gpus_total: int
    gpus_free: int
    cpus_total: int
    cpus_free: int

    @property
    def label(self) -> str:
        return node_label(self.name, self.node_id)


def node_label(name: str, node_id: str) -> str:
    """A node as the run page names it (`runs.node`): its address and its Ray node id's start."""
    return f"{name} ({node_id[:8]})"


@dataclass(frozen=True)
class ClusterGpus:
    """What a run may ask of the cluster at submit: at most the largest node's GPUs."""

    largest_node: int
    total: int


@dataclass(frozen=True)
class ClusterSnapshot:
    """The cluster as the dispatcher last read it, for the queue's estimate: each node's free
    room now, and where torchdash's own runs are counted (run id -> its node and GPUs)."""

    rooms: tuple[NodeRoom, ...] = ()
    jobs: dict[int, Held] = field(default_factory=dict)
    unreachable: str | None = None

    def allocator(self) -> ClusterAllocator:
        """The nodes with what torchdash's runs hold given back, so that a replay can take it
        out again while they run (`plan`'s `held`); what else uses a node (another user's job)
        stays used, for a time nobody can tell."""
        gpus_back: Counter[str | None] = Counter()
        cpus_back: Counter[str | None] = Counter()
        for held in self.jobs.values():
            if held.node_gpus:
                gpus_back[held.node] += held.node_gpus
            else:
                cpus_back[held.node] += 1
        rooms = [
            replace(
                room,
                gpus_free=min(room.gpus_total, room.gpus_free + gpus_back[room.node_id]),
                cpus_free=min(room.cpus_total, room.cpus_free + cpus_back[room.node_id]),
            )
            for room in self.rooms
        ]
        return ClusterAllocator(rooms, self.unreachable)


class ClusterAllocator:
    """Places queued runs on the nodes' free GPUs and CPUs; holds no state between looks."""

    def __init__(self, nodes: Sequence[NodeRoom], unreachable: str | None = None) -> None:
        self.nodes = [node for node in nodes if node.alive]
        self.unreachable = unreachable  # why the cluster could not be read, if it could not

    def gpus(self) -> ClusterGpus:
        return ClusterGpus(
            largest_node=max((node.gpus_total for node in self.nodes), default=0),
            total=sum(node.gpus_total for node in self.nodes),
        )

    def room(self, held: Iterable[Held] = ()) -> int:
        """How many runs could start now at most (free GPUs plus free CPUs)."""
        return sum(node.gpus_free + node.cpus_free for node in self.nodes)

    def plan(
        self, queued: Iterable[tuple[int, dict[str, Any]]], held: Iterable[Held] = ()
    ) -> list[Decision]:
        """A decision for each queued `(run_id, config)`, in queue order, as if the ones that
        start before it had started. What the dispatcher's runs hold is already out of the
        nodes' free resources; only a `held` that names a node (the estimate's replay) is
        taken out here."""
        free = {node.node_id: [node.gpus_free, node.cpus_free] for node in self.nodes}
        for run in held:
            if run.node in free:
                kind = 0 if run.node_gpus else 1
                free[run.node][kind] = max(0, free[run.node][kind] - max(run.node_gpus, 1))
        reserved: dict[str, tuple[int, int]] = {}  # node -> (the run kept for, GPUs free then)
        have_gpus = self.gpus().total > 0
        decisions = []
        for run_id, config in queued:
            needed = gpus_needed(config, have_gpus)
            decision = self._decide(run_id, needed, free, reserved)
            decisions.append(decision)
        return decisions

    def _decide(
        self,
        run_id: int,
        needed: int,
        free: dict[str, list[int]],
        reserved: dict[str, tuple[int, int]],
    ) -> Decision:
        if self.unreachable is not None:
            reason = f"waiting for the Ray cluster: {self.unreachable}"
            return Decision(run_id, waiting_reason=reason)
        if needed == 0:
            node = next((n for n, (_, cpus) in free.items() if cpus >= 1), None)
            if node is None:
                return Decision(run_id, waiting_reason="waiting for a free CPU on the cluster")
            free[node][1] -= 1
            return Decision(run_id, node=node)
        # Best fit: the node with the fewest free GPUs that still has enough, so a later run
        # needing a whole node finds one.
        fitting = sorted((gpus, n) for n, (gpus, _) in free.items() if gpus >= needed)
        kept = [n for _, n in fitting if n in reserved]
        if kept:
            # Ray could put this run on a reserved node: it would delay the run kept for.
            return Decision(run_id, waiting_reason=self._held_back(kept, reserved))
        if fitting:
            free[fitting[0][1]][0] -= needed
            return Decision(run_id, gpu_count=needed, node=fitting[0][1])
        largest = self.gpus().largest_node
        if needed > largest:
            return Decision(
                run_id,
                waiting_reason=f"waiting for a node with {needed} GPUs "
                f"(the largest node of the cluster has {largest})",
            )
        # Queue order: what is free on every node that could hold this run is kept for it.
        ours = [
            node.node_id
            for node in self.nodes
            if node.gpus_total >= needed and node.node_id not in reserved
        ]
        for node_id in ours:
            reserved[node_id] = (run_id, free[node_id][0])
        plural = "a free GPU" if needed == 1 else f"{needed} free GPUs on one node"
        reason = f"waiting for {plural} of the cluster"
        keeping = [self._on_node(node_id, reserved[node_id][1]) for node_id in ours]
        keeping = [words for words in keeping if words]
        if keeping:
            reason += f" ({', '.join(keeping)} reserved)"
        return Decision(run_id, waiting_reason=reason)

    def _held_back(self, kept: list[str], reserved: dict[str, tuple[int, int]]) -> str:
        """Why a run that fits a reserved node waits: `reserved 1 free GPU on 10.0.0.1 (4f3a…)
        for run 12`, naming every run those nodes are kept for, oldest in the queue first."""
        for_run: dict[int, list[str]] = {}
        for node_id, (run_id, gpus) in reserved.items():  # in the order they were reserved
            if node_id in kept:
                for_run.setdefault(run_id, []).append(self._on_node(node_id, gpus))
        return reserved_for({run_id: ", ".join(words) for run_id, words in for_run.items()})

    def _on_node(self, node_id: str, gpus: int) -> str:
        """`1 free GPU on 10.0.0.1 (4f3a…)`; empty for none."""
        if gpus == 0:
            return ""
        label = next(node.label for node in self.nodes if node.node_id == node_id)
        return f"{gpus} free GPU{'s' if gpus > 1 else ''} on {label}"
