"""A run's bundle rebuilds it: its `train.py`, run in the unzipped folder by a fresh Python where
this checkout is not importable, trains with the bundle's own trainer and gives the run's losses;
`--init` starts from the saved weights; what it cannot rebuild it refuses, saying why."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from packaging.requirements import Requirement

from app.settings import Settings
from app.storage.tables import RunStatus
from app.web.form_templates import form_templates
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG
from trainer.data.demo import write_digits_image_folder

EXAMPLE_PLUGINS = ROOT / "examples" / "plugins"


def unzip_bundle(client: TestClient, run_id: int, into: Path) -> Path:
    response = client.get(f"/api/runs/{run_id}/bundle")
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        archive.extractall(into)
    return into


def train_py(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python train.py ARGS` in the bundle, as a user would run it: no PYTHONPATH, so the only
    other torchdash is the virtualenv's editable install of another checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TORCHDASH_"))}
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def epochs_of(result: subprocess.CompletedProcess[str]) -> list[dict]:
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def recorded(client: TestClient, run_id: int) -> list[dict]:
    return client.get(f"/api/runs/{run_id}/metrics").json()["epochs"]


def assert_same_losses(rebuilt: dict, stored: dict) -> None:
    assert rebuilt["epoch"] == stored["epoch"]
    assert rebuilt["train_loss"] == pytest.approx(stored["train_loss"], abs=1e-6)
    assert rebuilt["val_loss"] == pytest.approx(stored["val_loss"], abs=1e-6)


def test_the_bundle_rebuilds_a_digits_run_with_its_own_trainer_and_starts_from_its_weights(
    client: TestClient, make_run, execute, tmp_path: Path
) -> None:
    run = make_run(max_epochs=3)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    stored = recorded(client, run["id"])
    bundle = unzip_bundle(client, run["id"], tmp_path / "bundle")
    assert (bundle / "trainer" / "loop.py").is_file()
    assert not list(bundle.rglob("__pycache__")) and not (bundle / "plugins").exists()
    assert (bundle / "checkpoints" / "last" / "state.pt").is_file()

    result = train_py(bundle, "--epochs", "1", "--device", "cpu")
    (first,) = epochs_of(result)
    assert_same_losses(first, stored[0])
    # The bundle's trainer ran, not the editable install's (another checkout).
    assert f"trainer: {bundle / 'trainer'}" in result.stderr.splitlines()
    assert (bundle / "output" / "epoch-0001" / "model.pt").is_file()

    # From the best weights: its first epoch starts where the run ended, not from scratch.
    (init,) = epochs_of(
        train_py(bundle, "--epochs", "1", "--device", "cpu", "--init", "checkpoints/best/model.pt")
    )
    best = min(row["val_loss"] for row in stored)
    assert abs(init["val_loss"] - best) < abs(init["val_loss"] - stored[0]["val_loss"])
    assert init["val_loss"] < stored[0]["val_loss"]

    # A config this trainer does not accept is refused before anything trains.
    (bundle / "edited.json").write_text(json.dumps({**run["config"], "batch_size": 0}))
    refused = train_py(bundle, "--config", "edited.json")
    assert refused.returncode == 2 and "batch_size" in refused.stderr and not refused.stdout

    # --resume goes on from the last checkpoint: epoch 4, after the run's 3.
    (resumed,) = epochs_of(
        train_py(bundle, "--epochs", "4", "--device", "cpu", "--resume", "checkpoints/last")
    )
    assert resumed["epoch"] == 4


# Runs train.py in this Python and records each module that code of the bundle (train.py, the
# trainer, the plugins) imports itself, from the "import" audit event: a dependency's own imports
# (torch's, or optional ones of whatever else is installed) are its business, not the bundle's.
# Every import statement the bundle's own files run, whether or not another package loaded the
# module first (an audit hook sees only first loads, so the answer would depend on import order).
TRACE_IMPORTS = """
import builtins, runpy, sys
from pathlib import Path
bundle = str(Path.cwd())
direct = set()
real_import = builtins.__import__
def traced(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and str((globals or {}).get("__file__") or "").startswith(bundle):
        direct.add(name.split(".")[0])
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = traced
sys.argv = ["train.py", *sys.argv[1:]]
try:
    runpy.run_path(str(Path("train.py").resolve()), run_name="__main__")
finally:
    print("imports:", " ".join(sorted(direct)), file=sys.stderr)
"""


def imported_by_the_bundle(bundle: Path, *args: str) -> set[str]:
    """The installed distributions the bundle's own code imports while `train.py ARGS` runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TORCHDASH_"))}
    result = subprocess.run(
        [sys.executable, "-c", TRACE_IMPORTS, *args],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout  # it trained
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("imports:")]
    local = {"trainer", *(path.stem for path in (bundle / "plugins").glob("*.py"))}
    tops = set(line.split()[1:]) - local - set(sys.stdlib_module_names)
    providers = importlib.metadata.packages_distributions()
    assert tops <= providers.keys()  # an installed distribution provides each
    return {_canonical(providers[top][0]) for top in tops}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def assert_requirements_are_what_it_imports(bundle: Path) -> set[str]:
    """requirements.txt names exactly the distributions the trainer (and the plugins) import
    for this run, each at this machine's version; pip brings their own dependencies."""
    pinned = {Requirement(line) for line in (bundle / "requirements.txt").read_text().split()}
    for requirement in pinned:
        assert requirement.specifier.contains(importlib.metadata.version(requirement.name))
    required = {_canonical(r.name) for r in pinned}
    assert required == imported_by_the_bundle(bundle, "--epochs", "1", "--device", "cpu")
    return required


def test_requirements_name_what_a_digits_run_imports(
    client: TestClient, make_run, execute, tmp_path: Path
) -> None:
    run = make_run(max_epochs=1)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    bundle = unzip_bundle(client, run["id"], tmp_path / "bundle")
    required = assert_requirements_are_what_it_imports(bundle)
    assert {"torch", "torchvision", "pydantic", "scikit-learn", "pillow"} <= required


def test_the_cnn_template_rebuilds_and_data_elsewhere_needs_data_root(
    client: TestClient, settings: Settings, execute, tmp_path: Path
) -> None:
    root = settings.allowed_data_roots[0]
    write_digits_image_folder(root)
    (template,) = [t for t in form_templates([root]) if t["id"] == "imagefolder-cnn"]
    config = {**template["config"], "max_epochs": 1, "device": "cpu", "batch_size": 16}
    run = client.post("/api/runs", json=config).json()
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    stored = recorded(client, run["id"])
    bundle = unzip_bundle(client, run["id"], tmp_path / "bundle")

    (first,) = epochs_of(train_py(bundle, "--epochs", "1", "--device", "cpu"))
    assert_same_losses(first, stored[0])

    # The data moved: train.py says which field and how to point at it, before training.
    moved = tmp_path / "elsewhere"
    shutil.move(root / "digits-images", moved)
    refused = train_py(bundle, "--epochs", "1", "--device", "cpu")
    assert refused.returncode == 2 and not refused.stdout
    assert "data.train_dir" in refused.stderr and "--data-root" in refused.stderr
    move = f"{root / 'digits-images'}={moved}"
    (again,) = epochs_of(train_py(bundle, "--epochs", "1", "--device", "cpu", "--data-root", move))
    assert_same_losses(again, stored[0])


def test_a_scheduler_transforms_param_groups_and_early_stopping_rebuild(
    client: TestClient, make_run, execute, tmp_path: Path
) -> None:
    run = make_run(
        max_epochs=2,
        model={"kind": "mlp", "hidden_sizes": [32, 16]},
        optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9},
        scheduler={"kind": "step", "step_size": 1, "gamma": 0.5},
        param_groups=[{"match": "head.*", "lr": 0.1}],
        data={
            "kind": "digits",
            "train_transforms": [{"kind": "random_crop", "size": 8, "padding": 1}],
        },
        early_stopping={"patience": 5, "monitor": "val_loss"},
    )
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    stored = recorded(client, run["id"])
    bundle = unzip_bundle(client, run["id"], tmp_path / "bundle")
    rebuilt = epochs_of(train_py(bundle, "--device", "cpu"))
    assert len(rebuilt) == len(stored) == 2
    for mine, theirs in zip(rebuilt, stored, strict=True):
        assert_same_losses(mine, theirs)
        assert mine["lrs"] == pytest.approx(theirs["lrs"])  # the schedule, per parameter group


