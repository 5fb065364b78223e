"""Data kind `text`: a CSV or TSV file of texts and labels, tokenized once into tensors.

The file is read with pandas, every cell as a string (so a text "NA" stays a text); a cell that
is empty or only spaces is missing. Every problem the file shows (a missing column, missing
values, a label that is not a number where one is needed) is gathered first and reported in one
error naming the columns and the rows, so one fix-and-retry repairs them all.

Tokens come without any download: words (runs of letters and digits, or one punctuation mark) or
single characters. The vocabulary is fitted on the training split only: id 0 pads, id 1 stands for
a token the vocabulary does not hold. Each text becomes `max_length` ids (cut or padded), so a
split is one int64 tensor of N x max_length ids and one tensor of targets: the in-memory tensor
path serves it, and a model finds the padding where the id is 0.

The fitted vocabulary and the classes are the split's `state` (`{"kind": "text", ...}`): saved in
every checkpoint and given back when a run resumes, is evaluated or is rebuilt from its bundle,
so those see the ids the weights were trained on even if the file has changed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from trainer.config.data import TextData
from trainer.config.tasks import Task
from trainer.data.data_report import ColumnReport, DataReport, Role, TargetRange
from trainer.data.sampling import split_indices
from trainer.errors import ConfigProblem

PAD, UNKNOWN = "<pad>", "<unk>"
PAD_ID, UNKNOWN_ID = 0, 1
# A word: a run of letters, digits or underscores; any other visible character is a token alone.
WORD = re.compile(r"\w+|[^\w\s]")
SHOWN_ROWS = 20  # row numbers listed per problem; the rest are counted


class TextItems(TensorDataset):
    """A split's token ids and targets, and the texts they came from (shown by the evaluation)."""

    def __init__(self, ids: torch.Tensor, targets: torch.Tensor, texts: list[str]) -> None:
        super().__init__(ids, targets)
        self.texts = texts


@dataclass(frozen=True)
class TextSplits:
    """What `DataSplits` holds, for a text file."""

    train: TextItems
    val: TextItems
    class_names: list[str]
    input_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    state: dict[str, Any]
    report: DataReport


def load_text(config: TextData, task: Task, state: dict[str, Any] | None = None) -> TextSplits:
    """Read, check and tokenize the file(s) into train and validation tensors.

    `state` is a saved vocabulary and class list (a checkpoint's "data_state"): reused as it is
    rather than fitted again.
    """
    train_frame = _read(config, config.path, "path")
    if config.val_path:
        val_frame = _read(config, config.val_path, "val_path")
    else:
        train_rows, val_rows = split_indices(len(train_frame), config.val_fraction,
                                             config.split_seed)  # fmt: skip
        val_frame = train_frame.iloc[val_rows]
        train_frame = train_frame.iloc[train_rows]
    if len(train_frame) == 0 or len(val_frame) == 0:
        which = "path" if len(train_frame) == 0 else "val_path"
        raise ConfigProblem(("data", which), f"the {which} file has no rows")
    if state is None:
        state = fit_state(config, task, train_frame)
    elif state.get("kind") != "text":
        raise ValueError(f"the saved data state is of kind {state.get('kind')!r}, not 'text'")
    train = _items(config, task, state, train_frame, "the training split")
    val_source = f"val_path '{config.val_path}'" if config.val_path else "the validation split"
    val = _items(config, task, state, val_frame, val_source)
    names = state["classes"] if task == "classification" else config.label_columns
    if task == "classification":
        target_shape: tuple[int, ...] = ()
    elif task == "regression" and len(config.label_columns) == 1:
        target_shape = ()
    else:
        target_shape = (len(config.label_columns),)
    report = _report(config, task, state, train, train_frame, val_frame)
    return TextSplits(train, val, list(names), (state["max_length"],), target_shape, state, report)


def fit_state(config: TextData, task: Task, train: pd.DataFrame) -> dict[str, Any]:
    """The vocabulary (and, for classification, the classes) of the training split."""
    counts: Counter[str] = Counter()
    for text in train[config.text_column]:
        counts.update(tokenize(text, config.tokenizer, config.lowercase))
    kept = [token for token, count in counts.most_common() if count >= config.min_freq]
    # most_common breaks ties by first appearance, so the same file gives the same ids.
    tokens = [PAD, UNKNOWN, *kept[: config.max_vocab]]
    classes: list[str] = []
    if task == "classification":
        classes = _sorted_labels(set(train[config.label_columns[0]].str.strip()))
        if len(classes) < 2:
            raise ConfigProblem(
                ("data", "label_column"),
                f"the training split has {len(classes)} class ({classes}): a classifier needs "
                "at least 2",
            )
    return {
        "kind": "text",
        "tokenizer": config.tokenizer,
        "lowercase": config.lowercase,
        "max_length": config.max_length,
        "tokens": tokens,
        "classes": classes,
        "label_columns": list(config.label_columns),
    }


def tokenize(text: str, tokenizer: str, lowercase: bool) -> list[str]:
    """A text's tokens: words and punctuation marks, or characters."""
    if lowercase:
        text = text.lower()
    return WORD.findall(text) if tokenizer == "word" else list(text)


def encode(texts: list[str], state: dict[str, Any]) -> torch.Tensor:
    """Texts as N x max_length token ids: cut at max_length, padded with PAD_ID."""
    index = {token: position for position, token in enumerate(state["tokens"])}
    length = state["max_length"]
    ids = torch.full((len(texts), length), PAD_ID, dtype=torch.long)
    for row, text in enumerate(texts):
        found = [
            index.get(token, UNKNOWN_ID)
            for token in tokenize(text, state["tokenizer"], state["lowercase"])[:length]
        ]
        ids[row, : len(found)] = torch.tensor(found, dtype=torch.long)
    return ids


