"""A worker's writes on PostgreSQL at the edges: a server restart at the final status write, a
commit whose acknowledgement was lost and is retried, and the notifications that wake the
dispatcher and the event streams (system metric rows included)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.runs.lifecycle import create_run
from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.notifications import RunListener
from app.storage.tables import EpochMetric, Run, RunStatus, StepMetric
from app.worker import retry
from app.worker.reporter import DatabaseReporter
from app.worker.retry import write_final_status
from app.worker.system_sampler import SystemSampler
from tests.support.postgres_server import PostgresServer
from tests.support.runs import TINY_CONFIG
from tests.support.servers import free_port, spawn_server, stop_workers, wait_for_server
from tests.support.waiting import wait_for_status, wait_until
from trainer.callbacks import EpochReport, StepReport
from trainer.config import RunConfig


def running_run(factory: sessionmaker[Session]) -> int:
    """A run as the dispatcher leaves it for its worker: claimed, `running`."""
    with session_scope(factory) as session:
        run_id = create_run(session, RunConfig()).id
    with session_scope(factory) as session:
        transition(session, run_id, RunStatus.RUNNING)
    return run_id


def run_status(factory: sessionmaker[Session], run_id: int) -> tuple[str, str | None]:
    with session_scope(factory) as session:
        row = session.execute(select(Run.status, Run.error).where(Run.id == run_id)).one()
        return row.status, row.error


class AnswerLosingSession(Session):
    """A session whose commit reaches the server, then raises as a dropped connection would,
    while `losses` holds a token: the seam of an acknowledgement lost on the way back."""

    losses: list[int] = []
    lost: list[int] = []

    def commit(self) -> None:
        super().commit()
        if self.losses:
            self.lost.append(self.losses.pop())
            raise OperationalError("COMMIT", None, ConnectionResetError("answer lost"))


def test_the_final_status_write_survives_a_postgresql_restart_at_that_moment(
    postgres_server: PostgresServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(postgres_url)
    factory = make_session_factory(engine)
    run_id = running_run(factory)
    waits: list[float] = []

    def wait_then_start_again(seconds: float) -> None:  # the server is back while it waits
        waits.append(seconds)
        postgres_server.resume()

    monkeypatch.setattr(retry.time, "sleep", wait_then_start_again)
    postgres_server.pause()  # down just before the worker's last write
    try:
        write_final_status(factory, run_id, RunStatus.SUCCEEDED, error=None)
    finally:
        if not waits:
            postgres_server.resume()
    assert len(waits) == 1  # it found the server down once, waited, and wrote
    assert run_status(factory, run_id) == ("succeeded", None)
    engine.dispose()


def test_a_retried_commit_after_a_lost_acknowledgement_writes_each_row_once(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)
    engine = make_engine(postgres_url)
    run_id = running_run(make_session_factory(engine))
    factory = sessionmaker(engine, class_=AnswerLosingSession, expire_on_commit=False)
    monkeypatch.setattr(AnswerLosingSession, "losses", [1])
    monkeypatch.setattr(AnswerLosingSession, "lost", [])
    reporter = DatabaseReporter(factory, run_id)
    for step in range(1, 24):  # one epoch: its steps and the epoch row in one transaction
        reporter.on_step(StepReport(step=step, epoch=1, batch=step, batches=23, loss=1 / step))
    reporter.on_epoch_end(
        EpochReport(epoch=1, train_loss=0.5, train_accuracy=None, val_loss=0.4,
                    val_accuracy=None, lr=0.1, seconds=1.0, monitor="val_loss",
                    monitor_value=0.4, metrics={"val_loss": 0.4})
    )  # fmt: skip
    reporter.flush()  # raises the write's error, were there one (a duplicate key)
    reporter.close()
    AnswerLosingSession.losses.append(2)
    write_final_status(factory, run_id, RunStatus.SUCCEEDED, error=None)

    assert AnswerLosingSession.lost == [1, 2]  # both commits were retried after a lost answer
    with session_scope(factory) as session:
        epochs = session.scalars(select(EpochMetric.epoch).where(EpochMetric.run_id == run_id))
        assert list(epochs) == [1]
        steps = session.scalars(
            select(StepMetric.step).where(StepMetric.run_id == run_id).order_by(StepMetric.step)
        )
        assert list(steps) == list(range(1, 24))
    assert run_status(factory, run_id) == ("succeeded", None)
    engine.dispose()


def test_a_system_metric_row_notifies_its_run(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    factory = make_session_factory(engine)
    run_id = running_run(factory)
    heard: list[int] = []
    listener = RunListener(engine, on_run=heard.append)
    listener.start()
    try:
        assert listener.listening.wait(10)
        heard.clear()  # only what the sample sends
        SystemSampler(factory, run_id, interval=3600, gpus=[]).sample_once()
        wait_until(lambda: run_id in heard, 10, "the system sample's notification")
    finally:
        listener.stop()
        engine.dispose()


def test_the_dispatcher_starts_a_queued_run_on_a_notification_alone(
    tmp_path: Path, postgres_url: str
) -> None:
    """With the dispatcher's fallback look an hour apart, a run queued by another process (here
    a row written straight into the database: nothing wakes the server's dispatcher in-process)
    starts: its NOTIFY, through the server's listener, woke the dispatcher."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    settings = Settings(home=home, data_roots=[home / "data"], database_url=postgres_url)
    port = free_port()
    server = spawn_server(
        settings, port, TORCHDASH_DATABASE_URL=postgres_url,
        TORCHDASH_NOTIFIED_DISPATCH_INTERVAL="3600",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    engine = make_engine(postgres_url)
    try:
        wait_for_server(base)
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, 30, "the server")
        with session_scope(make_session_factory(engine)) as session:
            run_id = create_run(session, RunConfig.model_validate(TINY_CONFIG)).id
        finished = wait_for_status(base, run_id, "succeeded", 180)
        assert finished["epoch"] == TINY_CONFIG["max_epochs"]
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)
        engine.dispose()