def test_a_fork_rebuilds_from_its_parents_checkpoint(
    client: TestClient, make_run, execute, tmp_path: Path
) -> None:
    source = make_run(max_epochs=2)
    assert execute(source["id"]) == RunStatus.SUCCEEDED
    overrides = {"optimizer": {"kind": "adam", "lr": 0.001}, "max_epochs": 2}
    fork = client.post(
        f"/api/runs/{source['id']}/fork", json={"epoch": 1, "overrides": overrides}
    ).json()
    assert execute(fork["id"]) == RunStatus.SUCCEEDED
    bundle = unzip_bundle(client, fork["id"], tmp_path / "bundle")
    assert (bundle / "checkpoints" / "fork" / "state.pt").is_file()
    (second,) = epochs_of(train_py(bundle, "--device", "cpu"))  # epoch 2, from epoch 1's end
    assert_same_losses(second, recorded(client, fork["id"])[0])

    # Its parent deleted, the fork's start is gone: train.py asks where to start.
    assert client.delete(f"/api/runs/{source['id']}").status_code == 204
    orphan = unzip_bundle(client, fork["id"], tmp_path / "orphan")
    refused = train_py(orphan, "--device", "cpu")
    assert refused.returncode == 2 and "pass --init or --resume" in refused.stderr
    resumed = train_py(orphan, "--device", "cpu", "--epochs", "3", "--resume", "checkpoints/last")
    assert [row["epoch"] for row in epochs_of(resumed)] == [3]


