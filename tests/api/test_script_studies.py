"""A study over a script's arguments (`script.args.--lr`), with the real Optuna storage and the
real script run by its worker synchronously in this process, the scheduler ticked by hand: each
trial is a script run whose arguments carry the trial's value, ASHA prunes the hopeless trial
from the epoch lines it prints, and the best trial is the one the script scores best."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from app.storage.tables import RunStatus
from app.studies.scheduler import StudyScheduler
from tests.support.runs import TINY_CONFIG
from tests.support.scripts import write_script

# Its val_loss after epoch e is |lr - 0.1| + 1/e: --lr 0.1 is the best. After each epoch it
# looks a moment for the stop file (as the tracking module's `should_stop` does), so a trial
# the pruner stops ends where it was judged.
SCORED = '''"""Scores its --lr against 0.1."""
import argparse, json, os, time

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.5)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--verbose", action="store_true")
args = parser.parse_args()
stop_file = os.environ["TORCHDASH_STOP_FILE"]
for epoch in range(1, args.epochs + 1):
    print(json.dumps({"epoch": epoch, "val_loss": abs(args.lr - 0.1) + 1 / epoch}), flush=True)
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and not os.path.exists(stop_file):
        time.sleep(0.05)
    if os.path.exists(stop_file):
        break
'''

BASE = {
    "name": "scored",
    "script": {"path": "scored.py", "args": ["--epochs", "3", "--lr", "0.5"]},
    "device": "cpu",
    "max_epochs": 3,
}
LR = {"field": "script.args.--lr", "type": "float", "low": 0.01, "high": 3.0}


@pytest.fixture
def scripts(settings: Settings) -> Path:
    folder = settings.home_dir / "scripts"
    write_script(folder, "scored.py", SCORED)
    return folder


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({"space": [{**LR, "field": "script.args.--nope"}]}, "space.0.field", "no option --nope"),
        ({"space": [{**LR, "field": "script.args.lr"}]}, "space.0.field", "a flag such as --lr"),
        (
            {"space": [{"field": "script.args.--verbose", "type": "choice", "choices": [1, 2]}]},
            "space.0.field",
            "takes no value",
        ),
        ({"space": [{**LR, "field": "optimizer.lr"}]}, "space.0.field", "no field"),
        (
            {"space": [{"field": "script.path", "type": "choice", "choices": ["other.py"]}]},
            "space.0.field",
            "the script stays",
        ),
        (
            {"space": [{"field": "processes", "type": "int", "low": 0, "high": 2}]},
            "space.0.low",
            "processes=0",
        ),
        ({"space": [LR], "seeds": 2}, "seeds", "search its seed argument"),
        (
            {"space": [LR], "config": {**BASE, "script": {"path": "gone.py"}}},
            "config.script.path",
            "not in the scripts folder",
        ),
        ({"space": [LR], "config": TINY_CONFIG}, "space.0.field", "loop run"),
    ],
)
def test_a_bad_script_search_is_a_422_naming_the_field(
    client: TestClient, scripts: Path, body: dict[str, Any], loc: str, words: str
) -> None:
    response = client.post("/api/studies", json={"config": BASE, **body})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", *loc.split(".")]
    assert words in detail["msg"]
    assert client.get("/api/studies").json()["studies"] == []


def test_a_study_searches_a_scripts_argument_prunes_the_hopeless_trial_and_finds_the_best(
    client: TestClient, settings: Settings, scripts: Path, execute: Callable[[int], RunStatus]
) -> None:
    # The environment is searched too: a variable the base sets takes the trial's number as text.
    base = {**BASE, "script": {**BASE["script"], "env": {"WORKERS": "1"}}}
    workers = {"field": "script.env.WORKERS", "type": "int", "low": 1, "high": 4}
    created = client.post(
        "/api/studies",
        json={
            "config": base,
            "space": [LR, workers],
            "n_trials": 1,
            "parallelism": 1,
            "sampler": "random",
        },
    )
    assert created.status_code == 201, created.text
    study = created.json()
    assert study["direction"] == "min"  # val_loss: a loss falls
    sid = study["id"]
    # Two fair points, then the hopeless one (ASHA's first rung holds all three), then the one
    # trial the sampler draws.
    for lr in (0.3, 0.1, 2.5):
        point = {LR["field"]: lr, workers["field"]: 2}
        added = client.post(f"/api/studies/{sid}/trials", json={"params": point})
        assert added.status_code == 200, added.text
    scheduler = StudyScheduler(settings, client.app.state.session_factory, [])  # type: ignore[attr-defined]
    runs = []
    for _ in range(4):  # the three points in order, then a random one
        scheduler.tick()
        (run,) = client.get("/api/runs", params={"status": "queued"}).json()["runs"]
        assert run["kind"] == "script" and run["study_id"] == sid
        assert execute(run["id"]) == RunStatus.SUCCEEDED
        runs.append(client.get(f"/api/runs/{run['id']}").json())
    scheduler.tick()

    lrs = [run["script"]["args"][run["script"]["args"].index("--lr") + 1] for run in runs]
    assert lrs[:3] == ["0.3", "0.1", "2.5"] and len(set(lrs)) == 4
    assert all(run["script"]["args"][:2] == ["--epochs", "3"] for run in runs)
    assert [run["script"]["env"]["WORKERS"] for run in runs[:3]] == ["2", "2", "2"]
    hopeless = runs[2]
    assert hopeless["stop_reason"].startswith("pruned by ASHA at epoch 1: val_loss 3.4")
    detail = client.get(f"/api/studies/{sid}").json()
    assert detail["status"] == "finished"
    states = {t["number"]: t["state"] for t in detail["trials"]}
    assert states[2] == "pruned" and states[0] == states[1] == "complete"
    assert [v["epoch"] for v in detail["trials"][2]["intermediate_values"]] == [1]
    best = detail["best_trial"]
    assert best["params"] == {"script.args.--lr": 0.1, "script.env.WORKERS": 2}
    assert best["value"] == pytest.approx(1 / 3)
    assert best["config"]["script"]["args"] == ["--epochs", "3", "--lr", "0.1"]
