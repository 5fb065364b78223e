"""PostgreSQL's LISTEN/NOTIFY as a wake-up: for the event streams, "run N has new rows"; for
the dispatcher, "a run was queued or ended" (a slot may be free).

A worker's every write, and every status change, sends `NOTIFY torchdash_run, '<run id>'` in its
own transaction, so the notification is delivered when (and only if) the rows are committed. The
server keeps ONE listening connection, on a thread of its own, and hands each run id to a
callback (the event hub, which wakes that run's poller); on a channel of its own, the dispatcher
is woken the same way. A notification is only a hint: one sent while the listener reconnects is
lost, so the pollers still read by row id, and the dispatcher looks, at a slow interval.
SQLite has no such thing; there `notify_run` does nothing and no listener is started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

CHANNEL = "torchdash_run"
DISPATCH_CHANNEL = "torchdash_dispatch"
# The listener's wait for a notification, after which it looks whether it should stop.
WAIT_SECONDS = 1.0
# Its waits between attempts to reconnect: doubling from the first to the last.
RECONNECT_DELAYS = (0.1, 5.0)

logger = logging.getLogger(__name__)


def notify_run(session: Session, run_id: int) -> None:
    """Tell listeners that run `run_id` changed, when this transaction commits (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :payload)"),
                        {"channel": CHANNEL, "payload": str(run_id)})  # fmt: skip


def notify_dispatcher(session: Session) -> None:
    """Tell the dispatcher that a run was queued or ended, when this transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": DISPATCH_CHANNEL})


class RunListener:
    """A thread that LISTENs on one connection and calls `on_run(run_id)` for each notification
    of a run, `on_dispatch()` for each of the dispatcher's.

    It reconnects with backoff when the connection is lost (a server restart, say), and calls
    `on_reconnect()` once it listens again, so that the caller can look for what it missed.
    """

    def __init__(
        self,
        engine: Engine,
        on_run: Callable[[int], None],
        on_reconnect: Callable[[], None] = lambda: None,
        on_dispatch: Callable[[], None] = lambda: None,
    ) -> None:
        # psycopg's own URL: the SQLAlchemy one without the "+psycopg" driver name.
        self.conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self.on_run = on_run
        self.on_reconnect = on_reconnect
        self.on_dispatch = on_dispatch
        self.stopping = threading.Event()
        self.listening = threading.Event()  # set while a connection listens (for tests)
        self.thread = threading.Thread(target=self._run, name="run-listener", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=WAIT_SECONDS + 5)

    def _run(self) -> None:
        delay = RECONNECT_DELAYS[0]
        first = True
        while not self.stopping.is_set():
            try:
                self._listen(reconnected=not first)
            except Exception as error:  # the server went away: wait, then listen again
                if self.listening.is_set():  # it had listened: start the backoff afresh
                    delay = RECONNECT_DELAYS[0]
                logger.warning("run listener lost its connection (%s); retrying in %.1f s",
                               error, delay)  # fmt: skip
            finally:
                self.listening.clear()
            first = False
            if self.stopping.wait(delay):
                return
            delay = min(delay * 2, RECONNECT_DELAYS[1])

    def _listen(self, reconnected: bool) -> None:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            connection.execute(f"LISTEN {DISPATCH_CHANNEL}")
            self.listening.set()
            if reconnected:
                self.on_reconnect()
            while not self.stopping.is_set():
                for notification in connection.notifies(timeout=WAIT_SECONDS):
                    if notification.channel == DISPATCH_CHANNEL:
                        self.on_dispatch()
                    elif notification.payload.isdigit():
                        self.on_run(int(notification.payload))
