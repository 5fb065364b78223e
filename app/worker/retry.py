"""A worker's writes outlive a database restart: each is one transaction, retried while the
server is unreachable.

A transaction that failed wrote nothing, but one whose COMMIT reached the server and whose
answer was lost did: the retry runs the same write again, so every write passed here is written
to be idempotent (rows replaced or skipped when already there, the final status left as it is
when already set).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.runs.state_machine import transition
from app.storage.engine import session_scope
from app.storage.notifications import notify_run
from app.storage.tables import Run, RunStatus
from app.worker.console import log

# Waits between attempts, doubling from the first to the last, for up to RETRY_SECONDS in all
# (a PostgreSQL restart takes a few seconds).
RETRY_DELAYS = (0.1, 2.0)
RETRY_SECONDS = 60.0


def write_retrying(
    factory: sessionmaker[Session], run_id: int, write: Callable[[Session], None]
) -> None:
    """`write` in one transaction with its NOTIFY of `run_id` (PostgreSQL), retried while the
    database is unreachable. Other errors are raised at once."""
    delay, deadline = RETRY_DELAYS[0], time.monotonic() + RETRY_SECONDS
    while True:
        try:
            with session_scope(factory) as session:
                write(session)
                notify_run(session, run_id)
            return
        except OperationalError as error:
            if time.monotonic() + delay > deadline:
                raise
            log(f"database unreachable ({type(error.orig).__name__}); retrying in {delay} s")
            time.sleep(delay)
            delay = min(delay * 2, RETRY_DELAYS[1])


def write_final_status(
    factory: sessionmaker[Session],
    run_id: int,
    status: RunStatus,
    error: str | None,
    **values: Any,
) -> None:
    """Write the run's final status (`running` -> `status`), retried like every other write: a
    database restart at this moment must not leave the run to be settled as `interrupted`."""
    log(f"run {run_id} {status.value}" + (f": {error}" if error else ""))

    def write(session: Session) -> None:
        # Only its worker ends a running run: a run already in `status` is this very write,
        # committed by an attempt whose acknowledgement was lost.
        if session.scalar(select(Run.status).where(Run.id == run_id)) == status.value:
            return
        transition(session, run_id, status, allowed_from=[RunStatus.RUNNING], error=error, **values)

    write_retrying(factory, run_id, write)
