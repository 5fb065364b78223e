"""Every operation in /openapi.json, fuzzed with schemathesis: no 5xx, no undocumented status,
no answer that does not match its schema.

The server is the real app served by uvicorn on loopback (in a thread of this process), with
its dispatcher off: generated configs are queued, cancelled, resumed, forked and deleted, but
never trained, so a fuzzed `max_epochs: 100000` costs nothing and the run stays bounded. Real
workers train runs in tests/system/test_cli.py against a spawned server. One run here was trained
for real before the fuzzing, so routes that read checkpoints, logs, the evaluation and its images
have something to serve.

Generic over the operations: a route another module adds is fuzzed without a change here.
Event streams never end, so for them the test reads the status and headers and closes.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from app.main import create_app
from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import RunStatus
from tests.support.runs import TINY_CONFIG
from tests.support.servers import free_port
from tests.support.waiting import wait_until

CHECKS = ["not_a_server_error", "status_code_conformance", "response_schema_conformance"]


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    (home / "data").mkdir(parents=True)
    # A preflight of a valid generated config starts a real worker; 2 s is shorter than its
    # torch import, so each answers at once with the documented 422 (preflight_timeout) instead
    # of training. tests/system/test_preflight.py checks real answers.
    config = Settings(home=home, data_roots=[home / "data"], warm_workers=0, preflight_seconds=2)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, dispatch=False),
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.config.port}"
    try:
        wait_until(lambda: server.started, timeout=30, what="the fuzzed server to start")
        _train_one_run(base, config)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _train_one_run(base: str, config: Settings) -> None:
    """Run 1: trained for real in this process, as a worker would, so it has files to serve."""
    from app.worker.execute import execute_run

    run = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "max_epochs": 1}).json()
    engine = make_engine(config.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        transition(session, run["id"], RunStatus.RUNNING)
    engine.dispose()
    assert execute_run(run["id"], config) == RunStatus.SUCCEEDED


def _load_schema() -> schemathesis.BaseSchema:
    """The app's /openapi.json, read at collection time (schemathesis needs it to make one test
    per operation; its lazy `from_fixture` does not run under pytest 9)."""
    home = Path(tempfile.mkdtemp(prefix="torchdash-openapi-"))
    try:
        document = create_app(Settings(home=home), dispatch=False).openapi()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return schemathesis.openapi.from_dict(document)


schema = _load_schema()


def _streams_events(case: schemathesis.Case) -> bool:
    ok = case.operation.definition.raw.get("responses", {}).get("200", {})
    return "text/event-stream" in ok.get("content", {})


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure here is reproducible
)
def test_every_operation_answers_within_its_contract(
    case: schemathesis.Case, fuzz_base: str
) -> None:
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    if not _streams_events(case):
        case.call_and_validate(base_url=fuzz_base, checks=checks, timeout=30)
        return
    kwargs = case.as_transport_kwargs(base_url=fuzz_base)
    with httpx.stream(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
        timeout=30,
    ) as response:
        if response.status_code == 200:  # an endless stream: its head is the contract
            assert response.headers["content-type"].startswith("text/event-stream")
            return
        response.read()
    case.validate_response(response, checks=checks)
