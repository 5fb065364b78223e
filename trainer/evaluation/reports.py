"""What the evaluation reports per task, from the whole validation split's predictions.

Pure functions of tensors (targets and predictions, one row per sample) that return plain data
(lists, dicts, numbers): the worker saves them as JSON and the server, which never imports torch,
serves them as they are. A number that is not finite (a diverged model) becomes None, since JSON
has no NaN.
"""

from __future__ import annotations

import math
from typing import Any

import torch

MAX_POINTS = 2000  # scatter points per target: enough to see the cloud, small enough to draw
RESIDUAL_BINS = 30
MAX_PLOTTED_TARGETS = 12  # targets past these get their numbers, not their plots


def confusion_matrix(targets: torch.Tensor, predicted: torch.Tensor, classes: int) -> torch.Tensor:
    """classes x classes counts: rows the true class, columns the predicted one."""
    pairs = targets.long() * classes + predicted.long()
    return torch.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def multilabel_report(
    targets: torch.Tensor, predicted: torch.Tensor, names: list[str]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float | None]]]:
    """Per label: precision, recall, F1, support (true positives' count) and how many samples the
    model marked; then their micro and macro averages.

    `targets` and `predicted` are N x L, 0/1. A ratio with nothing to divide is 0, as in
    scikit-learn with `zero_division=0` and in torchmetrics (which gives the run's val_f1_macro).
    """
    truth = targets.reshape(len(targets), -1) > 0.5
    guess = predicted.reshape(len(targets), -1) > 0.5
    true_pos = (truth & guess).sum(0).double()
    false_pos = (~truth & guess).sum(0).double()
    false_neg = (truth & ~guess).sum(0).double()
    scores = _scores(true_pos, false_pos, false_neg)
    labels = [
        {
            "name": name,
            "precision": _number(scores["precision"][i]),
            "recall": _number(scores["recall"][i]),
            "f1": _number(scores["f1"][i]),
            "support": int(truth[:, i].sum()),
            "predicted": int(guess[:, i].sum()),
        }
        for i, name in enumerate(names)
    ]
    micro = _scores(true_pos.sum(), false_pos.sum(), false_neg.sum())
    averages = {
        "micro": {key: _number(value) for key, value in micro.items()},
        "macro": {key: _number(value.mean()) for key, value in scores.items()},
    }
    return labels, averages


def _scores(
    true_pos: torch.Tensor, false_pos: torch.Tensor, false_neg: torch.Tensor
) -> dict[str, torch.Tensor]:
    return {
        "precision": _ratio(true_pos, true_pos + false_pos),
        "recall": _ratio(true_pos, true_pos + false_neg),
        "f1": _ratio(2 * true_pos, 2 * true_pos + false_pos + false_neg),
    }


def _ratio(part: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
    return torch.where(whole > 0, part / whole.clamp_min(1), torch.zeros_like(part))


def regression_report(
    targets: torch.Tensor,
    predicted: torch.Tensor,
    names: list[str],
    max_points: int = MAX_POINTS,
    bins: int = RESIDUAL_BINS,
    max_plotted: int = MAX_PLOTTED_TARGETS,
) -> list[dict[str, Any]]:
    """Per target: MAE, RMSE and R², a predicted-vs-true scatter and a histogram of the residuals
    (true - predicted).

    `targets` and `predicted` are N x T. The scatter keeps at most `max_points` samples, evenly
    spaced over the split's order (the same ones for every target, and the same on every call);
    the histogram has `bins` equal bins from the smallest residual to the largest. Targets past
    the first `max_plotted` have `scatter` and `residuals` None.
    """
    truth = targets.reshape(len(targets), -1).double()
    guess = predicted.reshape(len(targets), -1).double()
    if truth.shape != guess.shape:
        raise ValueError(
            f"the model predicts {guess.shape[1]} value(s) per sample, the targets have "
            f"{truth.shape[1]}"
        )
    kept = _evenly_spaced(len(truth), max_points)
    report = []
    for column, name in enumerate(names):
        true, pred = truth[:, column], guess[:, column]
        plotted = column < max_plotted
        report.append(
            {
                "name": name,
                "count": len(true),
                **_errors(true, pred),
                "scatter": _scatter(true[kept], pred[kept]) if plotted else None,
                "residuals": _histogram(true - pred, bins) if plotted else None,
            }
        )
    return report


def _errors(true: torch.Tensor, pred: torch.Tensor) -> dict[str, float | None]:
    """MAE, RMSE and R² as scikit-learn computes them (R² of a constant target: 1 when every
    prediction is exact, else 0; of fewer than two samples: None, it is not defined)."""
    error = true - pred
    squared = float((error**2).sum())
    spread = float(((true - true.mean()) ** 2).sum())
    if len(true) < 2:
        r2 = None
    elif spread > 0:
        r2 = 1 - squared / spread
    else:
        r2 = 1.0 if squared == 0 else 0.0
    return {
        "mae": _number(error.abs().mean()),
        "rmse": _number(math.sqrt(squared / len(true)) if len(true) else float("nan")),
        "r2": _number(r2),
    }


def _evenly_spaced(count: int, most: int) -> torch.Tensor:
    if count <= most:
        return torch.arange(count)
    return torch.linspace(0, count - 1, most, dtype=torch.float64).round().long()


def _scatter(true: torch.Tensor, pred: torch.Tensor) -> dict[str, list[float]]:
    """The points where both values are finite, rounded to 6 significant digits (smaller JSON)."""
    finite = true.isfinite() & pred.isfinite()
    return {
        "true": [_short(value) for value in true[finite].tolist()],
        "predicted": [_short(value) for value in pred[finite].tolist()],
    }


def _histogram(residuals: torch.Tensor, bins: int) -> dict[str, list[float] | list[int]]:
    """`bins` equal bins over the finite residuals' range: `bins + 1` edges and `bins` counts."""
    values = residuals[residuals.isfinite()]
    if not len(values):
        return {"edges": [], "counts": []}
    low, high = float(values.min()), float(values.max())
    if low == high:  # every residual the same: one value, centred in a range of width 1
        low, high = low - 0.5, high + 0.5
    counts, edges = torch.histogram(values, bins=bins, range=(low, high))
    return {
        "edges": [_short(edge) for edge in edges.tolist()],
        "counts": [int(count) for count in counts.tolist()],
    }


def _short(value: float) -> float:
    return float(f"{value:.6g}")


def _number(value: torch.Tensor | float | None) -> float | None:
    """A finite float, or None (JSON has no NaN or infinity)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
