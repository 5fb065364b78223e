"""The REST API: create, list, read, validation, state conflicts, data paths."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.settings import Settings
from tests.support.runs import TINY_CONFIG


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/api/runs", "/api/runs/{run_id}/events", "/api/runs/{run_id}/checkpoints"):
        assert route in paths
    assert client.get("/docs").status_code == 200


def test_openapi_documents_both_run_bodies_and_links_a_created_run(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    create = document["paths"]["/api/runs"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["anyOf"] == [
        {"$ref": "#/components/schemas/RunCreate"},
        {"$ref": "#/components/schemas/ScriptRunCreate"},
    ]
    schemas = document["components"]["schemas"]
    assert "script" in schemas["ScriptRunCreate"]["properties"]
    assert {"data", "model", "tags"} <= set(schemas["RunCreate"]["properties"])
    links = create["responses"]["201"]["links"]
    assert links["read_run"] == {
        "operationId": "read_run_api_runs__run_id__get",
        "parameters": {"run_id": "$response.body#/id"},
    }
    assert {"update_run", "delete_run", "cancel_run", "resume_run", "fork_run"} <= set(links)
    assert {"read_metrics", "read_log", "read_checkpoints"} <= set(links)
    assert "stream_run_events" not in links  # a stream never ends: nothing to chain after it
    events = document["paths"]["/api/runs/{run_id}/events"]["get"]["responses"]["200"]
    assert "text/event-stream" in events["content"]
    study_links = document["paths"]["/api/studies"]["post"]["responses"]["201"]["links"]
    assert "read_study" in study_links
    fork_links = document["paths"]["/api/runs/{run_id}/fork"]["post"]["responses"]["201"]["links"]
    assert "read_run" in fork_links


def test_schema_describes_the_config(client: TestClient) -> None:
    schema = client.get("/api/schema/run-config").json()
    assert {"data", "model", "loss", "optimizer", "batch_size", "max_epochs"} <= set(
        schema["properties"]
    )


def test_create_then_read_and_list_newest_first(client: TestClient, make_run) -> None:
    first = make_run(name="first")
    second = make_run(name="second")
    assert first["status"] == "queued" and first["epoch"] == 0
    assert first["config"]["optimizer"] == {
        "kind": "adam", "lr": 0.003, "betas": [0.9, 0.999], "eps": 1e-08,
        "weight_decay": 0.0, "amsgrad": False, "decoupled_weight_decay": False,
    }  # fmt: skip
    assert client.get(f"/api/runs/{first['id']}").json()["name"] == "first"
    listed = client.get("/api/runs").json()
    assert [run["id"] for run in listed["runs"]] == [second["id"], first["id"]]
    assert listed["count"] == 2
    assert client.get("/api/runs", params={"status": "running"}).json()["count"] == 0


def test_minimal_design_config_is_accepted(client: TestClient) -> None:
    minimal = {
        "name": "digits-mlp",
        "data": {"kind": "digits"},
        "model": {"kind": "mlp", "hidden_sizes": [256]},
        "loss": {"kind": "cross_entropy"},
        "optimizer": {"kind": "adam", "lr": 0.001},
        "batch_size": 16, "max_epochs": 10, "device": "auto",
    }  # fmt: skip
    assert client.post("/api/runs", json=minimal).status_code == 201


def test_invalid_config_is_422_naming_the_field_and_stores_nothing(client: TestClient) -> None:
    bad = {**TINY_CONFIG, "optimizer": {"kind": "adam", "lr": -1}}
    response = client.post("/api/runs", json=bad)
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert ["body", "optimizer", "adam", "lr"] in locations
    for field, value in (("batch_size", 0), ("max_epochs", 0), ("surprise", 1)):
        response = client.post("/api/runs", json={**TINY_CONFIG, field: value})
        assert response.status_code == 422
        assert ["body", field] in [error["loc"] for error in response.json()["detail"]]
    assert client.get("/api/runs").json()["count"] == 0


def test_missing_run_is_404(client: TestClient) -> None:
    response = client.get("/api/runs/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "run 999 not found"}


def test_illegal_transitions_are_409(client: TestClient, make_run) -> None:
    run = make_run()
    response = client.post(f"/api/runs/{run['id']}/resume", json={})
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]
    assert client.post(f"/api/runs/{run['id']}/cancel").json()["status"] == "cancelled"
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 409


def test_cancelled_queued_run_can_be_queued_again(client: TestClient, make_run) -> None:
    run = make_run()
    client.post(f"/api/runs/{run['id']}/cancel")
    resumed = client.post(f"/api/runs/{run['id']}/resume", json={"max_epochs": 5}).json()
    assert (resumed["status"], resumed["max_epochs"]) == ("queued", 5)


def _imagefolder(train_dir: str) -> dict:
    return {**TINY_CONFIG, "data": {"kind": "imagefolder", "train_dir": train_dir}}


def test_data_paths_outside_the_roots_are_refused(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    root = settings.allowed_data_roots[0]
    evil = root.parent / (root.name + "_evil")  # a sibling sharing the root's name as a prefix
    evil.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link-out").symlink_to(outside)
    for path in ("../", str(evil), "../data_evil", str(outside), "link-out", "/etc", "a/../../x"):
        response = client.post("/api/runs", json=_imagefolder(path))
        assert response.status_code == 422, path
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "data", "train_dir"]
        assert "not inside an allowed data root" in error["msg"]
    assert client.get("/api/runs").json()["count"] == 0


def test_data_path_inside_a_root_is_stored_resolved(client: TestClient, settings: Settings) -> None:
    folder = settings.allowed_data_roots[0] / "images"
    (folder / "cat").mkdir(parents=True)
    response = client.post("/api/runs", json=_imagefolder("images"))
    assert response.status_code == 201, response.text
    assert response.json()["config"]["data"]["train_dir"] == str(folder)
    missing = client.post("/api/runs", json=_imagefolder("nothing-here"))
    assert missing.status_code == 422
    assert "not an existing folder" in missing.json()["detail"][0]["msg"]


def test_pages_render_and_an_unknown_run_page_is_404(client: TestClient, make_run) -> None:
    home = client.get("/")
    assert home.status_code == 200 and 'id="run-form"' in home.text
    run = make_run(name="shown")
    page = client.get(f"/runs/{run['id']}")
    assert page.status_code == 200 and "shown" in page.text
    missing = client.get("/runs/999")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
