"""Bodies and numbers a server must refuse cleanly: non-finite JSON numbers, broken JSON, and
offsets past what a file can address. Each is a 4xx naming what is wrong, never a 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.deps import FILE_OFFSET_MAX, SQL_INT_MAX, header_number
from app.web.log_stream import read_log_chunk
from tests.support.runs import TINY_CONFIG

JSON = {"content-type": "application/json"}
NOT_FINITE = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("number", NOT_FINITE)
@pytest.mark.parametrize("route", ["/api/runs", "/api/preflight"])
def test_a_non_finite_config_number_is_422_naming_the_field(
    client: TestClient, route: str, number: float
) -> None:
    config = {**TINY_CONFIG, "optimizer": {"kind": "adam", "lr": number}}
    response = client.post(route, content=json.dumps(config), headers=JSON)  # writes NaN
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "optimizer", "lr"]
    assert client.get("/api/runs").json()["count"] == 0


def test_a_non_finite_number_in_free_form_json_is_422_naming_it(
    client: TestClient, make_run
) -> None:
    run = make_run()
    bodies = [
        ("post", "/api/sweeps", {"config": TINY_CONFIG, "grid": {"optimizer.lr": [0.1, None]}}),
        ("post", f"/api/runs/{run['id']}/fork", {"epoch": 0, "overrides": {"lr": None}}),
        ("patch", f"/api/runs/{run['id']}", {"notes": None}),
        ("post", "/api/runs", {**TINY_CONFIG, "model": {"kind": "mlp", "args": {"w": None}}}),
    ]
    expected = [
        ["body", "grid", "optimizer.lr", 1],
        ["body", "overrides", "lr"],
        ["body", "notes"],
        ["body", "model", "args", "w"],
    ]
    for (method, url, body), location in zip(bodies, expected, strict=True):
        text = json.dumps(body).replace("null", "Infinity")
        response = client.request(method, url, content=text, headers=JSON)
        assert response.status_code == 422, url
        assert response.json()["detail"][0]["loc"] == location
    assert client.get("/api/runs").json()["count"] == 1  # the one made above, nothing more


def test_a_malformed_body_is_400_saying_where(client: TestClient) -> None:
    for body, where in (("{", "line 1 column 2"), ('{"name": "a",\n "lr": }', "line 2 column 8")):
        response = client.post("/api/runs", content=body, headers=JSON)
        assert response.status_code == 400
        assert "not valid JSON" in response.json()["detail"]
        assert where in response.json()["detail"]
    assert client.get("/api/runs").json()["count"] == 0


def test_every_json_body_route_documents_its_400(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    with_json = [
        operation
        for operations in paths.values()
        for operation in operations.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert len(with_json) >= 8
    assert all("400" in operation["responses"] for operation in with_json)


def test_a_log_offset_past_what_the_file_can_address_is_an_empty_page(
    client: TestClient, settings: Settings, make_run
) -> None:
    run_id = make_run()["id"]
    log = settings.worker_log(run_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("epoch 1\n")
    far = 2**63 - 2  # valid to the API, past any file system's largest file
    response = client.get(f"/api/runs/{run_id}/log", params={"offset": far})
    assert response.status_code == 200
    assert response.json() == {"text": "", "offset": far}
    assert read_log_chunk(log, far) == ("", far)  # what the event stream reads, too
    beyond = client.get(f"/api/runs/{run_id}/log", params={"offset": 2**63})
    assert beyond.status_code == 422
    assert beyond.json()["detail"][0]["loc"] == ["query", "offset"]


def test_a_stream_ignores_a_last_event_id_past_what_the_store_can_address(
    client: TestClient, settings: Settings, make_run
) -> None:
    run_id = make_run()["id"]
    log = settings.worker_log(run_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("epoch 1\n")
    far = str(2**64)
    streams = [
        (f"/api/runs/{run_id}/log/events", far),
        (f"/api/runs/{run_id}/events", f"{far}:0:0"),
    ]
    for url, last_event_id in streams:
        with client.stream("GET", url, headers={"Last-Event-ID": last_event_id}) as stream:
            assert stream.status_code == 200
            events = (line for line in stream.iter_lines() if line.startswith("event:"))
            assert next(events) in ("event: log", "event: run")  # from the query's position
    # What a server decodes from the byte 0xB2: a digit to `str.isdigit`, not to `int`.
    assert header_number("\u00b2") is None
    assert header_number(str(SQL_INT_MAX)) == SQL_INT_MAX
    assert header_number(str(SQL_INT_MAX + 1)) is None
    assert header_number(str(2**63 - 1), FILE_OFFSET_MAX) == 2**63 - 1  # a log's byte offset


def test_ids_and_cursors_past_what_both_databases_store_are_422(
    client: TestClient, make_run
) -> None:
    # PostgreSQL's `integer` columns end at 2**31 - 1, SQLite's at 2**63 - 1: the fuzz test, on
    # PostgreSQL, found these a 500 ("integer out of range") until the API was bounded by both.
    run_id = make_run()["id"]
    past = SQL_INT_MAX + 1
    for url, params in [
        (f"/api/runs/{past}", {}),
        (f"/api/runs/{run_id}/metrics", {"since_step": past}),
        (f"/api/runs/{run_id}/system", {"since": past}),
        (f"/api/runs/{run_id}/optimizer", {"since_epoch": past}),
        ("/api/runs", {"offset": past}),
        ("/api/costs", {"ids": f"{run_id},{past}"}),
    ]:
        response = client.get(url, params=params)
        assert response.status_code == 422, (url, response.text)
    assert client.get(f"/api/runs/{SQL_INT_MAX}").status_code == 404  # the largest: no such run
    fork = client.post(f"/api/runs/{run_id}/fork", json={"epoch": past})
    assert fork.status_code == 422 and fork.json()["detail"][0]["loc"] == ["body", "epoch"]


def test_a_fork_epoch_past_what_the_database_stores_is_422(client: TestClient, make_run) -> None:
    # Found by the linked fuzz pass: the epoch reached SQLite's int64 column and answered 500.
    run = make_run()
    response = client.post(f"/api/runs/{run['id']}/fork", json={"epoch": 2**83})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "epoch"]
