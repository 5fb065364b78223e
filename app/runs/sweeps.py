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
from app.runs.config_checks import gpu_problems
from app.runs.scripts import create_script_run, resolve_script
from app.runs.seed_groups import queue_group, seed_range, with_seeds
from app.storage.tables import Run
from trainer.config import RunConfig
from trainer.config.script import ScriptRunConfig

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
    scripts_dir: Path | None = None,
) -> tuple[str, list[Run]]:
    """Queue every run of the grid (`seeds` runs per combination) in one group, each with the
    sweep's tags and notes; `gpus`: the server's GPU set, to check the device against. A base
    with a `script` key is a script run's, whose arguments vary (`script.args.--lr`)."""
    if "script" in base:
        if seeds != 1:
            raise ConfigError.field(
                ("body", "seeds"),
                "a script run has no seed of torchdash's: vary its seed argument in the grid "
                "(e.g. script.args.--seed)",
                seeds,
            )
        return _create_script_sweep(
            session, base, grid, group_name, scripts_dir, tags=tags, notes=notes, gpus=gpus
        )
    configs = expand_grid(base, grid, seeds)
    group = group_name or f"sweep {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    created = queue_group(session, configs, group, data_roots, tags, notes, gpus)
    return group, created


def _set_path(target: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def with_argument(args: list[str], flag: str, value: Any) -> list[str]:
    """`args` with `flag`'s value set: the word after the flag replaced, or `flag value`
    appended when the flag is not there (`--flag=value` is replaced whole)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    changed = list(args)
    for index, word in enumerate(changed):
        if word == flag and index + 1 < len(changed):
            changed[index + 1] = text
            return changed
        if word.startswith(flag + "="):
            changed[index] = f"{flag}={text}"
            return changed
    return [*changed, flag, text]


def expand_script_grid(base: dict[str, Any], grid: dict[str, list[Any]]) -> list[ScriptRunConfig]:
    """One validated script run config per combination of `grid`'s values: `script.args.FLAG`
    sets an argument, any other dotted path (`device`, `script.env.NAME`) a field."""
    _check_size(grid)
    try:
        base_config = ScriptRunConfig.model_validate(base)
    except ValidationError as error:
        raise ConfigError(error, prefix=("body", "config")) from error
    paths = list(grid)
    configs = []
    for combination in itertools.product(*(grid[path] for path in paths)):
        config = base_config.model_dump(mode="json")
        for path, value in zip(paths, combination, strict=True):
            if path.startswith("script.args."):
                flag = path.removeprefix("script.args.")
                config["script"]["args"] = with_argument(config["script"]["args"], flag, value)
            else:
                _set_path(config, path.split("."), value)
        label = ", ".join(
            f"{path.removeprefix('script.args.').split('.')[-1]}={value}"
            for path, value in zip(paths, combination, strict=True)
        )
        config["name"] = f"{base_config.name} [{label}]"[:200]
        try:
            configs.append(ScriptRunConfig.model_validate(config))
        except ValidationError as error:
            raise ConfigError(error, prefix=("body", "grid")) from error
    return configs


def _check_size(grid: dict[str, list[Any]]) -> None:
    for path, values in grid.items():
        if not values:
            raise ConfigError.field(("body", "grid", path), "give at least one value", values)
    size = 1
    for values in grid.values():
        size *= len(values)
    if size > MAX_SWEEP_RUNS:
        raise ConfigError.field(
            ("body", "grid"), f"the grid has {size} runs; at most {MAX_SWEEP_RUNS} per sweep", size
        )


def _create_script_sweep(
    session: Session,
    base: dict[str, Any],
    grid: dict[str, list[Any]],
    group_name: str | None,
    scripts_dir: Path | None,
    tags: list[str] | None,
    notes: str,
    gpus: list[int] | ClusterGpus | None,
) -> tuple[str, list[Run]]:
    configs = expand_script_grid(base, grid)
    for config in configs:
        if scripts_dir is not None:
            resolve_script(scripts_dir, config.script.path, ("body", "config", "script", "path"))
        problems = gpu_problems(config.model_dump(mode="json"), gpus) if gpus is not None else []
        if problems:
            (loc, why), *_ = problems
            raise ConfigError.field(("body", "config", *loc), why, None)
    group = group_name or f"sweep {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    created = [
        create_script_run(session, config, group_name=group, tags=list(tags or []), notes=notes)
        for config in configs
    ]
    return group, created
