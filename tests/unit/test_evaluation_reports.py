"""The evaluation's per-task numbers agree with scikit-learn's on known outputs and targets, and
what it stores is plain, strict JSON (no NaN) however the model did."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn import metrics

from trainer.evaluation.reports import confusion_matrix, multilabel_report, regression_report


def _labels(seed: int, samples: int, labels: int) -> torch.Tensor:
    return (
        torch.rand(samples, labels, generator=torch.Generator().manual_seed(seed)) > 0.6
    ).float()


def test_confusion_matrix_is_scikit_learns() -> None:
    generator = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 5, (300,), generator=generator)
    predicted = torch.randint(0, 5, (300,), generator=generator)
    ours = confusion_matrix(targets, predicted, 5).tolist()
    assert ours == metrics.confusion_matrix(targets, predicted, labels=range(5)).tolist()


def test_multilabel_scores_per_label_and_averaged_are_scikit_learns() -> None:
    targets, predicted = _labels(1, 200, 5), _labels(2, 200, 5)
    targets[:, 3] = 0  # a label no sample has,
    predicted[:, 3] = 0  # and nobody predicts: every ratio divides by 0
    predicted[:, 4] = 0  # a label present but never predicted: precision divides by 0
    names = ["a", "b", "c", "never", "missed"]
    labels, averages = multilabel_report(targets, predicted, names)

    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        targets.numpy(), predicted.numpy(), average=None, zero_division=0
    )
    assert [label["name"] for label in labels] == names
    assert [label["precision"] for label in labels] == pytest.approx(precision.tolist())
    assert [label["recall"] for label in labels] == pytest.approx(recall.tolist())
    assert [label["f1"] for label in labels] == pytest.approx(f1.tolist())
    assert [label["support"] for label in labels] == support.tolist()
    assert [label["predicted"] for label in labels] == predicted.sum(0).int().tolist()
    for average in ("micro", "macro"):
        expected = metrics.precision_recall_fscore_support(
            targets.numpy(), predicted.numpy(), average=average, zero_division=0
        )[:3]
        got = averages[average]
        assert [got["precision"], got["recall"], got["f1"]] == pytest.approx(list(expected))


def test_regression_errors_per_target_are_scikit_learns() -> None:
    generator = torch.Generator().manual_seed(3)
    targets = torch.randn(500, 3, generator=generator) * torch.tensor([1.0, 10.0, 0.1])
    predicted = targets + torch.randn(500, 3, generator=generator) * torch.tensor([0.5, 2, 0.3])
    report = regression_report(targets, predicted, ["x", "y", "z"])

    true, pred = targets.double().numpy(), predicted.double().numpy()
    assert [t["name"] for t in report] == ["x", "y", "z"]
    assert [t["count"] for t in report] == [500] * 3
    mae = metrics.mean_absolute_error(true, pred, multioutput="raw_values")
    rmse = metrics.root_mean_squared_error(true, pred, multioutput="raw_values")
    r2 = metrics.r2_score(true, pred, multioutput="raw_values")
    assert [t["mae"] for t in report] == pytest.approx(mae.tolist())
    assert [t["rmse"] for t in report] == pytest.approx(rmse.tolist())
    assert [t["r2"] for t in report] == pytest.approx(r2.tolist())


def test_a_constant_target_has_scikit_learns_r2() -> None:
    targets = torch.full((10, 1), 2.0)
    exact = regression_report(targets, targets.clone(), ["t"])[0]
    off = regression_report(targets, targets + 1, ["t"])[0]
    assert exact["r2"] == metrics.r2_score(targets.numpy(), targets.numpy()) == 1.0
    assert off["r2"] == metrics.r2_score(targets.numpy(), targets.numpy() + 1) == 0.0
    assert off["residuals"]["counts"][len(off["residuals"]["counts"]) // 2] == 10


def test_the_scatter_is_a_fixed_sample_and_the_histogram_counts_every_residual() -> None:
    generator = torch.Generator().manual_seed(4)
    targets = torch.randn(5000, 1, generator=generator)
    predicted = targets * 0.8 + torch.randn(5000, 1, generator=generator) * 0.2
    first = regression_report(targets, predicted, ["t"], max_points=2000, bins=30)[0]
    again = regression_report(targets, predicted, ["t"], max_points=2000, bins=30)[0]
    assert first["scatter"] == again["scatter"]  # deterministic, call after call

    scatter = first["scatter"]
    assert len(scatter["true"]) == len(scatter["predicted"]) == 2000
    # evenly spaced over the split, its first and last samples included, pairs kept together
    kept = np.linspace(0, 4999, 2000).round().astype(int)
    assert scatter["true"] == pytest.approx(targets[kept, 0].tolist(), rel=1e-5)
    assert scatter["predicted"] == pytest.approx(predicted[kept, 0].tolist(), rel=1e-5)

    histogram = first["residuals"]
    residuals = (targets - predicted).double().numpy()[:, 0]
    counts, edges = np.histogram(residuals, bins=30)
    assert histogram["counts"] == counts.tolist()
    assert histogram["edges"] == pytest.approx(edges.tolist(), rel=1e-5)


def test_only_the_first_targets_are_plotted() -> None:
    targets = torch.randn(50, 4, generator=torch.Generator().manual_seed(5))
    report = regression_report(targets, targets * 0.5, ["a", "b", "c", "d"], max_plotted=2)
    assert [t["scatter"] is not None for t in report] == [True, True, False, False]
    assert [t["residuals"] is not None for t in report] == [True, True, False, False]
    assert all(t["mae"] is not None for t in report)


def test_a_diverged_model_gives_strict_json() -> None:
    targets = torch.randn(20, 2, generator=torch.Generator().manual_seed(6))
    predicted = targets.clone()
    predicted[:, 1] = float("nan")
    predicted[3, 0] = float("inf")
    report = regression_report(targets, predicted, ["finite_but_one", "nan"])
    json.dumps(report, allow_nan=False)  # raises on NaN or infinity
    assert report[1]["mae"] is None and report[1]["r2"] is None
    assert report[1]["scatter"] == {"true": [], "predicted": []}
    assert report[1]["residuals"] == {"edges": [], "counts": []}
    assert len(report[0]["scatter"]["true"]) == 19  # the infinite prediction is not drawn
    assert sum(report[0]["residuals"]["counts"]) == 19

    labels, averages = multilabel_report(torch.zeros(5, 2), torch.zeros(5, 2), ["p", "q"])
    json.dumps([labels, averages], allow_nan=False)
    assert labels[0] == {
        "name": "p", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0
    }  # fmt: skip


def test_targets_and_predictions_of_different_widths_are_named() -> None:
    with pytest.raises(ValueError, match="predicts 2 value"):
        regression_report(torch.zeros(4, 3), torch.zeros(4, 2), ["a", "b", "c"])
