"""Script runs over REST, without running them: what POST /api/runs accepts and refuses (422
naming the field), what GET /api/scripts reads from the scripts folder (as text), and a sweep
over a script's arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from tests.support.scripts import JSON_LINES, write_script


@pytest.fixture
def scripts(settings: Settings) -> Path:
    folder = settings.home_dir / "scripts"
    write_script(folder, "digits/train.py", JSON_LINES)
    (folder / "notes.txt").write_text("not a script")
    (settings.home_dir / "outside.py").write_text("print('outside')")
    return folder


def _post(client: TestClient, script: dict, **fields: object):
    return client.post("/api/runs", json={"name": "s", "script": script, **fields})


def test_a_script_run_is_queued_with_its_script(client: TestClient, scripts: Path) -> None:
    response = _post(
        client,
        {"path": "digits/train.py", "args": ["--lr", "0.1"], "env": {"SEED": "3"}},
        device="cpu",
        processes=2,
        tags=["mine"],
    )
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["kind"] == "script" and run["status"] == "queued"
    assert run["script"] == {
        "path": "digits/train.py",
        "args": ["--lr", "0.1"],
        "env": {"SEED": "3"},
    }
    assert run["config"]["processes"] == 2 and run["config"]["device"] == "cpu"
    assert run["metric_names"] == [] and run["tags"] == ["mine"]
    listed = client.get("/api/runs").json()["runs"]
    assert [listed_run["kind"] for listed_run in listed] == ["script"]
    fork = client.post(f"/api/runs/{run['id']}/fork", json={"epoch": 1})
    assert fork.status_code == 409 and "script run" in fork.json()["detail"]


@pytest.mark.parametrize(
    ("script", "loc", "words"),
    [
        ({"path": "../outside.py"}, ["body", "script", "path"], "not inside the scripts folder"),
        ({"path": "/etc/passwd.py"}, ["body", "script", "path"], "not inside the scripts folder"),
        ({"path": "missing.py"}, ["body", "script", "path"], "is not in the scripts folder"),
        ({"path": "notes.txt"}, ["body", "script", "path"], "should match pattern"),
        (
            {"path": "digits/train.py", "env": {"TORCHDASH_RUN_ID": "7"}},
            ["body", "script", "env"],
            "set by the worker",
        ),
        (
            {"path": "digits/train.py", "env": {"CUDA_VISIBLE_DEVICES": "0"}},
            ["body", "script", "env"],
            "set by the worker",
        ),
        ({"path": "digits/train.py", "env": {"1BAD": "x"}}, ["body", "script", "env", "1BAD"], ""),
        ({"path": "digits/train.py", "args": [3]}, ["body", "script", "args", 0], ""),
        ({"args": []}, ["body", "script", "path"], "Field required"),
    ],
)
def test_bad_scripts_are_422_naming_the_field(
    client: TestClient, scripts: Path, script: dict, loc: list, words: str
) -> None:
    response = _post(client, script)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(item["loc"][: len(loc)] == loc and words in item["msg"] for item in detail), detail
    assert client.get("/api/runs").json()["count"] == 0


def test_a_script_run_refuses_loop_fields_and_gpus_it_cannot_have(
    client: TestClient, scripts: Path
) -> None:
    mixed = _post(client, {"path": "digits/train.py"}, model={"kind": "mlp"})
    assert mixed.status_code == 422 and mixed.json()["detail"][0]["loc"] == ["body", "model"]
    gpu = _post(client, {"path": "digits/train.py"}, device="cuda:3")
    assert gpu.status_code == 422 and gpu.json()["detail"][0]["loc"] == ["body", "device"]


def test_scripts_are_listed_with_their_argparse_options(client: TestClient, scripts: Path) -> None:
    answer = client.get("/api/scripts").json()
    assert answer["folder"] == str(scripts.resolve())
    (script,) = answer["scripts"]  # the .txt file and the file outside are not listed
    assert script["path"] == "digits/train.py"
    assert script["description"] == "Prints its metrics as JSON lines."
    options = {tuple(option["flags"]): option for option in script["options"]}
    assert options[("--epochs",)]["type"] == "int" and options[("--epochs",)]["default"] == 3
    assert options[("--epochs",)]["help"] == "how many epochs"
    assert options[("--lr",)]["default"] == 0.5


def test_a_sweep_varies_a_scripts_arguments(client: TestClient, scripts: Path) -> None:
    response = client.post(
        "/api/sweeps",
        json={
            "config": {"name": "lr", "script": {"path": "digits/train.py", "args": ["--lr", "1"]}},
            "grid": {"script.args.--lr": [0.1, 0.01], "script.args.--epochs": [2]},
        },
    )
    assert response.status_code == 201, response.text
    runs = response.json()["runs"]
    assert sorted(run["script"]["args"] for run in runs) == [
        ["--lr", "0.01", "--epochs", "2"],
        ["--lr", "0.1", "--epochs", "2"],
    ]
    assert all(run["kind"] == "script" for run in runs)
    assert {run["name"] for run in runs} == {
        "lr [--lr=0.1, --epochs=2]",
        "lr [--lr=0.01, --epochs=2]",
    }
    bad = client.post(
        "/api/sweeps",
        json={"config": {"script": {"path": "../outside.py"}}, "grid": {"script.args.--x": [1]}},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "config", "script", "path"]
