"""Every path a user gives must resolve inside a configured data root."""

from __future__ import annotations

import re
from pathlib import Path

from app.errors import ConfigError
from trainer.config import ImageFolderData, RunConfig

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


def check_data_paths(config: RunConfig, roots: list[Path]) -> RunConfig:
    """The config with each data path resolved inside a root; ConfigError names a bad field."""
    data = config.data
    if not isinstance(data, ImageFolderData):
        return config
    updates: dict[str, str] = {}
    for field in ("train_dir", "val_dir"):
        value = getattr(data, field)
        if value is None:
            continue
        try:
            resolved = resolve_inside_roots(value, roots)
        except ValueError as error:
            raise ConfigError.field(("body", "data", field), str(error), value) from error
        if not resolved.is_dir():
            raise ConfigError.field(
                ("body", "data", field), f"path '{value}' is not an existing folder", value
            )
        updates[field] = str(resolved)
    return config.model_copy(update={"data": data.model_copy(update=updates)})
