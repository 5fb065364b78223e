"""POST of a run -> its first training step on the Ray executor (a new Ray job, a fresh
interpreter on a node), against the local executor cold (TORCHDASH_WARM_WORKERS=0) and warm (the
default warm worker), side by side in one run, and where the seconds go.

Three real servers on loopback, each on its own database of one real PostgreSQL (a cluster's
workers need a database server, so all three use one) and each on its own home: one on the Ray
executor against a real 2-node Ray cluster on this machine (bench/ray_cluster_env.py), one local
with no warm worker, one local with the default warm worker. Each posts the same small digits
config (`run_start.CONFIG`, on the CPU: a Ray job then asks for one CPU), once the previous run
has ended and its worker has exited, and the warm server's next warm worker is ready, so no
start is measured beside another's torch import. The three take turns, in a rotating order.

The phases are read from timestamps, none guessed: the POST (this process's clock); the
dispatcher's claim (`runs.started_at`, written just before it submits the job or starts the
process); the Ray job's creation (Ray's job info `start_time`); the worker process's start
(/proc/PID/stat); the first line the worker writes (seen in its log file, which this bench looks
at every 20 ms: a Ray job's is Ray's job-driver log, a local one's is worker.log); and the
worker's own `first step reported at T` (its reporter's first step, as in bench/run_start.py).
Each run is cancelled after its first step. Nothing here asserts a time.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import ray_cluster_env as env
from bench.common import README, Result, replace_section
from bench.live_server import serve
from bench.run_start import CONFIG as DIGITS_CONFIG
from bench.run_start import ready_warm_workers
from tests.support.ray_cluster import RayTestCluster

RUNS = 3  # per executor: a cold start takes up to a minute on this loaded 2-core box
CONFIG: dict[str, Any] = {**DIGITS_CONFIG, "name": "digits-start", "device": "cpu"}
RAY, COLD, WARM = "Ray (cold job)", "local cold", "local warm"
ALL = (RAY, COLD, WARM)
SECTION = ("<!-- ray-start:start -->", "<!-- ray-start:end -->")


@dataclass(frozen=True)
class Start:
    """The epoch-seconds timestamps of one run's start (None: that step does not exist)."""

    posted: float
    claimed: float
    submitted: float | None  # Ray's job created
    process: float | None  # the worker's process started (a warm one started before the POST)
    first_line: float
    first_step: float

    @property
    def total(self) -> float:
        return self.first_step - self.posted


# (label, from, to, the kinds of start it is shown for): the phases, in order.
PHASES = [
    ("POST → claimed by the dispatcher (`runs.started_at`)", "posted", "claimed", ALL),
    (
        "claimed → Ray job created (job info `start_time`: the submit)",
        "claimed",
        "submitted",
        (RAY,),
    ),
    ("Ray job created → worker process started (/proc)", "submitted", "process", (RAY,)),
    ("claimed → worker process started (/proc: `Popen`)", "claimed", "process", (COLD,)),
    (
        "claimed → the warm worker's first log line (the hand-over)",
        "claimed",
        "first_line",
        (WARM,),
    ),
    (
        "worker process started → first log line (Python, imports: torch)",
        "process",
        "first_line",
        (RAY, COLD),
    ),
    (
        "first log line → first step reported (more imports, data, model, step 1)",
        "first_line",
        "first_step",
        ALL,
    ),
]


@dataclass
class Subject:
    """One server under test."""

    kind: str
    base: str
    home: Path
    cluster: RayTestCluster | None = None

    def log_of(self, run_id: int) -> Path | None:
        if self.cluster is None:
            return self.home / "runs" / str(run_id) / "worker.log"
        pattern = f"job-driver-torchdash-run-{run_id}-1-*.log"
        found = sorted(env.session_logs(self.cluster).glob(pattern))
        return found[0] if found else None


def measure(subject: Subject) -> Start:
    posted = time.time()
    answer = httpx.post(f"{subject.base}/api/runs", json=CONFIG, timeout=30)
    answer.raise_for_status()
    run_id = answer.json()["id"]
    first_line = None
    while True:  # the bench's own look at the log, every 20 ms
        log = subject.log_of(run_id)
        if log is not None:
            if first_line is None and env.has_worker_line(log):
                first_line = time.time()
            first_step = env.first_step_time(log)
            if first_step is not None:
                break
        if time.time() - posted > 180:
            raise RuntimeError(f"{subject.kind}: run {run_id} reported no step in 180 s")
        time.sleep(0.02)
    pids = env.worker_pids(run_id, subject.home)
    process = env.process_started_at(pids[0]) if pids else None
    run = httpx.get(f"{subject.base}/api/runs/{run_id}", timeout=30).json()
    submitted = None
    if subject.cluster is not None:
        from ray.job_submission import JobSubmissionClient

        info = JobSubmissionClient(subject.cluster.address).get_job_info(run["worker_handle"])
        submitted = info.start_time / 1000
    httpx.post(f"{subject.base}/api/runs/{run_id}/cancel", timeout=30)
    env.wait_for(lambda: _ended(subject.base, run_id), 120, f"run {run_id} to end", every=0.1)
    env.wait_for(lambda: not env.worker_pids(run_id, subject.home), 120, "the worker to exit")
    return Start(
        posted=posted,
        claimed=env.epoch_of(run["started_at"]),
        submitted=submitted,
        process=process,
        first_line=first_line or first_step,
        first_step=first_step,
    )


