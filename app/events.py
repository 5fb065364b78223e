"""The live event stream of a run: what changed since a client's cursor, as SSE events.

Each connection polls the database for rows past its cursor (indexed range scans, O(new rows))
and for a change of the run row. Events: `run` (the run, on any change), `epoch` (one epoch row),
`steps` (a list of step rows). The SSE id is the cursor, so a reconnecting EventSource resumes
without duplicates.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import anyio
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.db import session_scope
from app.runs import get_run
from app.schemas import EpochPublic, RunPublic, StepPublic

MAX_STEPS_PER_EVENT = 5000


@dataclass
class Cursor:
    epoch: int = 0
    step: int = 0
    run_version: datetime | None = None  # the run row's updated_at last sent

    @property
    def event_id(self) -> str:
        return f"{self.epoch}:{self.step}"

    @classmethod
    def parse(cls, last_event_id: str | None, since_epoch: int, since_step: int) -> Cursor:
        """The client's position: its Last-Event-ID on a reconnect, else the query."""
        if last_event_id:
            epoch, _, step = last_event_id.partition(":")
            if epoch.isdigit() and step.isdigit():
                return cls(int(epoch), int(step))
        return cls(since_epoch, since_step)


def poll_events(session: Session, run_id: int, cursor: Cursor) -> list[dict[str, str]]:
    """The events past `cursor`, advancing it."""
    events: list[dict[str, str]] = []
    run = get_run(session, run_id)
    if run.updated_at != cursor.run_version:  # the run first: a new client learns its state
        cursor.run_version = run.updated_at
        events.append(_event("run", RunPublic.of(run).model_dump(mode="json"), cursor))
    for row in metrics.read_epochs(session, run_id, cursor.epoch):
        cursor.epoch = row.epoch
        events.append(_event("epoch", EpochPublic.model_validate(row).model_dump(), cursor))
    steps = metrics.read_steps(session, run_id, cursor.step, limit=MAX_STEPS_PER_EVENT)
    if steps:
        cursor.step = steps[-1].step
        rows = [StepPublic.model_validate(row).model_dump() for row in steps]
        events.append(_event("steps", rows, cursor))
    return events


def _event(name: str, data: object, cursor: Cursor) -> dict[str, str]:
    return {"event": name, "id": cursor.event_id, "data": json.dumps(data)}


async def event_stream(
    factory: sessionmaker[Session], run_id: int, cursor: Cursor, interval: float
) -> AsyncIterator[dict[str, str]]:
    """Poll for new events every `interval` seconds until the client goes away."""

    def poll() -> list[dict[str, str]]:
        with session_scope(factory) as session:
            return poll_events(session, run_id, cursor)

    while True:
        for event in await anyio.to_thread.run_sync(poll):
            yield event
        await anyio.sleep(interval)
