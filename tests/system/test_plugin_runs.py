"""Runs on the user's own plugin files, for real: a plugin Dataset trained by a real worker (and by
two DDP ranks), a Dataset whose `__getitem__` raises, and the preflight naming the plugin field
that does not fit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

from app.settings import Settings
from app.storage.tables import RunStatus
from tests.support.plugins import DIGITS_PLUGIN, copy_example_plugins
from tests.support.runs import TINY_CONFIG, create_run, get_run
from tests.support.waiting import wait_for_status
from trainer.checkpoints.store import load_checkpoint
from trainer.config import RunConfig
from trainer.data.datasets import build_datasets
from trainer.loop import fit
from trainer.models.builtin import build_model
from trainer.preflight import PreflightProblem, preflight

# Plugins that do not fit, each in its own way.
MISFITS = """
import torch
from torch import nn

import no_such_module_anywhere


class NeedsAMissingModule(nn.Module):
    def forward(self, x):
        return x
"""

SHAPES = '''
import torch
from torch import nn


class ThreeOutputs(nn.Module):
    """Three outputs whatever the task needs."""

    def __init__(self, input_shape):
        super().__init__()
        self.linear = nn.Linear(input_shape[0], 3)

    def forward(self, x):
        return self.linear(x)


class Layered(nn.Module):
    """`layers` has no annotation: any JSON value passes the server, and the worker finds out."""

    def __init__(self, input_shape, num_outputs, layers=1):
        super().__init__()
        self.body = nn.Sequential(*[nn.Identity() for _ in range(layers)])
        self.head = nn.Linear(input_shape[0], num_outputs)

    def forward(self, x):
        return self.head(self.body(x))


def error_rate(output, target):
    """The share of misclassified items of a batch (lower is better)."""
    return (output.argmax(1) != target).float().mean()


def broken_metric(output, target):
    return output[:, 99]
'''

DIGITS = {"kind": "plugin", "name": "PluginDigits"}


@pytest.fixture
def plugins(settings: Settings) -> Path:
    folder = copy_example_plugins(settings.plugins_path)
    (folder / "digits_plugin.py").write_text(DIGITS_PLUGIN)
    (folder / "shapes.py").write_text(SHAPES)
    (folder / "misfits.py").write_text(MISFITS)
    return folder


def plugin_run(**changes: Any) -> dict[str, Any]:
    return {**TINY_CONFIG, "data": DIGITS, "max_epochs": 2, **changes}


def test_a_plugin_dataset_trains_in_a_real_worker_with_a_plugin_model_and_metric(
    plugins: Path, live_server: str, settings: Settings
) -> None:
    config = plugin_run(
        model={"kind": "plugin", "name": "TabularMLP", "args": {"width": 32, "depth": 1}},
        metrics=[{"kind": "plugin", "name": "error_rate", "mode": "min"}],
    )
    run = create_run(live_server, **config)
    done = wait_for_status(live_server, run["id"], "succeeded", timeout=300)
    assert done["epoch"] == 2
    epochs = httpx.get(f"{live_server}/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2]
    assert epochs[-1]["val_accuracy"] > 0.8  # ten digit classes found in the plugin's targets
    log = settings.worker_log(run["id"]).read_text()
    assert "cache: off: data.cache is off for the plugin Dataset" in log

    # The plugin metric is recorded by name: the error rate over the whole validation split.
    metrics = epochs[-1]["metrics"]
    assert metrics["val_error_rate"] == pytest.approx(1 - metrics["val_accuracy"], abs=1e-5)
    # The checkpoint holds the plugin model's weights, built with the run's args (width 32).
    state = load_checkpoint(settings.checkpoint_dir(run["id"]) / "epoch-0002")
    assert state["model"]["layers.1.weight"].shape == (32, 64)


def test_a_dataset_that_raises_fails_its_run_with_the_plugins_traceback(
    plugins: Path, live_server: str, settings: Settings
) -> None:
    # Named classes: no scan of the targets, so the failure comes from a training batch.
    failing = create_run(
        live_server, **plugin_run(data={**DIGITS, "args": {"fail_at": 5, "named": True}})
    )
    failed = wait_for_status(live_server, failing["id"], "failed", timeout=300)
    assert "KeyError" in failed["error"] and "sample 5 is missing" in failed["error"]
    log = settings.worker_log(failing["id"]).read_text()
    assert "Traceback" in log
    assert f'{plugins / "digits_plugin.py"}", line' in log  # the plugin's own frame
    assert 'raise KeyError(f"sample {index} is missing' in log

    # The server keeps serving: the next run trains.
    assert httpx.get(f"{live_server}/healthz").status_code == 200
    good = create_run(
        live_server, **plugin_run(max_epochs=1, data={**DIGITS, "args": {"limit": 300}})
    )
    wait_for_status(live_server, good["id"], "succeeded", timeout=300)
    assert get_run(live_server, failing["id"])["status"] == "failed"


def test_two_ranks_train_a_plugin_dataset_and_sync_a_plugin_metric(
    plugins: Path,
    client: TestClient,
    make_run,
    execute: Callable[[int], RunStatus],
    settings: Settings,
) -> None:
    run = make_run(
        **plugin_run(
            processes=2,
            metrics=[{"kind": "plugin", "name": "error_rate", "mode": "min"}],
        )
    )
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2]

    # Recomputed on the whole validation split from the checkpoint: the ranks' shards were
    # summed, for the loss, the accuracy and the plugin metric alike.
    config = RunConfig.model_validate(run["config"])
    data = build_datasets(config.data, plugins_dir=plugins)
    assert data.class_names == [str(d) for d in range(10)]
    model = build_model(config.model, data.input_shape, data.num_classes)
    state = load_checkpoint(settings.checkpoint_dir(run["id"]) / "epoch-0002")
    model.load_state_dict(state["model"])
    model.eval()
    with torch.no_grad():
        inputs, targets = zip(*(data.val[i] for i in range(len(data.val))), strict=True)  # type: ignore[arg-type]
        output = model(torch.stack(inputs))
        target = torch.stack(targets)
        loss = torch.nn.functional.cross_entropy(output, target).item()
        errors = (output.argmax(1) != target).float().mean().item()
    metrics = epochs[-1]["metrics"]
    assert epochs[-1]["val_loss"] == pytest.approx(loss, rel=1e-4)
    assert metrics["val_error_rate"] == pytest.approx(errors, abs=1e-6)
    assert metrics["val_accuracy"] == pytest.approx(1 - errors, abs=1e-6)


def test_two_ranks_train_a_regression_dataset_and_sync_its_metrics(
    plugins: Path,
    client: TestClient,
    make_run,
    execute: Callable[[int], RunStatus],
    settings: Settings,
) -> None:
    run = make_run(
        **plugin_run(
            processes=2,
            task="regression",
            data={"kind": "plugin", "name": "Diabetes"},
            model={"kind": "plugin", "name": "TabularMLP", "args": {"width": 16}},
            loss={"kind": "mse"},
            metrics=[{"kind": "plugin", "name": "mean_squared_error", "mode": "min"}],
            batch_size=16,
        )
    )
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    metrics = epochs[-1]["metrics"]

    config = RunConfig.model_validate(run["config"])
    data = build_datasets(config.data, task="regression", plugins_dir=plugins)
    assert data.class_names == ["progression"] and data.target_shape == ()
    model = build_model(config.model, data.input_shape, 1, plugins, num_classes=1)
    state = load_checkpoint(settings.checkpoint_dir(run["id"]) / "epoch-0002")
    model.load_state_dict(state["model"])
    model.eval()
    with torch.no_grad():
        inputs, targets = zip(*(data.val[i] for i in range(len(data.val))), strict=True)  # type: ignore[arg-type]
        error = model(torch.stack(inputs)).squeeze(1) - torch.stack(targets)
    mse = (error**2).mean().item()
    assert metrics["val_loss"] == pytest.approx(mse, rel=1e-4)
    assert metrics["val_mean_squared_error"] == pytest.approx(mse, rel=1e-4)
    assert metrics["val_rmse"] == pytest.approx(mse**0.5, rel=1e-4)
    assert metrics["val_mae"] == pytest.approx(error.abs().mean().item(), rel=1e-4)


@pytest.mark.parametrize(
    ("changes", "loc", "words"),
    [
        (
            {"data": {"kind": "plugin", "name": "NoSuchData"}},
            ("data", "name"),
            "no dataset plugin named 'NoSuchData'",
        ),
        (
            {"model": {"kind": "plugin", "name": "NeedsAMissingModule"}},
            ("model", "name"),
            "'misfits.py' does not import: ModuleNotFoundError",
        ),
        (
            {"loss": {"kind": "plugin", "name": "Diabetes"}},
            ("loss", "name"),
            "'Diabetes' is a Dataset, not an nn.Module",
        ),
        (
            {"metrics": [{"kind": "plugin", "name": "TabularMLP"}]},
            ("metrics", 0, "name"),
            "'TabularMLP' is an nn.Module, not a torchmetrics Metric or a function",
        ),
        (
            {"model": {"kind": "plugin", "name": "Layered", "args": {"layers": "two"}}},
            ("model", "args"),
            "Layered(layers='two') failed: TypeError",
        ),
        (
            {"data": {**DIGITS, "args": {"limit": 10, "colour": "red"}}},
            ("data", "args"),
            "PluginDigits(limit=10, colour='red'): got an unexpected keyword argument 'colour'",
        ),
        (
            {"model": {"kind": "plugin", "name": "ThreeOutputs"}},
            ("model",),
            "the model gives outputs of shape [64, 3], 3 per item; classification with loss "
            "cross_entropy needs 10 per item (one per class)",
        ),
        (
            {
                "task": "regression",
                "data": {"kind": "plugin", "name": "Diabetes"},
                "loss": {"kind": "mse"},
                "model": {"kind": "plugin", "name": "ThreeOutputs"},
            },
            ("model",),
            "regression with loss mse needs 1 per item (one per target)",
        ),
        (
            {"metrics": [{"kind": "plugin", "name": "broken_metric"}]},
            ("metrics", 0),
            "metric broken_metric cannot take output [64, 10] and targets [64]",
        ),
        (
            {"task": "multilabel", "loss": {"kind": "bce_with_logits"}},
            ("data",),
            "PluginDigits's targets do not fit task 'multilabel': item 0's target is int 0",
        ),
    ],
)
def test_the_preflight_names_the_plugin_field_that_does_not_fit(
    plugins: Path, changes: dict, loc: tuple, words: str
) -> None:
    config = RunConfig.model_validate(plugin_run(**changes))
    with pytest.raises(PreflightProblem) as problem:
        preflight(config, plugins, steps=1)
    assert problem.value.loc == loc and words in str(problem.value), (
        problem.value.loc,
        problem.value,
    )


def test_a_preflight_over_http_answers_at_the_plugins_field(
    plugins: Path, client: TestClient, settings: Settings
) -> None:
    settings.preflight_seconds = 600  # a cold worker on a loaded machine imports torch slowly
    bad = plugin_run(model={"kind": "plugin", "name": "Layered", "args": {"layers": "two"}})
    response = client.post("/api/preflight", json=bad)
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "model", "args"] and "Layered(layers='two')" in error["msg"]
    good = plugin_run(model={"kind": "plugin", "name": "Layered", "args": {"layers": 2}})
    report = client.post("/api/preflight", json=good).json()
    assert report["input_shape"] == [64, 64] and report["output_shape"] == [64, 10]


def test_every_task_trains_on_the_example_plugins(plugins: Path) -> None:
    base = {**TINY_CONFIG, "max_epochs": 2, "batch_size": 32}
    regression = RunConfig.model_validate(
        {
            **base,
            "task": "regression",
            "data": {"kind": "plugin", "name": "Diabetes", "cache": True},
            "model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": 16}},
            "loss": {"kind": "plugin", "name": "LogCoshLoss"},
            "metrics": [
                {"kind": "plugin", "name": "WithinTolerance", "args": {"tolerance": 0.5}},
                {"kind": "plugin", "name": "mean_squared_error", "mode": "min"},
            ],
        }
    )
    history = fit(regression, plugins_dir=plugins).history
    last = history[-1].metrics
    assert last["val_loss"] < history[0].metrics["val_loss"]
    assert last["val_mean_squared_error"] == pytest.approx(last["val_rmse"] ** 2, rel=1e-4)
    assert 0 <= last["val_WithinTolerance"] <= 1

    multilabel = RunConfig.model_validate(
        {
            **base,
            "task": "multilabel",
            "data": {"kind": "plugin", "name": "DigitProperties"},
            "loss": {"kind": "bce_with_logits"},
        }
    )
    history = fit(multilabel, plugins_dir=plugins).history
    assert history[-1].metrics["val_f1_macro"] > history[0].metrics["val_f1_macro"] - 0.05
    assert history[-1].metrics["val_f1_micro"] > 0.7
