"""Sweeps: a base config and lists of values for some fields become a grid of sibling runs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.errors import ConfigError
from app.runs import lifecycle
from app.runs.cluster_placement import ClusterGpus
from app.runs.seed_groups import queue_group, seed_range, with_seeds
from app.storage.tables import Run
from trainer.config import RunConfig

MAX_SWEEP_RUNS = 64


def expand_grid(
    base: dict[str, Any], grid: dict[str, list[Any]], seeds: int = 1
) -> list[dict[str, Any]]:
    """One validated config per combination of `grid`'s values, named after what it changes;
    with `seeds` > 1, that many per combination, seeded from the base's seed on (a seed group
    per combination).

    A path such as `optimizer.kind` may switch a part's kind; values of the part's other fields
    in the same combination then belong to the new kind (and the rest take its defaults).
    """
    for path, values in grid.items():
        if not values:
            raise ConfigError.field(("body", "grid", path), "give at least one value", values)
    size = seeds
    for values in grid.values():
        size *= len(values)
    if size > MAX_SWEEP_RUNS:
        raise ConfigError.field(
            ("body", "grid" if len(grid) else "seeds"),
            f"the grid has {size} runs; at most {MAX_SWEEP_RUNS} per sweep",
            size,
        )
    try:
        base_config = RunConfig.model_validate(base)
    except ValidationError as error:
        raise ConfigError(error, prefix=("body", "config")) from error
    base_json = base_config.model_dump(mode="json")
    paths = list(grid)
    configs = []
    for combination in itertools.product(*(grid[path] for path in paths)):
        overrides: dict[str, Any] = {}
        # Kinds first: a new kind replaces its part, then that part's fields are set within it.
        ordered = sorted(
            zip(paths, combination, strict=True), key=lambda p: not p[0].endswith(".kind")
        )
        for path, value in ordered:
            _set_path(overrides, path.split("."), value)
        label = ", ".join(
            f"{path.split('.')[-1]}={value}" for path, value in zip(paths, combination, strict=True)
        )
        if seeds > 1:
            point = lifecycle.with_overrides(base_json, overrides)
            configs.extend(with_seeds(point, seed_range(base_config.seed, seeds), label))
            continue
        overrides["name"] = f"{base_config.name} [{label}]"[:200]
        configs.append(lifecycle.with_overrides(base_json, overrides))
    return configs


def create_sweep(
    session: Session,
    base: dict[str, Any],
    grid: dict[str, list[Any]],
    group_name: str | None,
    data_roots: list[Path],
    tags: list[str] | None = None,
    notes: str = "",
    gpus: list[int] | ClusterGpus | None = None,
    seeds: int = 1,
) -> tuple[str, list[Run]]:
    """Queue every run of the grid (`seeds` runs per combination) in one group, each with the
    sweep's tags and notes; `gpus`: the server's GPU set, to check the device against."""
    configs = expand_grid(base, grid, seeds)
    group = group_name or f"sweep {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    created = queue_group(session, configs, group, data_roots, tags, notes, gpus)
    return group, created


def _set_path(target: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value
