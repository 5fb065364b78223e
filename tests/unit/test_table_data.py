"""The table kind's reading and encoding, on small tables written here: statistics from the
training split only, a validation file's unseen category and unseen label, TSV and Parquet, and
the saved statistics reused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from trainer.config import TableData
from trainer.data.table_data import TableError, build_table_splits


def write(path: Path, frame: pd.DataFrame) -> str:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return str(path)


TRAIN = pd.DataFrame(
    {"size": [1.0, 2.0, 3.0, 4.0], "shape": ["a", "b", "a", "b"], "label": ["x", "y", "x", "y"]}
)


def test_inputs_use_the_training_statistics_and_unseen_categories_encode_as_zeros(
    tmp_path: Path,
) -> None:
    val = pd.DataFrame({"size": [10.0], "shape": ["c"], "label": ["y"]})
    config = TableData(
        path=write(tmp_path / "train.tsv", TRAIN),
        val_path=write(tmp_path / "val.parquet", val),
        target="label",
    )
    splits = build_table_splits(config, "classification")
    std = TRAIN["size"].std(ddof=0)
    assert splits.val.tensors[0].tolist() == [[pytest.approx((10 - 2.5) / std), 0.0, 0.0]]
    assert splits.train.tensors[0][:, 1:].tolist() == [[1, 0], [0, 1], [1, 0], [0, 1]]
    assert splits.train.tensors[1].tolist() == [0, 1, 0, 1] and splits.class_names == ["x", "y"]

    # The saved statistics are used as they are, whatever the file says now.
    write(tmp_path / "train.tsv", TRAIN.assign(size=TRAIN["size"] * 100))
    again = build_table_splits(config, "classification", splits.state.as_dict())
    assert again.state == splits.state
    assert torch.equal(again.val.tensors[0], splits.val.tensors[0])


def test_a_label_the_training_table_lacks_and_non_binary_labels_name_their_rows(
    tmp_path: Path,
) -> None:
    val = pd.DataFrame({"size": [1.0, 2.0, 3.0], "shape": ["a"] * 3, "label": ["x", "z", "z"]})
    config = TableData(
        path=write(tmp_path / "train.csv", TRAIN),
        val_path=write(tmp_path / "val.csv", val),
        target="label",
    )
    with pytest.raises(TableError, match=r"label\(s\) \['z'\] .* at lines 3, 4"):
        build_table_splits(config, "classification")

    labels = TRAIN.assign(a=[0, 1, 2, 1], b=[1, 1, 0, 0]).drop(columns="label")
    config = TableData(path=write(tmp_path / "labels.parquet", labels), target=["a", "b"])
    with pytest.raises(TableError, match=r"column 'a': a multilabel target must be 0 or 1, and "
                       r"is not at row 3"):  # fmt: skip
        build_table_splits(config, "multilabel")


def test_the_report_of_a_regression_table_gives_the_training_targets_range(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4, 5], "price": [9.5, 1.0, 4.0, 7.0, 3.0]})
    config = TableData(path=write(tmp_path / "prices.parquet", frame), target="price")
    splits = build_table_splits(config, "regression")
    report = splits.report
    prices = splits.train.tensors[1]
    assert report["target_range"] == {"min": float(prices.min()), "max": float(prices.max())}
    assert report["rows"] == {"train": 4, "val": 1} and report["classes"] is None
    assert [(c["name"], c["dtype"], c["role"]) for c in report["columns"]] == [
        ("x", "int64", "feature"), ("price", "float64", "target"),
    ]  # fmt: skip
    assert splits.target_shape == () and splits.input_shape == (1,)
