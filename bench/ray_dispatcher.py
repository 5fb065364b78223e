"""The dispatcher's cost with 100 queued runs that cannot start: the Ray executor on a full
cluster against the local executor with its one slot taken, side by side in one run.

Ray: a real 2-node cluster on this machine (bench/ray_cluster_env.py) whose four logical GPUs
are all held by two plain Ray jobs (`sleep`, 2 GPUs each: someone else's work), and 100 queued
runs that each want one GPU. Local: the default one CPU slot held by a real run whose worker
this bench has paused (SIGSTOP, so it costs no CPU and is still alive), and 100 queued CPU runs
(no warm worker: TORCHDASH_WARM_WORKERS=0).
Both on their own database of one real PostgreSQL, the runs posted through a real server's API.

Two figures for each:
- the server process's CPU share while idle (utime + stime from /proc/PID/stat over
  IDLE_SECONDS), with no run queued and then with the 100;
- one `Dispatcher.tick()`, called directly in this process after the server has been stopped,
  with a real executor (a `RayJobExecutor` against the cluster; a `LocalProcessExecutor` that
  adopts the paused worker), on the same database: its wall and CPU time, and for Ray how many
  HTTP calls it makes to the dashboard (the executor reads the nodes at most every
  TORCHDASH_RAY_POLL_INTERVAL, so most ticks make none). Ticks are spaced as the server's loop
  spaces them (TORCHDASH_DISPATCH_INTERVAL).
Nothing here asserts a time.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.runs.dispatcher import Dispatcher
from app.runs.executors.interface import Executor
from app.runs.executors.local import LocalProcessExecutor
from app.runs.executors.ray_cluster import RayCluster
from app.runs.executors.ray_jobs import RayJobExecutor
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory
from bench import ray_cluster_env as env
from bench.common import README, Result, replace_section
from bench.live_server import Server, serve
from bench.run_start import CONFIG as DIGITS_CONFIG
from tests.support.postgres_server import PostgresServer
from tests.support.ray_cluster import GPUS_PER_NODE, RayTestCluster

QUEUED = 100
IDLE_SECONDS = 15.0
TICKS = 40
CPU_RUN: dict[str, Any] = {**DIGITS_CONFIG, "name": "queued", "device": "cpu"}
GPU_RUN: dict[str, Any] = {**CPU_RUN, "device": "cuda"}  # one GPU of the cluster
SECTION = ("<!-- ray-dispatcher:start -->", "<!-- ray-dispatcher:end -->")


@dataclass(frozen=True)
class Tick:
    wall: float
    cpu: float  # this thread's CPU time: the tick runs in it, its HTTP calls included
    http_calls: int


@dataclass(frozen=True)
class Cost:
    """One executor's figures."""

    idle_empty: float  # the server's CPU share, no run queued
    idle_queued: float  # the same with QUEUED runs queued
    ticks: list[Tick]
    elapsed: float  # seconds the ticks took, the waits between them included


@contextmanager
def full_cluster(cluster: RayTestCluster) -> Iterator[None]:
    """Every GPU of the cluster held by a plain Ray job, and seen as used by Ray's monitor."""
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(cluster.address)
    names = [f"bench-holds-node-{i}" for i in range(cluster.node_count)]
    for name in names:
        client.submit_job(
            entrypoint="sleep 900",
            submission_id=name,
            entrypoint_num_gpus=GPUS_PER_NODE,
            entrypoint_num_cpus=0,
        )
    try:
        look = RayCluster(cluster.address)
        env.wait_for(
            lambda: all(n.gpus_used >= n.gpus_total for n in look.nodes() if n.alive),
            120,
            "Ray to see the cluster's GPUs used",
            every=0.5,
        )
        look.close()
        yield
    finally:
        for name in names:
            client.stop_job(name)