def _read(config: TextData, path: str, field: str) -> pd.DataFrame:
    """The file as strings, its columns checked: all problems in one error."""
    file = Path(path)
    if not file.is_file():
        raise ConfigProblem(("data", field), f"{field} '{path}' is not an existing file")
    delimiter = config.delimiter or ("\t" if file.suffix.lower() in {".tsv", ".tab"} else ",")
    try:
        frame = pd.read_csv(file, sep=delimiter, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ConfigProblem(("data", field), f"{field} '{path}' cannot be read: {error}") from error
    wanted = [config.text_column, *config.label_columns]
    absent = [name for name in wanted if name not in frame.columns]
    if absent:
        loc = ("data", "text_column" if config.text_column in absent else "label_column")
        raise ConfigProblem(
            loc,
            f"{field} '{path}' has no column {', '.join(repr(name) for name in absent)} "
            f"(its columns: {', '.join(map(str, frame.columns))})",
        )
    problems = [
        f"column '{name}' has missing values at {_rows(missing)}"
        for name in wanted
        if (missing := frame.index[frame[name].str.strip() == ""].tolist())
    ]
    if problems:
        raise ConfigProblem(
            ("data", field),
            f"{field} '{path}': " + "; ".join(problems) + " (rows counted from 1 after the header)",
        )
    return frame


def _items(
    config: TextData, task: Task, state: dict[str, Any], frame: pd.DataFrame, source: str
) -> TextItems:
    texts = frame[config.text_column].tolist()
    return TextItems(encode(texts, state), _targets(config, task, state, frame, source), texts)


def _targets(
    config: TextData, task: Task, state: dict[str, Any], frame: pd.DataFrame, source: str
) -> torch.Tensor:
    """The task's targets: class indices, 0/1 label columns, or numbers; bad rows named."""
    if task == "classification":
        column = config.label_columns[0]
        labels = frame[column].str.strip()
        index = {name: position for position, name in enumerate(state["classes"])}
        unseen = sorted(set(labels) - set(index))
        if unseen:
            rows = frame.index[~labels.isin(list(index))].tolist()
            raise ConfigProblem(
                ("data", "label_column"),
                f"label(s) {', '.join(repr(label) for label in unseen)} in column '{column}' of "
                f"{source} ({_rows(rows)}) are not among the training split's classes "
                f"{state['classes']}",
            )
        return torch.tensor([index[label] for label in labels], dtype=torch.long)
    problems, columns = [], []
    for column in config.label_columns:
        values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
        if task == "multilabel":
            bad = ~values.isin([0, 1])
            need = "0 or 1"
        else:
            bad = ~values.apply(lambda value: pd.notna(value) and abs(value) != float("inf"))
            need = "a finite number"
        if bad.any():
            rows = _rows(frame.index[bad].tolist())
            problems.append(f"column '{column}' is not {need} at {rows}")
        columns.append(values.to_numpy(dtype="float32", na_value=0.0))
    if problems:
        raise ConfigProblem(
            ("data", "label_column"),
            f"{source}: " + "; ".join(problems) + " (rows counted from 1 after the header)",
        )
    targets = torch.from_numpy(np.stack(columns, axis=1))
    if task == "regression" and len(columns) == 1:
        return targets.reshape(-1)
    return targets.reshape(len(frame), len(columns))


def _report(
    config: TextData,
    task: Task,
    state: dict[str, Any],
    train: TextItems,
    train_frame: pd.DataFrame,
    val_frame: pd.DataFrame,
) -> DataReport:
    """What the Check button shows: the columns, rows, classes or target range, vocabulary."""
    both = pd.concat([train_frame, val_frame], ignore_index=True)
    columns: list[ColumnReport] = []
    for name in both.columns:
        role: Role = (
            "text"
            if name == config.text_column
            else "target"
            if name in config.label_columns
            else "ignored"
        )
        cells = both[name].str.strip()
        numbers = pd.to_numeric(cells[cells != ""], errors="coerce")
        dtype = "object" if numbers.isna().any() or role == "text" else str(numbers.dtype)
        columns.append(
            {"name": str(name), "dtype": dtype, "role": role, "missing": int((cells == "").sum())}
        )
    target_range: TargetRange | None = None
    if task == "regression":
        values = train.tensors[1]
        target_range = {"min": float(values.min()), "max": float(values.max())}
    classes = {"classification": list(state["classes"]), "multilabel": config.label_columns}
    return {
        "kind": "text",
        "rows": {"train": len(train_frame), "val": len(val_frame)},
        "columns": columns,
        "classes": classes.get(task),
        "target_range": target_range,
        "vocabulary_size": len(state["tokens"]),
    }


def _rows(positions: list[Any]) -> str:
    """Row numbers (the frame's index, from 0) as 1-based rows, the first SHOWN_ROWS of them."""
    numbers = sorted(int(position) + 1 for position in positions)
    shown = ", ".join(map(str, numbers[:SHOWN_ROWS]))
    more = f" and {len(numbers) - SHOWN_ROWS} more" if len(numbers) > SHOWN_ROWS else ""
    word = "row" if len(numbers) == 1 else "rows"
    return f"{word} {shown}{more}"


def _sorted_labels(labels: set[str]) -> list[str]:
    """Classes in numeric order when every label is a number (2 before 10), else by name."""
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)
