"""The task's own validation metrics, as torchmetrics objects keyed by their recorded name.

Each compares what `TaskLoss.predict` makes of the outputs with the targets: class indices
(classification), 0/1 per label (multi-label), the outputs themselves (regression).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MultilabelF1Score
from torchmetrics.functional.classification.accuracy import _accuracy_reduce
from torchmetrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score

from trainer.config.tasks import Task


class MicroAccuracy(MulticlassAccuracy):
    """MulticlassAccuracy(average="micro"), its share divided in float64.

    torchmetrics divides its integer counts in float32; the epoch row has always held the exact
    share correct / total (a float64), and classification runs must record the same value as
    before. The counts, their update and their sync across ranks are torchmetrics' own.
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes, average="micro", validate_args=False)

    def compute(self) -> torch.Tensor:
        tp, fp, tn, fn = (state.double() for state in self._final_state())
        return _accuracy_reduce(tp, fp, tn, fn, average="micro")


def builtin_metrics(
    task: Task, num_classes: int, num_outputs: int
) -> dict[str, Metric | MetricCollection]:
    """The metrics (all but the losses) that `builtin_metric_names(task)` lists for validation.

    validate_args=False: the predictions come from our own `predict`, so torchmetrics' checks of
    their range and type would only cost time.
    """
    if task == "classification":
        # Binary BCE has one output but two classes: the predictions are class indices 0/1.
        classes = max(num_classes, 2)
        return {
            "val_accuracy": MicroAccuracy(classes),
            "val_f1_macro": MulticlassF1Score(classes, average="macro", validate_args=False),
        }
    if task == "multilabel":
        return {
            "val_f1_micro": MultilabelF1Score(num_outputs, average="micro", validate_args=False),
            "val_f1_macro": MultilabelF1Score(num_outputs, average="macro", validate_args=False),
        }
    # Per target, then averaged over the targets (as scikit-learn's multioutput
    # "uniform_average"): one target's error does not drown another's of a smaller scale.
    return {
        "val_mae": MeanAbsoluteError(num_outputs=num_outputs),
        "val_rmse": MeanSquaredError(squared=False, num_outputs=num_outputs),
        "val_r2": R2Score(multioutput="uniform_average"),
    }
