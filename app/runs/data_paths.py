"""Every path a user gives must resolve inside a configured data root.

Path fields are declared with `DataDir` / `DataFile` (trainer/config/base.py); `check_data_paths`
walks the whole config for them, so a new path field is covered as soon as it is declared.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app.errors import ConfigError
from trainer.config import PathKind, RunConfig

_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def resolve_inside_roots(value: str, roots: list[Path]) -> Path:
    """The real path `value` names, or ValueError if it lies outside every root.

    A relative path is taken against the first root. `Path.resolve` follows symlinks and `..`,
    and `is_relative_to` compares whole path components, so `/data/ds_evil` is not inside
    `/data/ds` (a string-prefix check would say it is).
    """
    if "\x00" in value:
        raise ValueError("path contains a NUL byte")
    # Paths are taken literally, never decoded; forms that mean something elsewhere (a URL, a
    # Windows separator, a percent escape, MLflow's CVE-2023-1177 bypasses) are refused outright
    # rather than read as odd folder names.
    if "://" in value or value.lower().startswith("file:"):
        raise ValueError(f"path '{value}' is a URL; give a folder path inside a data root")
    if "\\" in value:
        raise ValueError(f"path '{value}' contains a backslash; use '/' between folders")
    if _PERCENT_ESCAPE.search(value):
        raise ValueError(f"path '{value}' contains a percent escape; paths are never decoded")
    candidate = Path(value).expanduser()
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    resolved = candidate.resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(f"'{root}'" for root in roots)
        raise ValueError(f"path '{value}' is not inside an allowed data root ({allowed})")
    return resolved


def path_kind(model: type[BaseModel], field: str) -> PathKind | None:
    """The PathKind marker of a model field (also inside `X | None`), or None."""
    info = model.model_fields[field]
    for item in info.metadata:
        if isinstance(item, PathKind):
            return item
    return _marker_in(info.annotation)


def _marker_in(annotation: Any) -> PathKind | None:
    for item in getattr(annotation, "__metadata__", ()):
        if isinstance(item, PathKind):
            return item
    for arg in typing.get_args(annotation):
        found = _marker_in(arg)
        if found is not None:
            return found
    return None


def check_data_paths(config: RunConfig, roots: list[Path]) -> RunConfig:
    """The config with each data path resolved inside a root; ConfigError names a bad field."""
    checked = _check_model(config, roots, ("body",))
    assert isinstance(checked, RunConfig)
    return checked


def _check_model(part: BaseModel, roots: list[Path], loc: tuple[str, ...]) -> BaseModel:
    updates: dict[str, Any] = {}
    for field in type(part).model_fields:
        value = getattr(part, field)
        if isinstance(value, BaseModel):
            checked = _check_model(value, roots, (*loc, field))
            if checked is not value:
                updates[field] = checked
            continue
        kind = path_kind(type(part), field)
        if kind is None or value is None:
            continue
        updates[field] = _check_path(value, kind, roots, (*loc, field))
    return part.model_copy(update=updates) if updates else part


def _check_path(value: str, kind: PathKind, roots: list[Path], loc: tuple[str, ...]) -> str:
    try:
        resolved = resolve_inside_roots(value, roots)
    except ValueError as error:
        raise ConfigError.field(loc, str(error), value) from error
    if kind.expects == "dir" and not resolved.is_dir():
        raise ConfigError.field(loc, f"path '{value}' is not an existing folder", value)
    if kind.expects == "file" and not resolved.is_file():
        raise ConfigError.field(loc, f"path '{value}' is not an existing file", value)
    return str(resolved)
