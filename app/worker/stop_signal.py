"""The loop's cooperative stop: a signal to the worker, a cancel asked for through the API, or a
study's pruner."""

from __future__ import annotations

import signal
import time
from types import FrameType

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.storage.engine import session_scope
from app.storage.tables import Run

# How often the loop looks at the database for a cancel request.
STOP_POLL_SECONDS = 0.5


class StopSignal:
    """The loop's `should_stop`: true after SIGTERM/SIGINT or a cancel request in the database."""

    def __init__(self, factory: sessionmaker[Session], run_id: int) -> None:
        self.factory = factory
        self.run_id = run_id
        self.signal_name: str | None = None
        self.requested = False
        self.next_poll = 0.0
        # Set when a study's pruner stopped the trial: it ends as finished, with this reason.
        self.pruned: str | None = None

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name

    def prune(self, reason: str) -> None:
        """Stop at this epoch boundary: the study's pruner said so."""
        self.pruned = reason

    def __call__(self) -> bool:
        if self.signal_name or self.requested or self.pruned:
            return True
        now = time.monotonic()
        if now >= self.next_poll:  # throttled: a query every STOP_POLL_SECONDS, not every batch
            self.next_poll = now + STOP_POLL_SECONDS
            try:
                with session_scope(self.factory) as session:
                    self.requested = bool(
                        session.scalar(select(Run.stop_requested).where(Run.id == self.run_id))
                    )
            except OperationalError:  # the database is away (a restart): look again next time
                pass
        return self.requested

    def cancel_asked(self) -> bool:
        """Whether a cancel was asked for, looked up now (a signal may have come first: on the
        Ray executor a cancel the worker did not answer in time is followed by a SIGTERM)."""
        try:
            with session_scope(self.factory) as session:
                return bool(session.scalar(select(Run.stop_requested).where(Run.id == self.run_id)))
        except OperationalError:
            return self.requested