def post_queued(base: str, config: dict[str, Any]) -> list[int]:
    ids = []
    for number in range(QUEUED):
        answer = httpx.post(f"{base}/api/runs", json={**config, "name": f"q{number}"}, timeout=30)
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    return ids


def queued_count(base: str, ids: list[int]) -> int:
    return sum(
        httpx.get(f"{base}/api/runs/{run_id}", timeout=30).json()["status"] == "queued"
        for run_id in ids
    )


def idle_share(server: Server) -> float:
    """The server's CPU time over IDLE_SECONDS, as a share of one core."""
    time.sleep(2)  # let the POSTs' own work settle
    cpu, began = server.cpu_seconds(), time.monotonic()
    time.sleep(IDLE_SECONDS)
    return (server.cpu_seconds() - cpu) / (time.monotonic() - began)


def ticks(settings: Settings, executor: Executor, calls: list[str]) -> tuple[list[Tick], float]:
    """TICKS ticks of a dispatcher on `settings`' database, spaced as the server spaces them."""
    engine = make_engine(settings.sqlalchemy_url, **settings.pool_options())
    dispatcher = Dispatcher(settings, make_session_factory(engine), executor, gpus=[])
    dispatcher.recover()
    measured = []
    began = time.monotonic()
    try:
        for _ in range(TICKS):
            made = len(calls)
            wall, cpu = time.perf_counter(), time.thread_time()
            dispatcher.tick()
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            measured.append(Tick(wall, cpu, len(calls) - made))
            time.sleep(settings.dispatch_interval)
        return measured, time.monotonic() - began
    finally:
        executor.close()
        engine.dispose()


def ray_cost(cluster: RayTestCluster, database_url: str, home: Path) -> Cost:
    with full_cluster(cluster):
        with serve(home, **env.ray_server_settings(cluster, database_url)) as server:
            empty = idle_share(server)
            ids = post_queued(server.base, GPU_RUN)
            queued = idle_share(server)
            if queued_count(server.base, ids) != QUEUED:
                raise RuntimeError("a queued run started on a cluster that should be full")
        settings = Settings(
            home=home, database_url=database_url, executor="ray", ray_address=cluster.address
        )
        executor = RayJobExecutor(settings)
        calls: list[str] = []
        executor.cluster.http.event_hooks = {
            "request": [lambda request: calls.append(request.url.path)],
            "response": [],
        }
        measured, elapsed = ticks(settings, executor, calls)
        if executor.jobs:  # none of the 100 may start: only then is no Jobs API call made
            raise RuntimeError(f"runs started on a full cluster: {sorted(executor.jobs)}")
    return Cost(empty, queued, measured, elapsed)


def local_cost(database_url: str, home: Path) -> Cost:
    paused = None
    try:
        # No warm worker: the slot holder is then a plain `python -m app.worker RUN_ID`.
        with serve(home, database_url=database_url, warm_workers="0") as server:
            holder = httpx.post(
                f"{server.base}/api/runs", json={**CPU_RUN, "max_epochs": 400}, timeout=30
            ).json()["id"]
            log = home / "runs" / str(holder) / "worker.log"
            env.wait_for(lambda: env.first_step_time(log), 180, "the slot holder to train")
            (paused,) = env.worker_pids(holder, home)
            os.kill(paused, signal.SIGSTOP)  # alive and holding its slot, at no CPU cost
            empty = idle_share(server)
            ids = post_queued(server.base, CPU_RUN)
            queued = idle_share(server)
            if queued_count(server.base, ids) != QUEUED:
                raise RuntimeError("a queued run started while the only slot was taken")
        settings = Settings(home=home, database_url=database_url, warm_workers=0)
        measured, elapsed = ticks(settings, LocalProcessExecutor(settings), [])
    finally:
        if paused is not None:
            os.kill(paused, signal.SIGKILL)
    return Cost(empty, queued, measured, elapsed)


