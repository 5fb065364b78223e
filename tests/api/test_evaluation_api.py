"""`GET /api/runs/{id}/evaluation` per task: every field for every task (those of the other tasks
empty), the task's own filled in; and a file saved before tasks existed still reads."""

from __future__ import annotations

import json

import torch
from fastapi.testclient import TestClient

from app.exports.evaluation import encode_evaluation
from app.files import RunFiles
from app.settings import Settings
from app.storage.tables import RunStatus
from tests.support.runs import TINY_CONFIG
from trainer.evaluation import Evaluation
from trainer.evaluation.reports import multilabel_report, regression_report

FIELDS = {
    "task", "epoch", "class_names", "confusion", "per_class_accuracy", "misclassified",
    "labels", "averages", "targets",
}  # fmt: skip


# A model plugin: the worker imports it from the plugins folder to train, then to evaluate.
FLAT_NET = """
import math
from torch import nn


class FlatNet(nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.linear = nn.Linear(math.prod(input_shape), num_classes)

    def forward(self, x):
        return self.linear(x.flatten(1))
"""


def _store(settings: Settings, run_id: int, data: bytes) -> None:
    """The file the worker writes when a run ends, written the way it writes it."""
    RunFiles(settings).write_evaluation(run_id, data)


def test_multilabel_evaluation_has_per_label_scores(
    client: TestClient, make_run, settings: Settings
) -> None:
    run = make_run()
    targets = torch.tensor([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]]).float()
    predicted = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1]]).float()
    names = ["even", "prime", "has_loop"]
    labels, averages = multilabel_report(targets, predicted, names)
    _store(
        settings,
        run["id"],
        encode_evaluation(
            Evaluation(3, names, task="multilabel", labels=labels, averages=averages)
        ),
    )
    evaluation = client.get(f"/api/runs/{run['id']}/evaluation").json()
    assert set(evaluation) == FIELDS
    assert evaluation["task"] == "multilabel" and evaluation["epoch"] == 3
    assert evaluation["class_names"] == names
    assert evaluation["labels"][0] == {
        "name": "even", "precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2, "predicted": 3
    }  # fmt: skip
    assert set(evaluation["averages"]) == {"micro", "macro"}
    assert set(evaluation["averages"]["micro"]) == {"precision", "recall", "f1"}
    assert evaluation["confusion"] == evaluation["misclassified"] == evaluation["targets"] == []


def test_regression_evaluation_has_per_target_errors_and_plots(
    client: TestClient, make_run, settings: Settings
) -> None:
    run = make_run()
    targets = torch.linspace(-1, 1, 3000).reshape(-1, 2)
    predicted = targets * 0.9
    report = regression_report(targets, predicted, ["height", "weight"])
    _store(
        settings,
        run["id"],
        encode_evaluation(Evaluation(5, ["height", "weight"], task="regression", targets=report)),
    )
    evaluation = client.get(f"/api/runs/{run['id']}/evaluation").json()
    assert set(evaluation) == FIELDS
    assert evaluation["task"] == "regression"
    height = evaluation["targets"][0]
    assert set(height) == {"name", "count", "mae", "rmse", "r2", "scatter", "residuals"}
    assert height["name"] == "height" and height["count"] == 1500
    assert len(height["scatter"]["true"]) == len(height["scatter"]["predicted"]) == 1500
    assert len(height["residuals"]["edges"]) == len(height["residuals"]["counts"]) + 1
    assert sum(height["residuals"]["counts"]) == 1500
    assert evaluation["labels"] == [] and evaluation["averages"] is None
    assert evaluation["confusion"] == evaluation["per_class_accuracy"] == []


def test_an_evaluation_saved_before_tasks_reads_as_classification(
    client: TestClient, make_run, settings: Settings
) -> None:
    run = make_run()
    old = {
        "epoch": 2,
        "class_names": ["a", "b"],
        "confusion": [[3, 1], [0, 4]],
        "misclassified": [{"index": 7, "true": 0, "predicted": 1, "image": None}],
    }
    _store(settings, run["id"], json.dumps(old).encode())
    evaluation = client.get(f"/api/runs/{run['id']}/evaluation").json()
    assert evaluation["task"] == "classification"
    assert evaluation["per_class_accuracy"] == [0.75, 1.0]
    assert evaluation["misclassified"] == [
        {"index": 7, "true": 0, "predicted": 1, "thumbnail_url": None, "values": None}
    ]
    assert evaluation["labels"] == evaluation["targets"] == [] and evaluation["averages"] is None


def test_a_plugin_model_run_is_evaluated(client: TestClient, settings: Settings, execute) -> None:
    settings.plugins_path.mkdir(parents=True)
    (settings.plugins_path / "flat.py").write_text(FLAT_NET)
    config = {**TINY_CONFIG, "max_epochs": 1, "model": {"kind": "plugin", "name": "FlatNet"}}
    run = client.post("/api/runs", json=config).json()
    assert execute(run["id"]) == RunStatus.SUCCEEDED

    evaluation = client.get(f"/api/runs/{run['id']}/evaluation").json()
    assert evaluation["task"] == "classification" and evaluation["epoch"] == 1
    assert sum(map(sum, evaluation["confusion"])) == 359  # every validation digit, once
    accuracy = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"][0]["val_accuracy"]
    # the same predictions as the epoch's validation (its accuracy may be a float32)
    assert abs(sum(evaluation["confusion"][i][i] for i in range(10)) / 359 - accuracy) < 1e-6
