"""What `GET /api/runs/{id}/evaluation` returns: the best epoch's evaluation, per task.

Every field is present for every task; those of the other tasks are empty (`averages`: null), so
a client written for classification reads any run. A number that is not defined (a diverged
model, R² of a single sample) is null.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.web.shape_base import Shape


class MisclassifiedPublic(Shape):
    index: int = Field(description="Position in the validation split.")
    true: int
    predicted: int
    thumbnail_url: str | None = Field(description="A PNG of the input; null unless an image.")
    values: list[float | None] | None = Field(
        None, description="The input's first values when it is not an image, else null."
    )
    text: str | None = Field(
        None, description="Text data: the sample's text (its first 500 characters), else null."
    )


class Scores(Shape):
    precision: float | None
    recall: float | None
    f1: float | None


class LabelScores(Scores):
    name: str
    support: int = Field(description="Validation samples that have the label.")
    predicted: int = Field(description="Validation samples the model gives the label.")


class Averages(Shape):
    micro: Scores
    macro: Scores


class Scatter(Shape):
    true: list[float]
    predicted: list[float]


class Histogram(Shape):
    edges: list[float] = Field(description="bins + 1 edges, equal bins.")
    counts: list[int]


class TargetReport(Shape):
    name: str
    count: int
    mae: float | None
    rmse: float | None
    r2: float | None
    scatter: Scatter | None = Field(
        description="Predicted against true, at most 2,000 samples evenly spaced over the split; "
        "null past the first 12 targets."
    )
    residuals: Histogram | None = Field(
        description="Histogram of true - predicted over the split; null past the first 12 targets."
    )


class EvaluationPublic(Shape):
    task: Literal["classification", "multilabel", "regression"]
    epoch: int = Field(description="The evaluated (best) epoch.")
    class_names: list[str] = Field(
        description="The classes (classification), labels (multilabel) or targets (regression)."
    )
    confusion: list[list[int]] = Field(description="Classification: rows true, columns predicted.")
    per_class_accuracy: list[float | None]
    misclassified: list[MisclassifiedPublic] = Field(description="Classification: at most 48.")
    labels: list[LabelScores] = Field(description="Multilabel: one entry per label.")
    averages: Averages | None = Field(description="Multilabel: micro and macro averages.")
    targets: list[TargetReport] = Field(description="Regression: one entry per target.")
