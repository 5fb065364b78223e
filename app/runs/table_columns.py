"""A table's (or a text file's) header read on submit, so a column that is not in the file is a
422 at once.

Reading a header is cheap (the first line of a CSV, the schema in a Parquet file's footer) and
runs no user code, so the server does it rather than queue a run that would fail at its start.
Everything the rows themselves can show (empty cells, a value that is not a number) is left to
the worker, which reads the whole file anyway.
"""

from __future__ import annotations

import csv
from pathlib import Path

from app.errors import ConfigError
from trainer.config import RunConfig, TableData
from trainer.config.data import TextData

# A header longer than this is no CSV a person made: it is left to the worker to judge.
MAX_HEADER_BYTES = 1 << 20


def check_table_columns(config: RunConfig) -> None:
    """ConfigError (422) naming `data.target` / `data.features` when the table (or its
    validation table) lacks a column the config names. Paths are already resolved inside the
    data roots."""
    data = config.data
    if not isinstance(data, TableData):
        return
    errors = []
    for field in ("path", "val_path"):
        value = getattr(data, field)
        columns = header_columns(Path(value)) if value else None
        if columns is None:
            continue
        named = [("target", i, n) for i, n in enumerate(data.target_columns())]
        named += [(name, i, n) for name in ("features", "categorical") for i, n in
                  enumerate(getattr(data, name))]  # fmt: skip
        for part, index, name in named:
            if name in columns:
                continue
            loc = ["body", "data", part] + ([] if isinstance(data.target, str) and
                                            part == "target" else [index])  # fmt: skip
            shown = ", ".join(columns[:50]) + (" ..." if len(columns) > 50 else "")
            errors.append(
                {
                    "loc": loc,
                    "msg": f"column '{name}' is not in {field} '{Path(value).name}' "
                    f"(its columns: {shown})",
                    "type": "value_error",
                    "input": name,
                }
            )
    if errors:
        raise ConfigError(errors=errors)


def check_text_columns(config: RunConfig) -> None:
    """ConfigError (422) naming `data.text_column` / `data.label_column` when a text file (or
    its validation file) lacks a column the config names."""
    data = config.data
    if not isinstance(data, TextData):
        return
    errors = []
    for field in ("path", "val_path"):
        value = getattr(data, field)
        columns = header_columns(Path(value), data.delimiter) if value else None
        if columns is None:
            continue
        named: list[tuple[str, int | None, str]] = [("text_column", None, data.text_column)]
        several = not isinstance(data.label_column, str)
        named += [("label_column", i if several else None, n) for i, n in
                  enumerate(data.label_columns)]  # fmt: skip
        for part, index, name in named:
            if name not in columns:
                shown = ", ".join(columns[:50]) + (" ..." if len(columns) > 50 else "")
                errors.append(
                    {
                        "loc": ["body", "data", part] + ([] if index is None else [index]),
                        "msg": f"column '{name}' is not in {field} '{Path(value).name}' "
                        f"(its columns: {shown})",
                        "type": "value_error",
                        "input": name,
                    }
                )
    if errors:
        raise ConfigError(errors=errors)


def header_columns(path: Path, delimiter: str | None = None) -> list[str] | None:
    """The column names of a CSV/TSV header or a Parquet schema; None when the file cannot be
    read as one (the worker then reports what is wrong with it)."""
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            return [str(name) for name in pq.read_schema(path).names]
        with open(path, newline="", encoding="utf-8-sig") as handle:
            line = handle.readline(MAX_HEADER_BYTES)
        delimiter = delimiter or ("\t" if path.suffix.lower() in {".tsv", ".tab"} else ",")
        return next(csv.reader([line], delimiter=delimiter), None)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error):
        return None
