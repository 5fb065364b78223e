"""What every config part shares: a frozen base, and the marker of fields that hold data paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import ComputedFieldInfo, FieldInfo
from pydantic.json_schema import JsonDict, JsonValue

# Labels where sentence case of the field's name reads poorly: the name is torch's argument (a
# user who knows torch finds it in brackets), an abbreviation, or carries a unit.
FIELD_TITLES: dict[str, str] = {
    "T_max": "Period (T_max)",
    "max_epochs": "Epochs",
    "lr": "Learning rate (lr)",
    "max_lr": "Peak learning rate (max_lr)",
    "min_lr": "Lowest learning rate (min_lr)",
    "lr_decay": "Learning-rate decay (lr_decay)",
    "eta_min": "Lowest learning rate (eta_min)",
    "eps": "Epsilon (eps)",
    "lambd": "Decay (lambd)",
    "t0": "Averaging start (t0)",
    "rho": "Decay (rho)",
    "betas": "Betas",
    "amp": "Mixed precision (AMP)",
    "amsgrad": "AMSGrad",
    "cache_budget_mb": "Cache budget (MB)",
    "num_workers": "Loader workers",
    "pin_memory": "Pinned memory",
    "report_every_steps": "Report every (steps)",
    "processes": "Processes (DDP)",
    "pct_start": "Warm-up share (pct_start)",
    "p": "Probability (p)",
    "val_fraction": "Validation share",
    "val_dir": "Validation folder",
    "val_list": "Validation list",
    "train_dir": "Training folder",
    "train_list": "Training list",
    "labels_csv": "Labels CSV",
    "image_size": "Image size (px)",
    "kernel_size": "Kernel size (px)",
    "step_size": "Step size (epochs)",
    "patience": "Patience (epochs)",
    "T_0": "Period (T_0)",
    "min_delta": "Least improvement (min_delta)",
    "monitor_mode": "Monitor direction",
    "hidden_sizes": "Hidden layer widths",
    "train_transforms": "Training transforms",
    "val_transforms": "Validation transforms",
    "ignore_index": "Ignored class (ignore_index)",
    "pos_weight": "Positive weight (pos_weight)",
    "max_iter": "Iterations per step (max_iter)",
    "max_eval": "Evaluations per step (max_eval)",
    "kind": "Kind",
}


def field_title(name: str, info: FieldInfo | ComputedFieldInfo) -> str:
    """A field's label in the form and the API docs: `FIELD_TITLES`, else the name in sentence
    case (`weight_decay` -> "Weight decay")."""
    if name in FIELD_TITLES:
        return FIELD_TITLES[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


class Frozen(BaseModel):
    """Base of every config part: immutable, and unknown fields are an error, not ignored.
    No NaN or infinity in a float field: `json.load` reads them from a run.json. Its validator
    is built when a config is first validated: the server's start does not wait for it."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        field_title_generator=field_title,
        defer_build=True,
    )


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
