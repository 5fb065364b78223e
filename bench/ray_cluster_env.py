"""What the Ray benches share: a real Ray cluster and PostgreSQL on this machine, the settings of
a server on the Ray executor, and the timestamps read from outside a worker (/proc, log files).

The cluster is the tests' (tests/support/ray_cluster.py): a head and one more node on this host,
2 CPUs and 2 logical GPUs each, the dashboard (the Jobs API) on 127.0.0.1. The database is the
tests' throw-away PostgreSQL (tests/support/postgres_server.py): workers on a cluster need a
database server.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tests.support.postgres_server import PostgresServer, unavailable_reason
from tests.support.ray_cluster import RayTestCluster

# A worker's own log line (app/worker/console.py): seconds, no milliseconds, which Ray's have.
WORKER_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", re.M)
T = TypeVar("T")
FIRST_STEP = re.compile(r"first step reported at (\d+\.\d+)")


def missing() -> str | None:
    """Why the Ray benches cannot run here, or None."""
    try:
        import ray.job_submission  # noqa: F401
    except ImportError:
        return "ray[default] is not installed"
    return unavailable_reason()


@contextmanager
def cluster_and_postgres() -> Iterator[tuple[RayTestCluster, PostgresServer]]:
    """A started Ray cluster and PostgreSQL server, both stopped afterwards."""
    postgres = PostgresServer().start()
    cluster = None
    try:
        cluster = RayTestCluster(nodes=2).start()
        yield cluster, postgres
    finally:
        if cluster is not None:
            cluster.stop()
        postgres.stop()


def ray_server_settings(cluster: RayTestCluster, database_url: str) -> dict[str, str]:
    """`bench.live_server.serve` settings of a server on the Ray executor (defaults otherwise)."""
    return {"executor": "ray", "ray_address": cluster.address, "database_url": database_url}


def session_logs(cluster: RayTestCluster) -> Path:
    """Ray's log folder, where a job's output goes to `job-driver-<job>.log` (the nodes share
    one session folder here)."""
    return Path(cluster.cluster.head_node.get_session_dir_path()) / "logs"


def epoch_of(stamp: str) -> float:
    """Epoch seconds of an ISO time from the API (naive means UTC, as torchdash stores it)."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def first_step_time(log: Path) -> float | None:
    text = log.read_text(errors="replace") if log.exists() else ""
    found = FIRST_STEP.search(text)
    return float(found[1]) if found else None


def has_worker_line(log: Path) -> bool:
    return log.exists() and WORKER_LINE.search(log.read_text(errors="replace")) is not None


def worker_pids(run_id: int, home: Path) -> list[int]:
    """The live `python -m app.worker RUN_ID` processes of the server on `home`."""
    wanted = ["-m", "app.worker", str(run_id)]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
            if argv[1:] != wanted:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if f"TORCHDASH_HOME={home}".encode() in environ:
            found.append(int(entry.name))
    return found


def process_started_at(pid: int) -> float:
    """Epoch seconds at which process `pid` started, to 10 ms: stat(5)'s start time counts
    clock ticks after boot; /proc/uptime says, in centiseconds, how long ago boot was (the
    whole-second `btime` of /proc/stat would add up to a second's error)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[19])  # field 22 of stat(5), counted after the command's ")"
    now, uptime = time.time(), float(Path("/proc/uptime").read_text().split()[0])
    return now - uptime + ticks / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f}/{five:.1f}/{fifteen:.1f}"


def wait_for(
    condition: Callable[[], T | None], timeout: float, what: str, every: float = 0.02
) -> T:
    """`condition()`'s first truthy value, looked at every `every` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
