"""Evaluation of one checkpoint on the validation split, per task.

Run by the worker once a run ends, on its best epoch. It builds the run's data, model and loss
exactly as training did (`setup_run`, plugins included) but on the CPU, loads the checkpoint's
weights, predicts the whole validation split and reports what fits the task:

- classification: the confusion matrix and some misclassified samples (small images for image
  inputs, the first values otherwise);
- multilabel: per-label precision, recall, F1 and support;
- regression: per target MAE, RMSE, R², a predicted-vs-true scatter and a residual histogram.

What it returns is plain data, so the worker can save it as JSON and the web server, which never
imports torch, can serve it and render thumbnails from it with Pillow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional
from torch.utils.data import DataLoader

from trainer.checkpoints.store import load_checkpoint
from trainer.config import RunConfig
from trainer.evaluation.reports import confusion_matrix, multilabel_report, regression_report
from trainer.setup import setup_run

MAX_EXAMPLES = 48
MAX_THUMBNAIL_SIDE = 64
MAX_VALUES = 32  # of a misclassified sample that is not an image: its first values
MAX_TEXT = 500  # characters shown of a misclassified text
BATCH_SIZE = 256


@dataclass
class Evaluation:
    """A checkpoint's predictions on the validation split, summed up for its task.

    `class_names` are the classes (classification), the labels (multilabel) or the targets
    (regression). The fields of the other tasks stay empty.
    """

    epoch: int
    class_names: list[str]
    # classification: rows the true class, columns the predicted one
    confusion: list[list[int]] = field(default_factory=list)
    # classification: {"index": position in the validation split, "true": class, "predicted":
    #  class, "image": H x W (grayscale) or H x W x 3 nested lists of 0-255 ints, or None,
    #  "values": the input's first MAX_VALUES values when it is not an image, else None,
    #  "text": a text sample's first MAX_TEXT characters (text data only)}
    misclassified: list[dict[str, Any]] = field(default_factory=list)
    task: str = "classification"
    # multilabel: {"name", "precision", "recall", "f1", "support", "predicted"} per label
    labels: list[dict[str, Any]] = field(default_factory=list)
    # multilabel: {"micro": {"precision", "recall", "f1"}, "macro": {...}}
    averages: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # regression: {"name", "count", "mae", "rmse", "r2", "scatter", "residuals"} per target
    targets: list[dict[str, Any]] = field(default_factory=list)


@torch.no_grad()
def evaluate_checkpoint(
    config: RunConfig,
    checkpoint: Path,
    epoch: int,
    *,
    plugins_dir: Path | None = None,
    max_examples: int = MAX_EXAMPLES,
) -> Evaluation:
    """Predict the validation split with the checkpoint's weights, on the CPU, and report on it.

    `plugins_dir` is where the run's plugin classes (Dataset, model, loss) are found.
    """
    # One process on the CPU, no compiler: the evaluation needs only the plain model.
    local = config.model_copy(
        update={"device": "cpu", "processes": 1, "amp": False, "compile": False}
    )
    loaded = load_checkpoint(checkpoint)
    # The data is read with the preprocessing the run fitted (a table's statistics, ...).
    setup = setup_run(local, plugins_dir=plugins_dir, data_state=loaded["state"].get("data_state"))
    model, loss_fn, data = setup.model, setup.loss_fn, setup.data
    model.load_state_dict(loaded["model"])
    model.eval()
    if config.task == "classification":
        return _classification(model, loss_fn, data.val, data.class_names, epoch, max_examples)
    targets, predicted = _predict_all(model, loss_fn, data.val)
    if config.task == "multilabel":
        names = _column_names(data.class_names, targets, "label")
        labels, averages = multilabel_report(targets, predicted, names)
        return Evaluation(epoch, names, task="multilabel", labels=labels, averages=averages)
    names = _column_names(data.class_names, targets, "target")
    report = regression_report(targets, predicted, names)
    return Evaluation(epoch, names, task="regression", targets=report)


def _classification(
    model: torch.nn.Module,
    loss_fn: Any,
    val: Any,
    class_names: list[str],
    epoch: int,
    max_examples: int,
) -> Evaluation:
    """The confusion matrix, summed batch by batch, and the first misclassified samples."""
    classes = len(class_names)
    confusion = torch.zeros(classes, classes, dtype=torch.long)
    misclassified: list[dict[str, Any]] = []
    seen = 0
    texts = getattr(val, "texts", None)  # a text data set keeps the texts its ids came from
    for inputs, targets in DataLoader(val, batch_size=BATCH_SIZE, shuffle=False):
        predicted = loss_fn.predict(model(inputs)).reshape(-1)
        confusion += confusion_matrix(targets.reshape(-1), predicted, classes)
        for offset in (predicted != targets.reshape(-1)).nonzero().flatten().tolist():
            if len(misclassified) >= max_examples:
                break
            misclassified.append(
                {
                    "index": seen + offset,
                    "true": int(targets[offset]),
                    "predicted": int(predicted[offset]),
                    **_shown_input(inputs, offset, texts, seen + offset),
                }
            )
        seen += len(targets)
    return Evaluation(epoch, class_names, confusion.tolist(), misclassified)


def _predict_all(
    model: torch.nn.Module, loss_fn: Any, val: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets and predictions of the whole split, N x (values per sample) each."""
    targets, predicted = [], []
    for inputs, batch_targets in DataLoader(val, batch_size=BATCH_SIZE, shuffle=False):
        # The loss says what an output means: 0/1 labels (multilabel), values (regression).
        guess = loss_fn.predict(model(inputs))
        targets.append(batch_targets.reshape(len(batch_targets), -1).float())
        predicted.append(guess.reshape(len(batch_targets), -1).float())
    return torch.cat(targets), torch.cat(predicted)


