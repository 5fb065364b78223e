"""How a table's columns become numbers: the statistics fitted on the training split and the
encoding that applies them to any split.

Numeric feature columns are standardized, `(x - mean) / std`, with the training split's mean and
standard deviation (a constant column keeps std 1, so it maps to 0). Categorical columns (text,
true/false, or numeric ones the config names) are one-hot encoded over the categories the
training split has, in sorted order; a category the training split never saw (in a validation
file) encodes as all zeros, as scikit-learn's `OneHotEncoder(handle_unknown="ignore")` does, so
a rare category does not fail the run. One-hot rather than embedding codes: the built-in MLP
then takes a table as it is, and the width stays small for the categories a table usually has
(a column with more than MAX_CATEGORIES is refused).

The fitted statistics are a plain dict (`TableState.as_dict`), saved in every checkpoint as its
"data_state" and read back with `TableState.from_dict`: resume, evaluation and the exported
bundle encode with the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

MAX_CATEGORIES = 1000


def is_numeric_column(series: pd.Series) -> bool:
    """True for int and float columns; text, true/false and category columns are categorical."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def category_labels(series: pd.Series) -> pd.Series:
    """A column's values as category names (text): whole floats written as integers, so the
    labels `1.0` and `1` of two files are the same category."""
    if pd.api.types.is_float_dtype(series) and bool((series.dropna() % 1 == 0).all()):
        series = series.astype("Int64")
    return series.astype(str)


@dataclass(frozen=True)
class FeatureEncoding:
    """One feature column: standardized (numeric) or one-hot (categorical)."""

    name: str
    kind: Literal["numeric", "categorical"]
    mean: float = 0.0
    std: float = 1.0
    categories: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return 1 if self.kind == "numeric" else len(self.categories)


@dataclass(frozen=True)
class TableState:
    """Everything fitted on the training split: the feature encodings in input order, the
    target columns, and the class names of a classification target."""

    features: list[FeatureEncoding]
    targets: list[str]
    classes: list[str] | None

    @property
    def width(self) -> int:
        return sum(feature.width for feature in self.features)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "table",
            "features": [vars(feature).copy() for feature in self.features],
            "targets": list(self.targets),
            "classes": None if self.classes is None else list(self.classes),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TableState:
        return cls(
            features=[FeatureEncoding(**feature) for feature in state["features"]],
            targets=list(state["targets"]),
            classes=None if state["classes"] is None else list(state["classes"]),
        )


def fit_features(
    train: pd.DataFrame, names: list[str], categorical: set[str]
) -> list[FeatureEncoding]:
    """The encoding of each feature column, fitted on the training split (already checked:
    no missing values, numeric columns numeric)."""
    encodings = []
    for name in names:
        column = train[name]
        if name in categorical or not is_numeric_column(column):
            categories = sorted(set(category_labels(column)))
            encodings.append(FeatureEncoding(name, "categorical", categories=categories))
            continue
        values = column.to_numpy(dtype=np.float64)
        std = float(values.std()) if len(values) else 0.0
        encodings.append(
            FeatureEncoding(
                name,
                "numeric",
                mean=float(values.mean()) if len(values) else 0.0,
                # A constant column carries no information; std 1 keeps it at 0, not NaN.
                std=std if std > 0 and np.isfinite(std) else 1.0,
            )
        )
    return encodings


def encode_features(frame: pd.DataFrame, features: list[FeatureEncoding]) -> np.ndarray:
    """The inputs of `frame`'s rows, N x width float32, one column block per feature."""
    width = sum(feature.width for feature in features)
    out = np.zeros((len(frame), width), dtype=np.float32)
    start = 0
    for feature in features:
        column = frame[feature.name]
        if feature.kind == "numeric":
            values = pd.to_numeric(column).to_numpy(dtype=np.float64)
            out[:, start] = (values - feature.mean) / feature.std
        else:
            codes = pd.Categorical(category_labels(column), categories=feature.categories).codes
            known = codes >= 0  # -1: a category the training split did not have -> all zeros
            out[np.flatnonzero(known), start + codes[known]] = 1.0
        start += feature.width
    return out


def sorted_classes(labels: pd.Series) -> list[str]:
    """The distinct labels, sorted numerically when every one is an integer, else as text."""
    names = set(category_labels(labels))
    if names and all(name.lstrip("-").isdigit() for name in names):
        return sorted(names, key=int)
    return sorted(names)
