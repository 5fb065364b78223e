"""A table as a run's data: read once with pandas, checked in one pass, encoded into tensors.

The file (CSV, TSV or Parquet) is read whole, every problem the data has is collected — a
column that is not there, empty cells, a value that is not a number where one is needed, a
multi-label target that is not 0/1, a label the classes do not have — and raised together,
naming each column and its rows, before anything trains. The training split's statistics are
then fitted (trainer/data/table_encoding.py) unless a checkpoint's are given, and both splits are
encoded once into a `TensorDataset`: training draws batches from those tensors (the in-memory
cache of trainer/data/tensor_cache.py), never from pandas row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from trainer.config.data import TableData
from trainer.config.tasks import Task
from trainer.data.data_report import ColumnReport, DataReport, Role, TargetRange
from trainer.data.table_encoding import (
    MAX_CATEGORIES,
    TableState,
    category_labels,
    encode_features,
    fit_features,
    is_numeric_column,
    sorted_classes,
)
from trainer.errors import ConfigProblem

ROWS_NAMED = 20  # a message names this many bad rows of a column, then counts the rest


class TableError(ConfigProblem):
    """Rows or columns of a table that cannot be used; the message lists every one of them."""


@dataclass(frozen=True)
class TableFile:
    """A table read from a file, and how its rows are named in messages (CSV: the line a text
    editor shows, the header being line 1; Parquet: the row, counting from 1)."""

    field: str  # "path" or "val_path"
    path: Path
    frame: pd.DataFrame

    @property
    def label(self) -> str:
        return f"{self.field} '{self.path.name}'"

    def rows(self, positions: np.ndarray) -> str:
        csv = self.path.suffix.lower() not in {".parquet", ".pq"}
        first = [str(int(p) + (2 if csv else 1)) for p in positions[:ROWS_NAMED]]
        more = len(positions) - len(first)
        named = ", ".join(first) + (f" and {more:,} more" if more else "")
        return f"{'line' if csv else 'row'}{'s' if len(positions) > 1 else ''} {named}"


@dataclass(frozen=True)
class TableSplits:
    train: TensorDataset
    val: TensorDataset
    class_names: list[str]
    input_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    state: TableState
    report: DataReport


def read_table(path: Path) -> pd.DataFrame:
    """The whole file: Parquet by its name (.parquet, .pq), a TSV by .tsv, else a CSV."""
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")


def build_table_splits(
    config: TableData, task: Task, data_state: dict[str, Any] | None = None
) -> TableSplits:
    """The encoded train and validation splits of the table `config` names; TableError lists
    every problem of its files at once."""
    files = [TableFile("path", Path(config.path), read_table(Path(config.path)))]
    if config.val_path:
        files.append(
            TableFile("val_path", Path(config.val_path), read_table(Path(config.val_path)))
        )
    saved = TableState.from_dict(data_state) if data_state else None
    targets = config.target_columns()
    features = _feature_names(config, files[0].frame, targets, saved)
    _require_columns(files, targets, features)
    if saved:
        numeric_features = {f.name for f in saved.features if f.kind == "numeric"}
    else:
        numeric_features = {
            name for name in features
            if name not in config.categorical and is_numeric_column(files[0].frame[name])
        }  # fmt: skip
    numeric = numeric_features | (set(targets) if task != "classification" else set())
    problems = [p for file in files for p in _file_problems(file, [*features, *targets], numeric)]
    problems += [p for file in files for p in _target_problems(file, targets, task)]
    if problems:
        raise TableError(("data", "path"), _message(problems))

    train_frame, val_frame = _split(config, files)
    if saved:
        state = saved
    else:
        classes = None
        if task == "classification":  # one file split in two: its labels are the classes
            labels = files[0].frame[targets[0]]
            classes = sorted_classes(labels if len(files) == 1 else train_frame[targets[0]])
        categorical = set(features) - numeric_features
        state = TableState(fit_features(train_frame, features, categorical), targets, classes)
    _check_fitted(state, files, task)
    # A class index, or one number for one target named as a string, else one per column.
    scalar = task == "classification" or (task == "regression" and isinstance(config.target, str))
    train_targets, val_targets = (_targets(f, state, task) for f in (train_frame, val_frame))
    if scalar and task == "regression":  # one number per row, as a plugin Dataset gives it
        train_targets, val_targets = train_targets[:, 0], val_targets[:, 0]
    train = TensorDataset(_inputs(train_frame, state), train_targets)
    val = TensorDataset(_inputs(val_frame, state), val_targets)
    names = state.classes if state.classes is not None else list(targets)
    target_shape: tuple[int, ...] = () if scalar else (len(targets),)
    report = _report(files, state, task, (train_frame, val_frame), train.tensors[1])
    return TableSplits(train, val, names, (state.width,), target_shape, state, report)


def _feature_names(
    config: TableData, frame: pd.DataFrame, targets: list[str], saved: TableState | None
) -> list[str]:
    if saved is not None:  # the columns the model was trained on, in its order
        return [feature.name for feature in saved.features]
    if config.features:
        return list(config.features)
    return [str(name) for name in frame.columns if name not in targets]


def _require_columns(files: list[TableFile], targets: list[str], features: list[str]) -> None:
    """Every target and feature column is in every file; else one error naming all that lack."""
    problems = []
    for file in files:
        columns = [str(name) for name in file.frame.columns]
        lacking = [name for name in dict.fromkeys([*targets, *features]) if name not in columns]
        if lacking:
            problems.append(
                f"{file.label} has no column "
                + ", ".join(f"'{name}'" for name in lacking)
                + f" (its columns: {', '.join(columns)})"
            )
    if problems:
        field = (
            "target"
            if any(t not in f.frame.columns for f in files for t in targets)
            else "features"
        )
        raise TableError(("data", field), _message(problems))
    if not features:
        raise TableError(("data", "features"), "the table has no feature column besides the target")


def _file_problems(file: TableFile, used: list[str], numeric: set[str]) -> list[str]:
    """Empty cells in the columns used, and values that are not numbers in numeric columns."""
    problems = []
    for name in dict.fromkeys(used):
        column = file.frame[name]
        empty = np.flatnonzero(column.isna().to_numpy())
        if len(empty):
            problems.append(f"{file.label} column '{name}': empty at {file.rows(empty)}")
        if name in numeric and not is_numeric_column(column):
            parsed = pd.to_numeric(column, errors="coerce")
            bad = np.flatnonzero((parsed.isna() & column.notna()).to_numpy())
            if len(bad):
                shown = ", ".join(repr(v) for v in column.iloc[bad[:3]].tolist())
                problems.append(
                    f"{file.label} column '{name}': not a number at {file.rows(bad)} ({shown})"
                )
    return problems


def _target_problems(file: TableFile, targets: list[str], task: Task) -> list[str]:
    """A classification target is one column; multi-label targets hold only 0 and 1."""
    if task == "classification" and len(targets) != 1:
        return [f"classification takes one target column of labels, not {len(targets)}"]
    problems = []
    if task == "multilabel":
        for name in targets:
            values = pd.to_numeric(file.frame[name], errors="coerce")
            bad = np.flatnonzero((values.notna() & ~values.isin([0, 1])).to_numpy())
            if len(bad):
                problems.append(
                    f"{file.label} column '{name}': a multilabel target must be 0 or 1, "
                    f"and is not at {file.rows(bad)}"
                )
    return problems


def _check_fitted(state: TableState, files: list[TableFile], task: Task) -> None:
    """Labels the classes lack, and categorical columns too wide to one-hot encode."""
    problems = []
    if task == "classification" and state.classes is not None:
        known = set(state.classes)
        if len(known) < 2:
            problems.append(
                f"column '{state.targets[0]}' has one class ({state.classes}): two needed"
            )
        for file in files:
            labels = category_labels(file.frame[state.targets[0]])
            bad = np.flatnonzero((~labels.isin(known)).to_numpy())
            if len(bad):
                unknown = sorted(set(labels.iloc[bad]))[:5]
                problems.append(
                    f"{file.label} column '{state.targets[0]}': label(s) {unknown} are not among "
                    f"the classes of the training data at {file.rows(bad)}"
                )
    for feature in state.features:
        if len(feature.categories) > MAX_CATEGORIES:
            problems.append(
                f"column '{feature.name}' has {len(feature.categories):,} distinct values, more "
                f"than {MAX_CATEGORIES} to one-hot encode: leave it out of data.features"
            )
    if problems:
        raise TableError(("data", "target"), _message(problems))


def _split(config: TableData, files: list[TableFile]) -> tuple[pd.DataFrame, pd.DataFrame]:
    if len(files) == 2:
        return files[0].frame, files[1].frame
    from trainer.data.splits import split_indices

    frame = files[0].frame
    train_idx, val_idx = split_indices(len(frame), config.val_fraction, config.split_seed)
    return frame.iloc[train_idx], frame.iloc[val_idx]


def _inputs(frame: pd.DataFrame, state: TableState) -> torch.Tensor:
    return torch.from_numpy(encode_features(frame, state.features))


def _targets(frame: pd.DataFrame, state: TableState, task: Task) -> torch.Tensor:
    if task == "classification":
        assert state.classes is not None
        labels = category_labels(frame[state.targets[0]])
        codes = pd.Categorical(labels, categories=state.classes).codes
        return torch.from_numpy(codes.astype(np.int64))
    values = np.stack(
        [pd.to_numeric(frame[name]).to_numpy(dtype=np.float32) for name in state.targets], axis=1
    )
    tensor = torch.from_numpy(values)
    return tensor


def _report(
    files: list[TableFile],
    state: TableState,
    task: Task,
    splits: tuple[pd.DataFrame, pd.DataFrame],
    train_targets: torch.Tensor,
) -> DataReport:
    """What the Check button shows: every column of the training file with its role."""
    features = {feature.name for feature in state.features}
    columns: list[ColumnReport] = []
    for name in files[0].frame.columns:
        missing = sum(int(f.frame[name].isna().sum()) for f in files if name in f.frame.columns)
        role: Role = (
            "target" if name in state.targets else "feature" if name in features else "ignored"
        )
        columns.append(
            {"name": str(name), "dtype": str(files[0].frame[name].dtype), "role": role,
             "missing": missing}
        )  # fmt: skip
    target_range: TargetRange | None = None
    if task == "regression" and train_targets.numel():
        target_range = {"min": float(train_targets.min()), "max": float(train_targets.max())}
    return {
        "kind": "table",
        "rows": {"train": len(splits[0]), "val": len(splits[1])},
        "columns": columns,
        "classes": state.classes
        if task == "classification"
        else (list(state.targets) if task == "multilabel" else None),
        "target_range": target_range,
        "vocabulary_size": None,
    }


def _message(problems: list[str]) -> str:
    return f"{len(problems)} problem(s) in the table:\n" + "\n".join(f"  {p}" for p in problems)