def _column_names(names: list[str], targets: torch.Tensor, prefix: str) -> list[str]:
    """The data's names for the target columns; `target`, `target_0`, ... when it has none."""
    count = targets.shape[1]
    if len(names) == count:
        return list(names)
    return [prefix] if count == 1 else [f"{prefix}_{i}" for i in range(count)]


def _shown_input(
    inputs: Any, offset: int, texts: list[str] | None = None, index: int = 0
) -> dict[str, Any]:
    """What the page shows of a sample's input: a text's first MAX_TEXT characters, an image's
    pixels, or else its first values.

    A plugin Dataset's input may be a structure (a dict, a tuple): then nothing.
    """
    if texts is not None:
        return {"image": None, "values": None, "text": texts[index][:MAX_TEXT]}
    if not isinstance(inputs, torch.Tensor):
        return {"image": None, "values": None}
    pixels = _thumbnail_pixels(inputs[offset])
    return {"image": pixels, "values": _first_values(inputs[offset]) if pixels is None else None}


def _thumbnail_pixels(image: torch.Tensor) -> list | None:
    """A C x H x W image in [0, 1] as 0-255 ints, at most MAX_THUMBNAIL_SIDE pixels a side."""
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        return None  # not an image (e.g. tabular features): no thumbnail
    side = max(image.shape[1:])
    if side > MAX_THUMBNAIL_SIDE:
        scale = MAX_THUMBNAIL_SIDE / side
        size = [max(1, round(image.shape[1] * scale)), max(1, round(image.shape[2] * scale))]
        image = functional.interpolate(image[None].float(), size=size, mode="area")[0]
    pixels = (image.float().clamp(0, 1) * 255).round().to(torch.uint8)
    if pixels.shape[0] == 1:
        return pixels[0].tolist()
    return pixels.permute(1, 2, 0).tolist()


def _first_values(sample: torch.Tensor) -> list[float | None]:
    """A sample that is not an image, flattened: its first values, to 4 significant digits."""
    values = sample.reshape(-1)[:MAX_VALUES].double().tolist()
    return [float(f"{value:.4g}") if math.isfinite(value) else None for value in values]
