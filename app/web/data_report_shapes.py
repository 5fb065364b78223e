"""The `data_report` of `POST /api/preflight`: what the worker found in the run's data files
(a table's or a text file's columns), for the data kinds that read such files; null for the
others."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.web.shape_base import Shape


class DataColumnPublic(Shape):
    name: str
    dtype: str = Field(description="pandas' dtype of the column: int64, float64, object, ...")
    role: Literal["feature", "target", "text", "ignored"]
    missing: int = Field(description="Empty cells, over the training and validation files.")


class RowCountsPublic(Shape):
    train: int
    val: int


class TargetRangePublic(Shape):
    min: float
    max: float


class DataReportPublic(Shape):
    kind: str = Field(description="The data kind: table or text.")
    rows: RowCountsPublic = Field(description="Rows of each split.")
    columns: list[DataColumnPublic]
    classes: list[str] | None = Field(
        description="Classification: the class names; multilabel: the label columns; else null."
    )
    target_range: TargetRangePublic | None = Field(
        description="Regression: the smallest and largest target value of the training split."
    )
    vocabulary_size: int | None = Field(
        description="Text: tokens in the vocabulary built on the training split; else null."
    )
