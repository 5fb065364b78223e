"""Every operation in /openapi.json, fuzzed with schemathesis: no 5xx, no undocumented status,
no answer that does not match its schema.

The server is the real app served by uvicorn on loopback (in a thread of this process), with
its dispatcher off: generated configs are queued, cancelled, resumed, forked and deleted, but
never trained, so a fuzzed `max_epochs: 100000` costs nothing and the run stays bounded. Real
workers train runs in tests/system/test_cli.py against a spawned server. One run here was trained
for real before the fuzzing, so routes that read checkpoints, logs, the evaluation and its images
have something to serve.

Three ways in, each bounded by a constant here:
- every operation with bodies and parameters built from its schemas (valid by the schema);
- every operation with negative data (schemathesis's negative mode: a wrong type, a missing
  required field, a value out of its bounds): each must be refused with a documented 4xx;
- chains that follow the document's OpenAPI links (app/web/openapi_document.py): create a run
  (or a study), then read, edit, cancel, resume, fork, delete it, read its metrics, log and
  checkpoints, in orders Hypothesis picks.

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
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode

from app.main import create_app
from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import RunStatus
from tests.support.runs import TINY_CONFIG
from tests.support.servers import free_port
from tests.support.waiting import wait_until

CHECKS = ["not_a_server_error", "status_code_conformance", "response_schema_conformance"]
# The cost knobs: cases per operation and mode, chains and their length.
POSITIVE_EXAMPLES = 10
NEGATIVE_EXAMPLES = 1
CHAINS = 20
CHAIN_STEPS = 6
# The bodies a chain starts from. A schema-built run config is almost never accepted (it must
# also pass the cross-field checks: data and model kinds that fit, files that exist), and the
# two per-operation tests fuzz those bodies already; a chain needs the run or study made.
CHAIN_ROOTS: dict[tuple[str, str], dict] = {
    ("POST", "/api/runs"): {**TINY_CONFIG, "max_epochs": 1},
    ("POST", "/api/studies"): {
        "config": TINY_CONFIG,
        "space": [{"field": "optimizer.lr", "type": "choice", "choices": [0.01, 0.001]}],
    },
}


@pytest.fixture(scope="module")
def fuzz_base(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    (home / "data").mkdir(parents=True)
    # A preflight of a valid generated config starts a real worker; a quarter of a second is
    # far shorter than its torch import, so each answers at once with the documented 422
    # (preflight_timeout), and the worker is killed before it costs much CPU (at 2 s, each
    # case's worker imported torch meanwhile: the preflight was the slowest operation here).
    # tests/system/test_preflight.py checks real answers.
    config = Settings(
        home=home,
        data_roots=[home / "data"],
        warm_workers=0,
        preflight_seconds=0.25,
        database_url=module_database_url,
    )
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


def _load_schema(mode: GenerationMode) -> schemathesis.BaseSchema:
    """The app's /openapi.json, read at collection time (schemathesis needs it to make one test
    per operation; its lazy `from_fixture` does not run under pytest 9)."""
    home = Path(tempfile.mkdtemp(prefix="torchdash-openapi-"))
    try:
        document = create_app(Settings(home=home), dispatch=False).openapi()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.config.generation.update(modes=[mode])
    return loaded


schema = _load_schema(GenerationMode.POSITIVE)
negative_schema = _load_schema(GenerationMode.NEGATIVE)


def _streams_events(case: schemathesis.Case) -> bool:
    ok = case.operation.definition.raw.get("responses", {}).get("200", {})
    return "text/event-stream" in ok.get("content", {})


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same cases every run: a failure here is reproducible
    )


@schema.parametrize()
@_settings(POSITIVE_EXAMPLES)
def test_every_operation_answers_within_its_contract(
    case: schemathesis.Case, fuzz_base: str
) -> None:
    _call_and_check(case, fuzz_base)


@negative_schema.parametrize()
@_settings(NEGATIVE_EXAMPLES)
def test_every_operation_refuses_negative_data_within_its_contract(
    case: schemathesis.Case, fuzz_base: str
) -> None:
    # The checks fail the test on a 5xx or a status the operation does not document.
    _call_and_check(case, fuzz_base)


def test_linked_operations_answer_within_their_contract(fuzz_base: str) -> None:
    """Chains along the OpenAPI links: each step acts on a run or study an earlier one made."""
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    # An event stream never ends: the per-operation tests read its head.
    machine = schema.exclude(path_regex=r"/events$").as_state_machine()

    class Chains(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case: schemathesis.Case) -> None:
            root = CHAIN_ROOTS.get((case.method.upper(), case.operation.path))
            if root is not None:
                case.body = root

        def get_call_kwargs(self, case: schemathesis.Case) -> dict:
            return {"base_url": fuzz_base, "timeout": 30}

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case,
            additional_checks: object = None,
            **kwargs: object,
        ) -> None:
            case.validate_response(response, checks=checks, transport_kwargs=kwargs or None)

    Chains.run(
        settings=settings(
            max_examples=CHAINS,
            stateful_step_count=CHAIN_STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            phases=[Phase.generate],
        )
    )


def _call_and_check(case: schemathesis.Case, fuzz_base: str) -> None:
    """Send the case and check its answer (an event stream's 200: its head only)."""
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
