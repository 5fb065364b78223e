"""The live event stream of a run: new rows since a client's cursor, as SSE events.

However many clients watch a run, one poller per run reads the database (indexed range scans,
O(new rows)) and hands each batch of new rows to every subscriber; each subscriber filters the
batch against its own cursor. A new client first catches up from its cursor with a query of its
own, then lives on the shared batches. Events: `run` (the run, on any change), `epoch` (one
epoch row), `steps` (a list of step rows), `system` (a list of system metric rows: CPU, memory,
GPUs; app/storage/system_metrics.py). The SSE id is the cursor, so a reconnecting EventSource
resumes without duplicates.

On PostgreSQL a poller also wakes when a worker's NOTIFY says its run changed (`EventHub.wake`,
called by app/storage/notifications.py's listener), so its own interval can be slow.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

import anyio
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import ServerSentEvent

from app.errors import NotFoundError
from app.runs.lifecycle import get_run
from app.runs.queue import Lanes, queue_outlook
from app.runs.state_machine import TERMINAL
from app.storage import metrics, system_metrics
from app.storage.engine import session_scope
from app.web.deps import header_number
from app.web.shapes import EpochPublic, RunPublic

MAX_STEPS_PER_READ = 5000
MAX_SYSTEM_ROWS_PER_READ = 5000

logger = logging.getLogger(__name__)


@dataclass
class Cursor:
    epoch: int = 0
    step: int = 0
    run_version: datetime | None = None  # the run row's updated_at last sent
    system: int = 0  # the last system metric row id sent

    @property
    def event_id(self) -> str:
        # Two parts until a system row was sent: the ids of runs without system rows stay as
        # they were before system metrics existed.
        if not self.system:
            return f"{self.epoch}:{self.step}"
        return f"{self.epoch}:{self.step}:{self.system}"

    @classmethod
    def parse(
        cls, last_event_id: str | None, since_epoch: int, since_step: int, since_system: int = 0
    ) -> Cursor:
        """The client's position: its Last-Event-ID on a reconnect, else the query."""
        if last_event_id:
            parts = last_event_id.split(":")
            if len(parts) == 2:  # an id sent before system rows existed
                parts.append("0")
            numbers = [number for number in map(header_number, parts) if number is not None]
            if len(parts) == 3 and len(numbers) == 3:
                epoch, step, system = numbers
                return cls(epoch, step, system=system)
        return cls(since_epoch, since_step, system=since_system)


@dataclass
class Batch:
    """What one read found: the run as it is now, and rows past the reader's cursor.

    It is encoded once for every client it goes to: each row is JSON-encoded when it is read, and
    the SSE bytes are built once per cursor position (clients in step with each other, the usual
    case, share them). Encoding per client cost a hundred watchers' server more CPU than the rest
    of the stream, and that CPU is taken from the training it reports (bench/live_latency.py).
    """

    run_version: datetime
    run: str  # JSON
    # The run had ended when read: its `run` event goes after the rows, not before, since a
    # client that stops at the final status (the CLI's --watch, Client.wait) must not miss them.
    run_ended: bool = False
    epochs: list[tuple[int, str]] = field(default_factory=list)  # (epoch, JSON), ascending
    steps: list[tuple[int, str]] = field(default_factory=list)  # (step, JSON), ascending
    system: list[tuple[int, str]] = field(default_factory=list)  # (row id, JSON), ascending
    _encoded: dict[tuple[datetime | None, int, int, int], tuple[bytes, Cursor]] = field(
        default_factory=dict
    )

    def sse_for(self, cursor: Cursor) -> bytes:
        """The SSE bytes of every event a client at `cursor` has not seen, advancing its cursor."""
        key = (cursor.run_version, cursor.epoch, cursor.step, cursor.system)
        if key not in self._encoded:
            after = Cursor(cursor.epoch, cursor.step, cursor.run_version, cursor.system)
            events = events_for(self, after)
            self._encoded[key] = (b"".join(ServerSentEvent(**e).encode() for e in events), after)
        chunk, after = self._encoded[key]
        cursor.epoch, cursor.step, cursor.run_version = after.epoch, after.step, after.run_version
        cursor.system = after.system
        return chunk


def read_batch(session: Session, run_id: int, cursor: Cursor, lanes: Lanes | int = 1) -> Batch:
    """The run and its rows past `cursor` (the cursor is not moved). A queued run carries its
    place in the queue and estimated start, as `GET /api/runs/{id}` gives them (`lanes`: the
    CPU slots and GPUs runs train on)."""
    run = get_run(session, run_id)
    spot = queue_outlook(session, lanes).get(run.id) if run.status == "queued" else None
    epochs = metrics.read_epochs(session, run_id, cursor.epoch)
    steps = metrics.read_steps(session, run_id, cursor.step, limit=MAX_STEPS_PER_READ)
    system = system_metrics.read_samples(
        session, run_id, cursor.system, limit=MAX_SYSTEM_ROWS_PER_READ
    )
    return Batch(
        run_version=run.updated_at,
        run=json.dumps(RunPublic.of(run, spot).model_dump(mode="json")),
        run_ended=run.status in TERMINAL,
        epochs=[
            (row.epoch, json.dumps(EpochPublic.model_validate(row).model_dump())) for row in epochs
        ],
        steps=[(row["step"], json.dumps(row)) for row in steps],
        system=[(row["id"], json.dumps(row)) for row in system],
    )


