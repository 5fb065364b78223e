"""The dispatcher: claims queued runs in queue order (app/runs/queue.py) while its executor has
room, and settles runs whose worker ended without a word.

It runs as a thread of the server. Where and how a worker starts is the executor's business
(`app/runs/executors/`); the claim is a guarded transition to `running` before the start, so a
run is never started twice, and the executor's handle for the worker is stored on the run for
the next server to adopt.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.errors import ConflictError
from app.runs.executors.interface import Executor
from app.runs.queue import queued_in_order
from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import session_scope
from app.storage.models import Run, RunStatus

logger = logging.getLogger("torchdash.dispatcher")


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
                select(Run.id, Run.worker_handle).where(Run.status == RunStatus.RUNNING.value)
            ).all()
            for run_id, handle in running:
                if handle is not None and self.executor.adopt(run_id, handle):
                    logger.info("run %s: adopted its live worker %s", run_id, handle)
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
                self._settle(session, exited.run_id, exited.outcome, exited.reason)
        self.executor.keep_warm()
        free = self.executor.free_slots()
        if free <= 0:
            return
        with session_scope(self.factory) as session:
            queued = session.scalars(queued_in_order().limit(free)).all()
        for run_id in queued:
            self._launch(run_id)

    def _launch(self, run_id: int) -> None:
        with session_scope(self.factory) as session:
            try:
                transition(session, run_id, RunStatus.RUNNING, progress_batch=0)
            except ConflictError:
                return  # cancelled meanwhile
        try:
            handle = self.executor.start(run_id)
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
                .values(worker_handle=handle)
            )
        logger.info("run %s: worker %s started", run_id, handle)

    def _settle(self, session: Session, run_id: int, target: RunStatus, reason: str) -> None:
        """A worker is gone; if its run still says running, say why it stopped."""
        status = session.scalar(select(Run.status).where(Run.id == run_id))
        if status != RunStatus.RUNNING:
            # The worker wrote its own final status. One started by a torchdash older than the
            # worker handle cleared only `worker_pid`: let go of its handle here.
            session.execute(
                update(Run)
                .where(Run.id == run_id, Run.status != RunStatus.RUNNING.value)
                .values(worker_handle=None)
            )
            return
        transition(session, run_id, target, allowed_from=[RunStatus.RUNNING], error=reason)
        logger.warning("run %s: %s", run_id, reason)
