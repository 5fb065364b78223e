"""What every config part shares: a frozen base, and the marker of fields that hold data paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    """Base of every config part: immutable, and unknown fields are an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class PathKind:
    """Marks a string field as a path a user gives: it must resolve inside a data root.

    `app/runs/data_paths.py::check_data_paths` walks the config for fields carrying this marker,
    so a new path field is checked as soon as it is declared with `DataDir` or `DataFile`.
    """

    expects: Literal["dir", "file"]


DataDir = Annotated[
    str, PathKind("dir"), Field(min_length=1, json_schema_extra={"format": "data-path"})
]
DataFile = Annotated[
    str, PathKind("file"), Field(min_length=1, json_schema_extra={"format": "data-path"})
]