def _ended(base: str, run_id: int) -> bool:
    run = httpx.get(f"{base}/api/runs/{run_id}", timeout=30).json()
    return run["status"] in ("succeeded", "failed", "cancelled", "interrupted")


@contextmanager
def three_servers() -> Iterator[list[Subject]]:
    """The Ray server and the two local ones, on one PostgreSQL; all stopped afterwards."""
    with ExitStack() as stack:
        cluster, postgres = stack.enter_context(env.cluster_and_postgres())
        subjects = []
        for kind, settings in (
            (RAY, env.ray_server_settings(cluster, "")),
            (COLD, {"warm_workers": "0"}),
            (WARM, {}),
        ):
            home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            settings["database_url"] = postgres.create_database(f"start_{len(subjects)}")
            server = stack.enter_context(serve(home, **settings))
            subjects.append(Subject(kind, server.base, home, cluster if kind == RAY else None))
        yield subjects


def measure_all(runs: int = RUNS) -> dict[str, list[Start]]:
    """`runs` starts of each kind, in turns."""
    starts: dict[str, list[Start]] = {RAY: [], COLD: [], WARM: []}
    with three_servers() as subjects:
        warm_home = next(s.home for s in subjects if s.kind == WARM)
        for turn in range(runs):
            for subject in subjects[turn % 3 :] + subjects[: turn % 3]:
                # The warm server's next warm worker imports torch: not beside a measured start.
                done = len(starts[WARM])
                env.wait_for(lambda d=done: ready_warm_workers(warm_home) > d, 120, "a warm worker")
                start = measure(subject)
                starts[subject.kind].append(start)
                print(f"  {subject.kind}: {start.total:.2f} s", flush=True)
    return starts


def _figure(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def phase_table(starts: dict[str, list[Start]]) -> list[str]:
    """The phase split: median (min–max) seconds of each phase, for each kind of start."""
    kinds = list(starts)
    lines = [
        "| phase | " + " | ".join(kinds) + " |",
        "|---" * (len(kinds) + 1) + "|",
    ]
    for label, begin, end, shown_for in PHASES:
        cells = []
        for kind in kinds:
            if kind not in shown_for:
                cells.append("—")
                continue
            spans = [
                getattr(s, end) - getattr(s, begin)
                for s in starts[kind]
                if getattr(s, begin) is not None and getattr(s, end) is not None
            ]
            cells.append(_figure(spans) if len(spans) == len(starts[kind]) else "not seen")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    totals = [_figure([s.total for s in starts[kind]]) for kind in kinds]
    lines.append("| **POST → first step** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    return lines


def run() -> list[Result]:
    reason = env.missing()
    if reason is not None:
        print(f"  bench.ray_start skipped: {reason}", flush=True)
        return []
    load_before = env.load_average()
    starts = measure_all()
    load = f"load average {load_before} before, {env.load_average()} after"
    ray, cold, warm = (statistics.median(s.total for s in starts[k]) for k in (RAY, COLD, WARM))
    return [
        Result(
            "13. POST of a run → first training step on the Ray executor (cold: a new Ray job)",
            f"{ray:.2f} s median, {min(s.total for s in starts[RAY]):.2f} s min ({RUNS} runs, "
            f"PostgreSQL; {load})",
            f"local cold {cold:.2f} s (Ray ×{ray / cold:.2f}), local warm {warm:.2f} s "
            f"(Ray ×{ray / warm:.0f}), interleaved, same database; split: bench/README.md "
            "'Ray executor'",
            None,
        )
    ]


def main(argv: list[str]) -> int:
    """`python -m bench.ray_start [--runs N] [--write-readme]`: print (and write) the split."""
    reason = env.missing()
    if reason is not None:
        print(f"skipped: {reason}")
        return 0
    load_before = env.load_average()
    began = time.time()
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else RUNS
    starts = measure_all(runs)
    header = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime(began))} UTC by "
        f"`python -m bench.ray_start`, {runs} runs of each kind in turns, on PostgreSQL; load "
        f"average (1/5/15 min) {load_before} before, {env.load_average()} after, on "
        f"{len(os.sched_getaffinity(0))} cores. Seconds: median (min–max)."
    )
    lines = [header, "", *phase_table(starts)]
    print("\n".join(lines))
    if "--write-readme" in argv:
        replace_section(README, *SECTION, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