def measure() -> dict[str, Cost]:
    with ExitStack() as stack:
        cluster, postgres = stack.enter_context(env.cluster_and_postgres())
        folders = [Path(stack.enter_context(tempfile.TemporaryDirectory())) for _ in range(2)]
        return {
            "Ray (full cluster)": ray_cost(cluster, new_database(postgres, "ray"), folders[0]),
            "local (slot taken)": local_cost(new_database(postgres, "local"), folders[1]),
        }


def new_database(postgres: PostgresServer, name: str) -> str:
    return postgres.create_database(f"dispatch_{name}")


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms" if values else "—"


def lines_of(costs: dict[str, Cost]) -> list[str]:
    lines = [
        "| with 100 queued runs that cannot start | " + " | ".join(costs) + " |",
        "|---" * (len(costs) + 1) + "|",
    ]

    def row(label: str, cell: Callable[[Cost], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(c) for c in costs.values()) + " |")

    def polled(cost: Cost) -> list[Tick]:
        return [t for t in cost.ticks if t.http_calls]

    def quiet(cost: Cost) -> list[Tick]:
        return [t for t in cost.ticks if not t.http_calls]

    row("idle server's CPU, no run queued (share of a core)", lambda c: f"{c.idle_empty:.1%}")
    row("idle server's CPU, 100 queued", lambda c: f"{c.idle_queued:.1%}")
    row("one tick, median wall (no dashboard call)", lambda c: _ms([t.wall for t in quiet(c)]))
    row("one tick, median CPU (no dashboard call)", lambda c: _ms([t.cpu for t in quiet(c)]))
    row("one tick that reads the nodes, median wall", lambda c: _ms([t.wall for t in polled(c)]))
    row("one tick that reads the nodes, median CPU", lambda c: _ms([t.cpu for t in polled(c)]))
    row(
        f"HTTP calls to the dashboard in {TICKS} ticks (per second)",
        lambda c: (
            f"{sum(t.http_calls for t in c.ticks)} "
            f"({sum(t.http_calls for t in c.ticks) / c.elapsed:.1f}/s; "
            f"{len(polled(c))} ticks made them)"
        ),
    )
    return lines


def run() -> list[Result]:
    reason = env.missing()
    if reason is not None:
        print(f"  bench.ray_dispatcher skipped: {reason}", flush=True)
        return []
    load_before = env.load_average()
    costs = measure()
    load = f"load average {load_before} before, {env.load_average()} after"
    ray, local = costs.values()
    return [
        Result(
            "13. the dispatcher with 100 queued runs on the Ray executor (a full cluster)",
            f"idle server {ray.idle_queued:.1%} of a core; a tick "
            f"{_ms([t.wall for t in ray.ticks])} median, "
            f"{sum(t.http_calls for t in ray.ticks) / ray.elapsed:.1f} dashboard calls/s ({load})",
            f"local executor, its slot taken: idle server {local.idle_queued:.1%}; a tick "
            f"{_ms([t.wall for t in local.ticks])} median",
            None,
        )
    ]


def main(argv: list[str]) -> int:
    """`python -m bench.ray_dispatcher [--write-readme]`: print (and write) the figures."""
    reason = env.missing()
    if reason is not None:
        print(f"skipped: {reason}")
        return 0
    load_before, began = env.load_average(), time.time()
    costs = measure()
    header = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime(began))} UTC by "
        f"`python -m bench.ray_dispatcher` on PostgreSQL, defaults otherwise (dispatch interval "
        f"{Settings().dispatch_interval} s, Ray poll interval {Settings().ray_poll_interval} s); "
        f"idle CPU over {IDLE_SECONDS:.0f} s, {TICKS} ticks each; load average (1/5/15 min) "
        f"{load_before} before, {env.load_average()} after, on {len(os.sched_getaffinity(0))} "
        "cores."
    )
    lines = [header, "", *lines_of(costs)]
    print("\n".join(lines))
    if "--write-readme" in argv:
        replace_section(README, *SECTION, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