def test_a_run_started_from_an_upload_rebuilds_from_those_weights(
    client: TestClient, make_run, execute, tmp_path: Path
) -> None:
    source = make_run(max_epochs=1)
    assert execute(source["id"]) == RunStatus.SUCCEEDED
    weights = client.get(f"/api/runs/{source['id']}/checkpoints/1/model").content
    upload = client.post("/api/uploads?filename=model.pt", content=weights).json()
    created = client.post(
        f"/api/uploads/{upload['id']}/runs", json={**TINY_CONFIG, "max_epochs": 1}
    )
    run = created.json()
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    bundle = unzip_bundle(client, run["id"], tmp_path / "bundle")
    assert (bundle / "checkpoints" / "upload" / "model.pt").read_bytes() == weights
    (first,) = epochs_of(train_py(bundle, "--device", "cpu"))
    assert_same_losses(first, recorded(client, run["id"])[0])


def test_a_run_whose_plugin_is_gone_is_refused_naming_it(
    client: TestClient, settings: Settings
) -> None:
    settings.plugins_path.mkdir(parents=True, exist_ok=True)
    plugin = settings.plugins_path / "nets.py"
    plugin.write_text(
        "from torch import nn\n\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, input_shape, num_classes):\n"
        "        super().__init__()\n"
        "        self.layer = nn.Linear(64, num_classes)\n\n"
        "    def forward(self, x):\n"
        "        return self.layer(x.flatten(1))\n"
    )
    created = client.post(
        "/api/runs",
        json={
            "name": "plugged",
            "data": {"kind": "digits"},
            "model": {"kind": "plugin", "name": "Net"},
            "max_epochs": 1,
            "device": "cpu",
        },
    )
    assert created.status_code == 201, created.text
    plugin.unlink()
    response = client.get(f"/api/runs/{created.json()['id']}/bundle")
    assert response.status_code == 409
    assert "model plugin 'Net'" in response.json()["detail"]


def test_a_plugin_regression_run_rebuilds_with_its_plugin_files(
    client: TestClient, settings: Settings, execute, tmp_path: Path
) -> None:
    """Dataset, model, loss and metric plugins (the examples, in a temporary plugins folder)."""
    shutil.copytree(EXAMPLE_PLUGINS, settings.plugins_path, ignore=shutil.ignore_patterns("*.md"))
    config = {
        "name": "diabetes",
        "task": "regression",
        "data": {"kind": "plugin", "name": "Diabetes"},
        "model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": 16}},
        "loss": {"kind": "plugin", "name": "LogCoshLoss"},
        "metrics": [{"kind": "plugin", "name": "WithinTolerance", "args": {"tolerance": 0.5}}],
        "optimizer": {"kind": "adam", "lr": 0.003},
        "batch_size": 32,
        "max_epochs": 2,
        "device": "cpu",
        "seed": 0,
    }
    created = client.post("/api/runs", json=config)
    assert created.status_code == 201, created.text
    run = created.json()
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    stored = recorded(client, run["id"])
    bundle = unzip_bundle(client, run["id"], tmp_path / "bundle")
    assert sorted(p.name for p in (bundle / "plugins").iterdir()) == sorted(
        p.name for p in EXAMPLE_PLUGINS.glob("*.py")
    )
    (first,) = epochs_of(train_py(bundle, "--epochs", "1", "--device", "cpu"))
    assert_same_losses(first, stored[0])
    for name in ("val_mae", "val_WithinTolerance"):
        assert first["metrics"][name] == pytest.approx(stored[0]["metrics"][name], abs=1e-6)
    required = assert_requirements_are_what_it_imports(bundle)
    assert {"scikit-learn", "torchmetrics"} <= required  # the Diabetes Dataset, a metric plugin


def test_a_ddp_run_rebuilds_with_its_processes(
    client: TestClient, make_run, execute, tmp_path: Path
) -> None:
    """`processes: 2` on the CPU (gloo): train.py starts the second rank, as the worker does,
    with PYTHONPATH naming the bundle, so that rank imports its trainer too."""
    run = make_run(processes=2, max_epochs=1)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    bundle = unzip_bundle(client, run["id"], tmp_path / "bundle")
    result = train_py(bundle, "--device", "cpu")
    (first,) = epochs_of(result)
    assert_same_losses(first, recorded(client, run["id"])[0])
    assert "rank 1 of 2 started" in result.stderr
    # One process trains the whole training set per epoch: other steps, other losses.
    (single,) = epochs_of(train_py(bundle, "--device", "cpu", "--processes", "1"))
    assert single["train_loss"] != pytest.approx(first["train_loss"], abs=1e-6)
