"""What the Check button shows about a run's data: the columns found, their types and roles,
missing values, the classes or the target range, and the rows of each split.

Built by the data kinds that read files the user gives (tables, texts) while they read them, so
the report describes exactly what training will see. Plain data: the preflight sends it to the
server, which never imports torch. The shape is `DataReportPublic` in
app/web/data_report_shapes.py.
"""

from __future__ import annotations

from typing import Literal, TypedDict

Role = Literal["feature", "target", "text", "ignored"]


class ColumnReport(TypedDict):
    name: str
    dtype: str  # pandas' dtype name: int64, float64, object, category, bool, ...
    role: Role
    missing: int  # empty cells in the training file (and the validation file, if one)


class RowCounts(TypedDict):
    train: int
    val: int


class TargetRange(TypedDict):
    min: float
    max: float


class DataReport(TypedDict):
    kind: str  # the data kind: "table", "text"
    rows: RowCounts
    columns: list[ColumnReport]
    classes: list[str] | None  # classification: the class names; multilabel: the labels
    target_range: TargetRange | None  # regression: over every target column of the train split
    vocabulary_size: int | None  # text: the tokens of the vocabulary built on the train split
