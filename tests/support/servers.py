"""Real torchdash servers on loopback for the tests, and the processes they leave."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import Run
from tests.support.paths import ROOT
from tests.support.waiting import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn_server(
    settings: Settings, port: int, log_name: str = "server.log", cwd: Path = ROOT, **env: str
) -> subprocess.Popen[bytes]:
    """Start `python -m app serve` on loopback for `settings`' home; `env` adds variables.

    `cwd` is where `app` is imported from (another checkout of torchdash, say)."""
    full_env = {
        **os.environ,
        "TORCHDASH_HOME": str(settings.home_dir),
        "TORCHDASH_DATA_ROOTS": ",".join(map(str, settings.allowed_data_roots)),
        "TORCHDASH_PORT": str(port),
        "TORCHDASH_DISPATCH_INTERVAL": "0.1",
        **({"TORCHDASH_DATABASE_URL": settings.database_url} if settings.database_url else {}),
        **env,
    }
    with open(settings.home_dir / log_name, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=cwd, env=full_env, stdout=log, stderr=log
        )


def wait_for_server(base: str, timeout: float = 30) -> None:
    wait_until(lambda: _answers(base), timeout=timeout, what="the server to answer /healthz")


@contextmanager
def serving(settings: Settings, timeout: float = 30, **env: str) -> Iterator[str]:
    """A real server process on loopback for `settings` (`env` adds variables), answering
    within `timeout` seconds; stopped with its workers afterwards."""
    port = free_port()
    server = spawn_server(settings, port, **env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base), timeout=timeout, what="the server to answer /healthz")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop_workers(settings: Settings) -> None:
    """Workers outlive the server on purpose; a test must not leave them behind."""
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        handles = session.scalars(
            select(Run.worker_handle).where(Run.worker_handle.is_not(None))
        ).all()
    engine.dispose()
    # The local executor's handle is the worker's pid (a Ray job's name is Ray's to stop).
    for pid in (int(handle) for handle in handles if handle.isdigit()):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def process_gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie, dead but not reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")
