"""The API side of the choices: 422s naming the field, plugin models, the optimizer inspector."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.runs import TINY_CONFIG

PLUGIN = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    """A user model: flatten and one linear layer."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.linear = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)

    def forward(self, x):
        return self.linear(x.flatten(1))


class NotAModel:
    pass
'''


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"optimizer": {"kind": "sparse_adam"}}, ["body", "optimizer", "kind"]),
        (
            {"model": {"kind": "sparse_embedding"}, "optimizer": {"kind": "adam"}},
            ["body", "optimizer", "kind"],
        ),
        (
            {"optimizer": {"kind": "lbfgs"}, "param_groups": [{"match": "head.*", "lr": 0.1}]},
            ["body", "param_groups"],
        ),
        (
            {"optimizer": {"kind": "adagrad"}, "scheduler": {"kind": "onecycle"}},
            ["body", "scheduler", "cycle_momentum"],
        ),
        ({"loss": {"kind": "bce", "targets": "binary"}}, ["body", "loss", "targets"]),
        ({"loss": {"kind": "cross_entropy", "weight": [1, 2]}}, ["body", "loss", "weight"]),
        ({"optimizer": {"kind": "rmsprop", "alpha": 2}}, ["body", "optimizer", "rmsprop", "alpha"]),
        (
            {"scheduler": {"kind": "multistep", "milestones": [5, 2]}},
            ["body", "scheduler", "multistep"],
        ),
        ({"num_workers": -1}, ["body", "num_workers"]),
        ({"model": {"kind": "plugin", "name": "Nope"}}, ["body", "model", "name"]),
        (
            {"data": {"kind": "torchvision", "name": "mnist", "root": "/etc"}},
            ["body", "data", "root"],
        ),
        (
            {
                "data": {
                    "kind": "csv_images",
                    "image_dir": ".",
                    "labels_csv": "../x.csv",
                    "train_list": "a",
                    "val_list": "b",
                }
            },
            ["body", "data", "labels_csv"],
        ),
    ],
)
def test_choices_that_cannot_work_are_a_422_naming_the_field(client, changes, loc) -> None:
    response = client.post("/api/runs", json={**TINY_CONFIG, **changes})
    assert response.status_code == 422, response.text
    assert loc in [error["loc"][: len(loc)] for error in response.json()["detail"]]
    assert client.get("/api/runs").json()["count"] == 0


def test_plugin_models_are_listed_in_the_schema_and_train(client, settings, execute) -> None:
    settings.plugins_path.mkdir(parents=True)
    (settings.plugins_path / "mine.py").write_text(PLUGIN)
    schema = client.get("/api/schema/run-config").json()
    assert schema["$defs"]["PluginModel"]["properties"]["name"]["enum"] == ["TinyNet"]

    response = client.post(
        "/api/runs", json={**TINY_CONFIG, "model": {"kind": "plugin", "name": "TinyNet"}}
    )
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    assert execute(run_id) == "succeeded"
    run = client.get(f"/api/runs/{run_id}").json()
    assert "TinyNet" in run["model_summary"] and run["parameter_count"] == 650


def test_lrs_and_the_optimizer_inspector_are_served_per_epoch(client, make_run, execute) -> None:
    changes: dict[str, Any] = {
        "optimizer": {"kind": "sgd", "lr": 0.1, "momentum": 0.9},
        "param_groups": [{"match": "head.*", "lr": 0.02}],
        "scheduler": {"kind": "exponential", "gamma": 0.5},
        "max_epochs": 2,
    }
    run = make_run(**changes)
    assert execute(run["id"]) == "succeeded"
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["lrs"] for row in epochs] == [[0.1, 0.02], [0.05, 0.01]]
    history = client.get(f"/api/runs/{run['id']}/optimizer").json()["epochs"]
    summary = history[-1]["optimizer_summary"]
    assert summary["optimizer"] == "SGD" and summary["defaults"]["momentum"] == 0.9
    head = summary["groups"][1]
    assert head["hyperparameters"]["lr"] == 0.01
    buffer = head["parameters"][0]["state"]["momentum_buffer"]
    assert buffer["shape"] == [10, 32] and buffer["norm"] > 0
