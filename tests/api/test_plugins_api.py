"""Plugins over the API: `GET /api/plugins`, the run-config schema offering the classes found
and their typed arguments, and the 422s of a config naming a plugin that is not there, not of its
kind, or given arguments its constructor does not take — nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.plugins import copy_example_plugins
from tests.support.runs import TINY_CONFIG

# A regression run on the example plugins (examples/plugins).
REGRESSION: dict[str, Any] = {
    **TINY_CONFIG,
    "task": "regression",
    "data": {"kind": "plugin", "name": "Diabetes", "args": {"val_fraction": 0.25}},
    "model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": 32}},
    "loss": {"kind": "mse"},
}


@pytest.fixture
def plugins(settings):
    folder = copy_example_plugins(settings.plugins_path)
    (folder / "broken.py").write_text("from torch import nn\n\nclass Half(nn.Module:\n    pass\n")
    return folder


def test_the_plugins_are_listed_with_their_args_and_unreadable_files(client, plugins) -> None:
    answer = client.get("/api/plugins").json()
    assert [p["name"] for p in answer["datasets"]] == ["Diabetes", "DigitProperties"]
    assert [p["name"] for p in answer["models"]] == ["TabularMLP"]
    assert [p["name"] for p in answer["losses"]] == ["LogCoshLoss"]
    assert [p["name"] for p in answer["metrics"]] == ["WithinTolerance", "mean_squared_error"]
    tabular = answer["models"][0]
    assert tabular["file"] == "tabular.py"  # the name only: the server's paths stay its own
    assert tabular["doc"].startswith("`depth` hidden layers of `width` units")
    assert tabular["args_schema"]["properties"]["width"] == {
        "default": 64,
        "title": "width",
        "type": "integer",
    }
    function = answer["metrics"][1]
    assert function["function"] and function["args_schema"]["properties"] == {}
    assert answer["errors"] == [{"file": "broken.py", "error": "line 3: invalid syntax"}]


def test_no_plugins_folder_lists_nothing(client) -> None:
    answer = client.get("/api/plugins").json()
    assert answer == {"datasets": [], "models": [], "losses": [], "metrics": [], "errors": []}
    schema = client.get("/api/schema/run-config").json()
    name = schema["$defs"]["PluginData"]["properties"]["name"]
    assert "enum" not in name and "pattern" in name  # a class name typed by hand
    assert schema["$defs"]["PluginData"]["ui"]["plugin_args"] == {}


def test_the_schema_offers_each_kinds_classes_and_their_args(client, plugins) -> None:
    schema = client.get("/api/schema/run-config").json()
    defs = schema["$defs"]
    names = {kind: defs[kind]["properties"]["name"] for kind in defs if kind.startswith("Plugin")}
    assert names["PluginData"]["enum"] == ["Diabetes", "DigitProperties"]
    assert names["PluginModel"]["enum"] == ["TabularMLP"]
    assert names["PluginLoss"]["enum"] == ["LogCoshLoss"]
    assert names["PluginMetric"]["enum"] == ["WithinTolerance", "mean_squared_error"]
    model_args = defs["PluginModel"]["ui"]["plugin_args"]["TabularMLP"]
    assert model_args["properties"]["activation"]["enum"] == ["relu", "tanh"]
    assert model_args["additionalProperties"] is False
    assert defs["PluginData"]["ui"]["plugin_kind"] == "Dataset"
    # The metric names of each task, for the monitor choices.
    assert schema["ui"]["task_metrics"]["regression"] == [
        "train_loss", "val_loss", "val_mae", "val_rmse", "val_r2",
    ]  # fmt: skip
    assert schema["ui"]["task_monitors"] == {
        "classification": "val_accuracy", "multilabel": "val_loss", "regression": "val_loss",
    }  # fmt: skip
    # The data and loss kinds that serve each task.
    assert schema["properties"]["data"]["ui"]["task_kinds"]["regression"] == [
        "plugin",
        "table",
        "text",
    ]
    losses = schema["properties"]["loss"]["ui"]["task_kinds"]
    assert losses["regression"] == ["huber", "l1", "mse", "plugin", "smooth_l1"]
    assert schema["ui"]["sections"]  # the config's own hints stay
    assert schema["properties"]["monitor"]["ui"] == {"section": "metrics", "widget": "metric"}
    assert defs["EarlyStoppingConfig"]["properties"]["monitor"]["ui"]["widget"] == "metric"
    assert defs["ReduceLROnPlateauScheduler"]["properties"]["monitor"]["ui"]["widget"] == "metric"
    # The form's page carries the same schema.
    assert '"plugin_args": {"TabularMLP"' in client.get("/").text


def test_a_config_of_plugins_with_typed_args_is_queued(client, plugins) -> None:
    metrics = [{"name": "WithinTolerance", "args": {"tolerance": 0.3}}]
    metrics += [{"name": "mean_squared_error", "mode": "min"}]
    config = {**REGRESSION, "loss": {"kind": "plugin", "name": "LogCoshLoss"}, "metrics": metrics}
    response = client.post("/api/runs", json={**config, "monitor": "val_mean_squared_error"})
    assert response.status_code == 201, response.text
    stored = response.json()["config"]
    assert stored["data"] == {"kind": "plugin", "name": "Diabetes", "args": {"val_fraction": 0.25},
                              "cache": False}  # fmt: skip
    assert stored["model"]["args"] == {"width": 32}
    assert stored["metrics"][0]["args"] == {"tolerance": 0.3}


@pytest.mark.parametrize(
    ("changes", "loc", "words"),
    [
        (
            {"data": {"kind": "plugin", "name": "Nope"}},
            ["data", "name"],
            ["no Dataset named 'Nope'", "Diabetes, DigitProperties", "broken.py: line 3"],
        ),
        (
            {"data": {"kind": "plugin", "name": "TabularMLP"}},
            ["data", "name"],
            ["'TabularMLP' (tabular.py) is a model, not a Dataset", "torch.utils.data.Dataset"],
        ),
        (
            {"model": {"kind": "plugin", "name": "LogCoshLoss"}},
            ["model", "name"],
            ["is a loss, not a model", "models found: TabularMLP"],
        ),
        (
            {"loss": {"kind": "plugin", "name": "Diabetes"}},
            ["loss", "name"],
            ["is a Dataset, not a loss", "losses found: LogCoshLoss"],
        ),
        (
            {"metrics": [{"name": "WithinTolerance"}, {"name": "TabularMLP"}]},
            ["metrics", 1, "name"],
            ["is a model, not a metric"],
        ),
        (
            {"model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": "wide"}}},
            ["model", "args", "width"],
            ["valid integer"],
        ),
        (
            {"model": {"kind": "plugin", "name": "TabularMLP", "args": {"activation": "gelu"}}},
            ["model", "args", "activation"],
            ["'relu' or 'tanh'"],
        ),
        (
            {"data": {"kind": "plugin", "name": "Diabetes", "args": {"width": 32}}},
            ["data", "args", "width"],
            ["Diabetes takes no argument 'width' (its arguments: val_fraction, seed)"],
        ),
        (
            {"data": {"kind": "plugin", "name": "Diabetes", "args": {"seed": 1.5}}},
            ["data", "args", "seed"],
            ["valid integer"],
        ),
        (
            {"metrics": [{"name": "mean_squared_error", "args": {"squared": True}}]},
            ["metrics", 0, "args"],
            ["is a function of (output, target): it takes no args"],
        ),
    ],
)
def test_a_plugin_that_is_not_there_or_args_it_does_not_take_are_a_422_naming_the_field(
    client, plugins, changes, loc, words
) -> None:
    response = client.post("/api/runs", json={**REGRESSION, **changes})
    assert response.status_code == 422, response.text
    errors = {tuple(error["loc"]): error["msg"] for error in response.json()["detail"]}
    assert ("body", *loc) in errors, errors
    for word in words:
        assert word in errors[("body", *loc)]
    assert client.get("/api/runs").json()["count"] == 0


def test_check_refuses_bad_args_before_any_worker_starts(client, plugins) -> None:
    bad = {**REGRESSION, "model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": 0.5}}}
    response = client.post("/api/preflight", json=bad)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "model", "args", "width"]]
