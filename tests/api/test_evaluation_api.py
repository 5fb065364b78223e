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
from tests.support.plugins import DIGITS_PLUGIN, copy_example_plugins
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
        {"index": 7, "true": 0, "predicted": 1, "thumbnail_url": None, "values": None, "text": None}
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


def _best_epoch_metrics(client: TestClient, run_id: int) -> tuple[int, dict[str, float]]:
    """The run's best epoch and the metrics recorded at its end."""
    best = client.get(f"/api/runs/{run_id}").json()["best_epoch"]
    epochs = client.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
    return best, next(row["metrics"] for row in epochs if row["epoch"] == best)


def test_a_regression_run_on_a_plugin_dataset_is_evaluated_per_target(
    client: TestClient, settings: Settings, execute
) -> None:
    copy_example_plugins(settings.plugins_path)
    config = {
        **TINY_CONFIG,
        "task": "regression",
        "data": {"kind": "plugin", "name": "Diabetes"},
        "model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": 16}},
        "loss": {"kind": "mse"},
        "batch_size": 32,
    }
    response = client.post("/api/runs", json=config)
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    assert execute(run_id) == RunStatus.SUCCEEDED

    evaluation = client.get(f"/api/runs/{run_id}/evaluation").json()
    best, recorded = _best_epoch_metrics(client, run_id)
    assert evaluation["task"] == "regression" and evaluation["epoch"] == best
    assert evaluation["class_names"] == ["progression"]  # the Dataset's `classes`
    (target,) = evaluation["targets"]
    assert target["name"] == "progression" and target["count"] == 88  # 20 % of 442 patients
    assert len(target["scatter"]["true"]) == len(target["scatter"]["predicted"]) == 88
    assert sum(target["residuals"]["counts"]) == 88
    # The best checkpoint predicts what that epoch's validation measured.
    for name in ("mae", "rmse", "r2"):
        assert abs(target[name] - recorded[f"val_{name}"]) < 1e-4, name
    assert evaluation["confusion"] == evaluation["labels"] == []


def test_a_multilabel_run_is_evaluated_per_label(
    client: TestClient, settings: Settings, execute
) -> None:
    copy_example_plugins(settings.plugins_path)
    config = {
        **TINY_CONFIG,
        "task": "multilabel",
        "data": {"kind": "plugin", "name": "DigitProperties"},
        "model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": 32, "depth": 1}},
        "loss": {"kind": "bce_with_logits"},
    }
    response = client.post("/api/runs", json=config)
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    assert execute(run_id) == RunStatus.SUCCEEDED

    evaluation = client.get(f"/api/runs/{run_id}/evaluation").json()
    best, recorded = _best_epoch_metrics(client, run_id)
    assert evaluation["task"] == "multilabel" and evaluation["epoch"] == best
    names = ["even", "above_four", "prime", "has_loop"]
    assert evaluation["class_names"] == names
    assert [label["name"] for label in evaluation["labels"]] == names
    assert all(label["support"] > 0 for label in evaluation["labels"])
    assert abs(evaluation["averages"]["macro"]["f1"] - recorded["val_f1_macro"]) < 1e-5
    assert abs(evaluation["averages"]["micro"]["f1"] - recorded["val_f1_micro"]) < 1e-5
    assert evaluation["targets"] == [] and evaluation["confusion"] == []


def test_misclassified_inputs_that_are_not_images_show_their_values(
    client: TestClient, settings: Settings, execute
) -> None:
    settings.plugins_path.mkdir(parents=True)
    (settings.plugins_path / "digits.py").write_text(DIGITS_PLUGIN)
    config = {**TINY_CONFIG, "max_epochs": 1, "data": {"kind": "plugin", "name": "PluginDigits"}}
    response = client.post("/api/runs", json=config)
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    assert execute(run_id) == RunStatus.SUCCEEDED

    evaluation = client.get(f"/api/runs/{run_id}/evaluation").json()
    assert evaluation["task"] == "classification"
    assert sum(map(sum, evaluation["confusion"])) == 360  # the plugin's last fifth of 1,797
    example = evaluation["misclassified"][0]
    assert example["thumbnail_url"] is None  # 64 flat values: not an image
    assert len(example["values"]) == 32  # the first of them, as the Dataset gives them
    assert all(0 <= value <= 1 for value in example["values"])