class SseEvent(TypedDict):
    """One Server-Sent Event, as `ServerSentEvent` takes it."""

    event: str
    id: str
    data: str


def events_for(batch: Batch, cursor: Cursor) -> list[SseEvent]:
    """The SSE events a client at `cursor` has not seen yet, advancing its cursor."""
    events: list[SseEvent] = []
    run_changed = batch.run_version != cursor.run_version
    if run_changed and not batch.run_ended:  # the run first: a new client learns its state
        cursor.run_version = batch.run_version
        events.append(_event("run", batch.run, cursor))
    for epoch, row in batch.epochs:
        if epoch > cursor.epoch:
            cursor.epoch = epoch
            events.append(_event("epoch", row, cursor))
    start = bisect.bisect_right(batch.steps, cursor.step, key=lambda row: row[0])
    if start < len(batch.steps):
        cursor.step = batch.steps[-1][0]
        rows = "[" + ",".join(row for _, row in batch.steps[start:]) + "]"
        events.append(_event("steps", rows, cursor))
    start = bisect.bisect_right(batch.system, cursor.system, key=lambda row: row[0])
    if start < len(batch.system):
        cursor.system = batch.system[-1][0]
        rows = "[" + ",".join(row for _, row in batch.system[start:]) + "]"
        events.append(_event("system", rows, cursor))
    if run_changed and batch.run_ended:  # an ended run: its last rows first, then its status
        cursor.run_version = batch.run_version
        events.append(_event("run", batch.run, cursor))
    return events


def _event(name: str, data: str, cursor: Cursor) -> SseEvent:
    return {"event": name, "id": cursor.event_id, "data": data}


class EventHub:
    """One database poller per watched run, fanning its batches out to every subscriber."""

    def __init__(
        self, factory: sessionmaker[Session], interval: float, lanes: Lanes | int = 1
    ) -> None:
        self.factory = factory
        self.interval = interval
        self.lanes = lanes  # what runs train on, for a queued run's estimated start
        self.subscribers: dict[int, set[asyncio.Queue[Batch | None]]] = {}
        self.pollers: dict[int, asyncio.Task[None]] = {}
        # PostgreSQL's notifications wake a poller before its interval is up (`wake`).
        self.wakeups: dict[int, asyncio.Event] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def wake(self, run_id: int) -> None:
        """Have the poller of `run_id` read now; safe to call from any thread."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._wake, run_id)

    def wake_all(self) -> None:
        """Have every poller read now (after notifications may have been missed)."""
        for run_id in list(self.wakeups):
            self.wake(run_id)

    def _wake(self, run_id: int) -> None:
        if (wakeup := self.wakeups.get(run_id)) is not None:
            wakeup.set()

    def _read(self, run_id: int, cursor: Cursor) -> Batch:
        with session_scope(self.factory) as session:
            return read_batch(session, run_id, cursor, self.lanes)

    async def stream(self, run_id: int, cursor: Cursor) -> AsyncIterator[bytes]:
        """Events for one client from `cursor` on, until it goes away or the run is deleted."""
        queue: asyncio.Queue[Batch | None] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        # Subscribe before catching up, so that no row falls between the two.
        self.subscribers.setdefault(run_id, set()).add(queue)
        if run_id not in self.pollers:
            head = Cursor(cursor.epoch, cursor.step, system=cursor.system)
            self.pollers[run_id] = asyncio.get_running_loop().create_task(self._poll(run_id, head))
        try:
            batch: Batch | None = await anyio.to_thread.run_sync(self._read, run_id, cursor)
            while batch is not None:
                chunk = batch.sse_for(cursor)
                if chunk:
                    yield chunk
                batch = await queue.get()
        finally:
            self.subscribers.get(run_id, set()).discard(queue)

    async def _poll(self, run_id: int, head: Cursor) -> None:
        """Read new rows for `run_id` while anyone watches it."""
        wakeup = self.wakeups.setdefault(run_id, asyncio.Event())
        try:
            while self.subscribers.get(run_id):
                wakeup.clear()  # before the read: a wake-up during it means read again
                try:
                    batch = await anyio.to_thread.run_sync(self._read, run_id, head)
                except NotFoundError:  # the run was deleted: end every stream on it
                    for queue in self.subscribers.get(run_id, ()):
                        queue.put_nowait(None)
                    return
                except OperationalError:  # the database is away (a restart): look again later
                    logger.warning("event poller of run %s could not read; retrying", run_id)
                    await anyio.sleep(self.interval)
                    continue
                if events_for(batch, head):  # moves the shared head past what was read
                    for queue in self.subscribers.get(run_id, ()):
                        queue.put_nowait(batch)
                if len(batch.steps) < MAX_STEPS_PER_READ:  # else more are waiting: read on now
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), self.interval)
        finally:
            # No await between the last check of the subscribers and this: no watcher is lost.
            del self.pollers[run_id]
            self.wakeups.pop(run_id, None)
            if not self.subscribers.get(run_id):
                self.subscribers.pop(run_id, None)
