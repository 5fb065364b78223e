"""Tables the tests write into a data root, from scikit-learn's bundled data sets (read from its
package: nothing is downloaded), small enough to train in a second."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.datasets import load_diabetes, load_iris


def iris_frame() -> pd.DataFrame:
    """150 irises: four numeric measures, a text column, and the species as text labels."""
    bunch = load_iris(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame["garden"] = ["north", "south", "east"] * 50  # a categorical feature, one-hot encoded
    frame["species"] = [str(bunch.target_names[i]) for i in bunch.target]
    return frame


def write_iris(root: Path, name: str = "iris.csv") -> Path:
    path = root / name
    iris_frame().to_csv(path, index=False)
    return path


def write_diabetes(root: Path, name: str = "diabetes.parquet", rows: int = 200) -> Path:
    """Diabetes progression (regression), ten numeric features; Parquet by default."""
    frame = load_diabetes(as_frame=True).frame.head(rows)
    path = root / name
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def write_iris_labels(root: Path, name: str = "iris_labels.csv") -> Path:
    """Iris with two 0/1 label columns (multilabel): long petals, wide sepals."""
    frame = iris_frame().drop(columns="species")
    frame["long_petal"] = (frame["petal_length"] > 4).astype(int)
    frame["wide_sepal"] = (frame["sepal_width"] > 3).astype(int)
    path = root / name
    frame.to_csv(path, index=False)
    return path


MULTILABEL_TARGET = ["long_petal", "wide_sepal"]
IRIS_FEATURES = ["sepal_length", "petal_width", "garden"]  # the two label-defining ones left out


def table_run(path: Path, target: str | list[str], task: str, **changes: object) -> dict:
    """A small run config on a table: an MLP, the task's usual loss, two epochs on the CPU."""
    loss = {"classification": "cross_entropy", "multilabel": "bce_with_logits", "regression": "mse"}
    config: dict = {
        "name": f"table-{task}",
        "task": task,
        "data": {"kind": "table", "path": str(path), "target": target},
        "model": {"kind": "mlp", "hidden_sizes": [16]},
        "loss": {"kind": loss[task]},
        "optimizer": {"kind": "adam", "lr": 0.01},
        "batch_size": 32,
        "max_epochs": 2,
        "device": "cpu",
        "seed": 0,
    }
    data = changes.pop("data", None)
    if isinstance(data, dict):
        config["data"] = {**config["data"], **data}
    return {**config, **changes}
