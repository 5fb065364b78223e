"""The dispatcher: claims queued runs, one per free slot, and starts a worker for each.

It runs as a thread of the server. Placement sits behind `Executor`, so a cluster engine (Ray is
the planned one) can replace `LocalProcessExecutor` without touching the claiming logic.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.errors import ConflictError
from app.models import Run, RunStatus
from app.runs import transition
from app.settings import Settings
from app.warm_pool import WarmPool
from app.warm_worker import WARM_FLAG

logger = logging.getLogger("torchdash.dispatcher")


@dataclass(frozen=True)
class Exited:
    """A worker that is gone: its exit code, or the signal that killed it."""

    run_id: int
    returncode: int | None  # None when the worker was adopted and its code is unknown


class Executor(Protocol):
    """Where workers run."""

    def start(self, run_id: int) -> int:
        """Start a worker for a claimed run; return its process id."""
        ...

    def adopt(self, run_id: int, pid: int) -> bool:
        """Watch a worker started by an earlier server; False when it is gone."""
        ...

    def reap(self) -> list[Exited]:
        """Workers that ended since the last call."""
        ...

    def active(self) -> int:
        """Workers still running."""
        ...

    def keep_warm(self) -> None:
        """Have workers ready ahead of the next start, where the executor has such a thing."""
        ...

    def close(self) -> None:
        """Let go of workers that have no run yet (the server stops)."""
        ...


class LocalProcessExecutor:
    """One OS process per run on this machine: `python -m app.worker RUN_ID`, or a warm worker.

    With `warm_workers` > 0, up to that many workers wait with torch imported (`app.worker
    --warm`), as long as a run slot is free for them; a claimed run goes to one of them.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.adopted: dict[int, int] = {}
        self.warm = WarmPool(settings.warm_workers, self._spawn_warm)

    def keep_warm(self) -> None:
        self.warm.fill(free_slots=self.settings.max_concurrent_runs - self.active())

    def close(self) -> None:
        self.warm.close()

    def start(self, run_id: int) -> int:
        log_path = self.settings.worker_log(run_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        process = self.warm.hand_over(run_id) or self._spawn(
            str(run_id), log_path, stdin=subprocess.DEVNULL
        )
        self.processes[run_id] = process
        return process.pid

    def _spawn_warm(self) -> subprocess.Popen[bytes]:
        log_path = self.settings.warm_worker_log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        return self._spawn(WARM_FLAG, log_path, stdin=subprocess.PIPE)

    def _spawn(self, argument: str, log_path: Path, stdin: int) -> subprocess.Popen[bytes]:
        """`python -m app.worker ARGUMENT`, its output appended to `log_path`."""
        env = {
            **os.environ,
            # The worker reads the same settings, made absolute so its working folder can't matter.
            "TORCHDASH_HOME": str(self.settings.home_dir),
            "TORCHDASH_DATABASE_URL": self.settings.sqlalchemy_url,
            "TORCHDASH_DATA_ROOTS": ",".join(map(str, self.settings.allowed_data_roots)),
            "PYTHONUNBUFFERED": "1",
        }
        python = self.settings.worker_python or sys.executable
        with open(log_path, "ab") as log_file:
            return subprocess.Popen(
                [python, "-m", "app.worker", argument],
                env=env,
                stdin=stdin,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C on the server does not kill the runs it started.
                start_new_session=True,
            )

    def adopt(self, run_id: int, pid: int) -> bool:
        if not _is_worker_of(pid, run_id, self.settings.worker_log(run_id)):
            return False
        self.adopted[run_id] = pid
        return True

    def reap(self) -> list[Exited]:
        exited = []
        for run_id, process in list(self.processes.items()):
            code = process.poll()
            if code is not None:
                del self.processes[run_id]
                exited.append(Exited(run_id, code))
        for run_id, pid in list(self.adopted.items()):
            if not _is_worker_of(pid, run_id, self.settings.worker_log(run_id)):
                del self.adopted[run_id]
                exited.append(Exited(run_id, None))
        return exited

    def active(self) -> int:
        return len(self.processes) + len(self.adopted)


def _is_worker_of(pid: int, run_id: int, log_path: Path) -> bool:
    """True while `pid` is a live worker of run `run_id`.

    A signal-0 probe alone is fooled twice: by a zombie (a killed worker whose new parent does not
    reap it, as in some containers) and by a reused pid after a reboot. Where /proc exists, the
    process must be running (not Z or X) and its command line must be `app.worker RUN_ID`, or
    `app.worker --warm` with its output going to the run's log (`log_path`): a warm worker's
    command line was written before it had a run, its stdout is moved to the log once it has one.
    """
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        return _alive(pid)
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    if argv[-3:-1] == [b"app.worker", str(run_id).encode()]:
        return True
    return argv[-3:-1] == [b"app.worker", WARM_FLAG.encode()] and _writes_to(pid, log_path)


def _writes_to(pid: int, path: Path) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/fd/1") == str(path)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Dispatcher:
    """Claims queued runs for free slots, and settles runs whose worker ended without a word."""

    def __init__(
        self, settings: Settings, factory: sessionmaker[Session], executor: Executor
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.executor = executor
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop dispatching. Running workers go on; the next server adopts them."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.executor.close()

    def wake(self) -> None:
        """Look for work now rather than at the next tick (a run was queued)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end dispatching for good
                logger.exception("dispatcher tick failed")
            self._wake.wait(self.settings.dispatch_interval)
            self._wake.clear()

    def recover(self) -> None:
        """At start-up: adopt running runs whose worker still lives, interrupt the rest."""
        with session_scope(self.factory) as session:
            running = session.execute(
                select(Run.id, Run.worker_pid).where(Run.status == RunStatus.RUNNING.value)
            ).all()
            for run_id, pid in running:
                if pid is not None and self.executor.adopt(run_id, pid):
                    logger.info("run %s: adopted its live worker %s", run_id, pid)
                    continue
                self._settle(
                    session,
                    run_id,
                    RunStatus.INTERRUPTED,
                    "worker lost: the server restarted without it",
                )

    def tick(self) -> None:
        for exited in self.executor.reap():
            with session_scope(self.factory) as session:
                self._settle(session, exited.run_id, *_describe_exit(exited))
        self.executor.keep_warm()
        free = self.settings.max_concurrent_runs - self.executor.active()
        if free <= 0:
            return
        with session_scope(self.factory) as session:
            queued = session.scalars(
                select(Run.id)
                .where(Run.status == RunStatus.QUEUED.value)
                .order_by(Run.id)
                .limit(free)
            ).all()
        for run_id in queued:
            self._launch(run_id)

    def _launch(self, run_id: int) -> None:
        with session_scope(self.factory) as session:
            try:
                transition(session, run_id, RunStatus.RUNNING, progress_batch=0)
            except ConflictError:
                return  # cancelled meanwhile
        try:
            pid = self.executor.start(run_id)
        except OSError as error:
            with session_scope(self.factory) as session:
                transition(
                    session, run_id, RunStatus.FAILED, error=f"could not start a worker: {error}"
                )
            return
        with session_scope(self.factory) as session:
            session.execute(
                update(Run)
                .where(Run.id == run_id, Run.status == RunStatus.RUNNING.value)
                .values(worker_pid=pid)
            )
        logger.info("run %s: worker %s started", run_id, pid)

    def _settle(self, session: Session, run_id: int, target: RunStatus, reason: str) -> None:
        """A worker is gone; if its run still says running, say why it stopped."""
        status = session.scalar(select(Run.status).where(Run.id == run_id))
        if status != RunStatus.RUNNING:
            return  # the worker wrote its own final status
        transition(session, run_id, target, allowed_from=[RunStatus.RUNNING], error=reason)
        logger.warning("run %s: %s", run_id, reason)


def _describe_exit(exited: Exited) -> tuple[RunStatus, str]:
    """A worker lost to the outside (a signal, an unknown end) interrupts its run; a crash fails."""
    if exited.returncode is None:
        return RunStatus.INTERRUPTED, "worker lost: its process ended without a final status"
    if exited.returncode < 0:
        name = signal.Signals(-exited.returncode).name
        return RunStatus.INTERRUPTED, f"worker killed by signal {name}"
    return (
        RunStatus.FAILED,
        f"worker exited with code {exited.returncode} without a final status; see worker.log",
    )
