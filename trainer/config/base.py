"""What every config part shares: a frozen base, and the marker of fields that hold data paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict, JsonValue


class Frozen(BaseModel):
    """Base of every config part: immutable, and unknown fields are an error, not ignored.
    No NaN or infinity in a float field: `json.load` reads them from a run.json."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True)
class PathKind:
    """Marks a string field as a path a user gives: it must resolve inside a data root.

    `app/runs/data_paths.py::check_data_paths` walks the config for fields carrying this marker,
    so a new path field is checked as soon as it is declared with `DataDir` or `DataFile`.
    """

    expects: Literal["dir", "file"]


# A Python identifier: a plugin's class name, a custom layer's weight set.
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]

DataDir = Annotated[
    str, PathKind("dir"), Field(min_length=1, json_schema_extra={"format": "data-path"})
]
DataFile = Annotated[
    str, PathKind("file"), Field(min_length=1, json_schema_extra={"format": "data-path"})
]


def ui(section: str, **hints: JsonValue) -> JsonDict:
    """A field's form hints, for `Field(json_schema_extra=ui(...))`: which section of the form
    it is shown in, and optionally `widget` (a custom widget module registered under that
    name, e.g. "device"). The form reads them from the JSON Schema's `ui` keyword; a field
    without hints is shown under "Advanced"."""
    return {"ui": {"section": section, **hints}}


# The form's sections, top to bottom: RunConfig's JSON Schema carries them (its `ui.sections`),
# so the layout lives with the fields. `collapsed` sections start closed and show a one-line
# summary; `summary: "changes"` summarizes by what differs from the defaults.
FORM_SECTIONS: list[JsonValue] = [
    {"id": "run", "title": "Run"},
    {"id": "data", "title": "Data"},
    {"id": "model", "title": "Model"},
    {"id": "loss", "title": "Loss", "collapsed": True},
    {"id": "optimizer", "title": "Optimizer"},
    {"id": "training", "title": "Training"},
    {"id": "metrics", "title": "Metrics", "collapsed": True},
    {"id": "scheduler", "title": "Learning-rate schedule", "collapsed": True},
    {"id": "param_groups", "title": "Parameter groups", "collapsed": True},
    {"id": "advanced", "title": "Advanced", "collapsed": True, "summary": "changes"},
]
