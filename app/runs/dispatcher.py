"""The dispatcher: claims queued runs in queue order (app/runs/queue.py) for the GPUs or CPU slot
the allocator gives them, settles runs whose worker ended without a word, and ends runs trained
elsewhere that stopped reporting (app/runs/external.py).

It runs as a thread of the server. Which GPUs a run gets is the allocator's business
(`app/runs/placement.py`), rebuilt at every tick from the database, or on a Ray cluster the
cluster allocator's, built from the nodes' free resources (`app/runs/cluster_placement.py`);
where and how a worker starts is the executor's (`app/runs/executors/`). The claim is a guarded
transition to `running` that also records `assigned_gpus` (and counts the `attempt`) before the
start, so a run is never started twice nor two runs on one GPU, and the executor's handle for the
worker is stored on the run for the next server to adopt.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.errors import ConflictError
from app.hardware.inventory import Gpu, gpu_inventory
from app.runs import external
from app.runs.executors.interface import Executor
from app.runs.placement import Allocator, Decision, Held
from app.runs.queue import queued_in_order
from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import session_scope
from app.storage.tables import Run, RunStatus

logger = logging.getLogger("torchdash.dispatcher")

# Queued runs looked at per tick, in queue order (a run further back waits for a later tick).
QUEUED_PER_TICK = 500


class Dispatcher:
    """Claims queued runs for free slots, and settles runs whose worker ended without a word."""

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        executor: Executor,
        gpus: list[Gpu] | None = None,
        interval: float | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.executor = executor
        # The GPU set (TORCHDASH_GPUS, else NVML's), read once: it does not change under a server.
        gpus = gpu_inventory(settings.gpus) if gpus is None else gpus
        self.gpus = {gpu.index: gpu for gpu in gpus}
        self.allocator = Allocator(self.gpus, settings.max_concurrent_runs)
        # Seconds between looks when nothing woke it: slower where notifications wake it.
        self.interval = settings.dispatch_interval if interval is None else interval
        # A watched worker whose run has ended is exiting: its slot frees with no notification,
        # so the dispatcher looks at the fast interval until it is reaped.
        self._exiting = False
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
        """Look for work now rather than at the next tick (a run was queued or ended)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end dispatching for good
                logger.exception("dispatcher tick failed")
            self._wake.wait(self.settings.dispatch_interval if self._exiting else self.interval)
            self._wake.clear()

    def recover(self) -> None:
        """At start-up: adopt running runs whose worker still lives, interrupt the rest."""
        with session_scope(self.factory) as session:
            running = session.execute(
                select(Run.id, Run.worker_handle).where(
                    Run.status == RunStatus.RUNNING.value, Run.kind != external.KIND
                )  # a run trained elsewhere has no worker here: its reports keep it alive
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
        placed = self.executor.placed()
        # A cluster places on its nodes' free resources; this machine, on its GPU set.
        allocator = self.executor.cluster_placement() or self.allocator
        with session_scope(self.factory) as session:
            for run_id in external.interrupt_silent_runs(
                session, self.settings.external_timeout_seconds
            ):
                logger.warning("run %s: trained elsewhere, and silent too long", run_id)
            for run_id, node in placed.items():
                session.execute(update(Run).where(Run.id == run_id).values(node=node))
            stopping = session.scalars(
                select(Run.id).where(
                    Run.status == RunStatus.RUNNING.value,
                    Run.stop_requested,
                    Run.kind != external.KIND,  # told by the answer to its next report
                )
            ).all()
            held = self.held(session)
            queued = session.execute(
                queued_in_order().add_columns(Run.config, Run.waiting_reason).limit(QUEUED_PER_TICK)
            ).all()
            room = allocator.room(held)
            reasons = {run_id: reason for run_id, _, reason in queued}
            decisions = allocator.plan([(r, config) for r, config, _ in queued], held)
            for decision in decisions:
                if decision.impossible is not None:
                    self._refuse(session, decision)
                elif decision.waiting_reason != reasons[decision.run_id] and not decision.starts:
                    # Written only when it changes: a long queue costs no write per tick.
                    session.execute(
                        update(Run)
                        .where(Run.id == decision.run_id, Run.status == RunStatus.QUEUED.value)
                        .values(waiting_reason=decision.waiting_reason)
                    )
        self.executor.stop_unanswered(set(stopping))
        self.executor.keep_warm(room)
        for decision in decisions:
            if decision.starts:
                self._launch(decision)

    def held(self, session: Session) -> list[Held]:
        """What runs hold now, from the database: every running run, and every run whose worker
        the executor still watches (one that wrote its final status may still be exiting)."""
        watched = self.executor.watched()
        rows = session.execute(
            select(Run.id, Run.assigned_gpus, Run.status).where(
                ((Run.status == RunStatus.RUNNING.value) & (Run.kind != external.KIND))
                | Run.id.in_(watched)
            )  # a run trained elsewhere holds no slot here
        ).all()
        self._exiting = any(status != RunStatus.RUNNING.value for _, _, status in rows)
        return [Held(run_id, tuple(int(gpu) for gpu in gpus or [])) for run_id, gpus, _ in rows]

    def _refuse(self, session: Session, decision: Decision) -> None:
        """A queued run this server can never place (its GPU left the set): fail it, saying why."""
        try:
            transition(
                session,
                decision.run_id,
                RunStatus.FAILED,
                allowed_from=[RunStatus.QUEUED],
                error=decision.impossible,
            )
        except ConflictError:
            return  # cancelled meanwhile
        logger.warning("run %s: %s", decision.run_id, decision.impossible)

    def _launch(self, decision: Decision) -> None:
        run_id, gpus = decision.run_id, decision.gpus
        with session_scope(self.factory) as session:
            try:
                transition(
                    session,
                    run_id,
                    RunStatus.RUNNING,
                    progress_batch=0,
                    assigned_gpus=[str(gpu) for gpu in gpus],
                    attempt=Run.attempt + 1,
                    node=None,
                )
            except ConflictError:
                return  # cancelled meanwhile
            attempt, created_at = session.execute(
                select(Run.attempt, Run.created_at).where(Run.id == run_id)
            ).one()
        try:
            handle = self.executor.start(
                run_id,
                [self.gpus[gpu] for gpu in gpus],
                gpu_count=decision.gpu_count,
                attempt=attempt,
                run_created_at=created_at,
            )
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
        if gpus:
            on = f"GPUs {', '.join(map(str, gpus))}"
        else:
            on = f"{decision.gpu_count} GPU(s) of the cluster" if decision.gpu_count else "a CPU"
        logger.info("run %s: worker %s started on %s", run_id, handle, on)

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
