"""A study's search space: its entries checked against the base config, Optuna's distributions
for them, and a trial's parameters turned into a run config.

An entry names a dotted path of the run config (`optimizer.lr`, `model.hidden_sizes`,
`optimizer.kind`) and what it takes: a float or int range (`log`: on a log scale) or one of
`choices`. Every complaint is a 422 naming the entry (`body.space.2.low`). A script run's
arguments are searched through app/studies/script_space.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app.errors import ConfigError
from app.runs.lifecycle import with_overrides
from trainer.config import RunConfig
from trainer.config.tasks import metric_mode, metric_names

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

MAX_GRID_POINTS = 10_000
# What Optuna stores as a categorical choice as it is; any other value (a list, a dict) goes in as
# its JSON text and comes back out of it.
_PLAIN = (type(None), bool, int, float, str)


def check_space(base: dict[str, Any], space: list[dict[str, Any]]) -> dict[str, Any]:
    """The base config validated and dumped, once every entry of `space` is known, non-empty and
    gives valid configs at its ends; raises ConfigError naming the entry otherwise."""
    try:
        base_json = RunConfig.model_validate(base).model_dump(mode="json")
    except ValidationError as error:
        raise ConfigError(error, prefix=("body", "config")) from error
    kinds = {e["field"].rsplit(".", 1)[0] for e in space if e["field"].endswith(".kind")}
    for loc, entry, path in searched_fields(space):
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        if path.startswith("script."):
            raise ConfigError.field(
                (*loc, "field"),
                f"{path} is a script run's; this study's base config is a loop run (no script)",
                path,
            )
        if not has_path(base_json, path) and parent not in kinds:
            raise ConfigError.field((*loc, "field"), f"the run config has no field {path!r}", path)
        if path in ("name", "seed"):
            raise ConfigError.field((*loc, "field"), f"{path} is set by the study", path)
        check_range(entry, loc)
        if parent in kinds:
            continue  # its part's kind is searched too: each trial's config is checked whole
        for key, value in range_ends(entry):
            try:
                with_overrides(base_json, _nested(path, value))
            except ConfigError as error:
                why = error.errors[0]["msg"] if error.errors else str(error)
                where = (*loc, *key.split("."))  # ("choices", "1") for the second choice
                raise ConfigError.field(where, f"{path}={value!r}: {why}", value) from None
    return base_json


def searched_fields(
    space: list[dict[str, Any]],
) -> Iterator[tuple[tuple[str, ...], dict[str, Any], str]]:
    """Each entry of `space` with its location in the body and its field; a field searched
    twice raises ConfigError naming the second entry."""
    seen: set[str] = set()
    for index, entry in enumerate(space):
        loc = ("body", "space", str(index))
        path = entry["field"]
        if path in seen:
            raise ConfigError.field((*loc, "field"), f"{path} is searched twice", path)
        seen.add(path)
        yield loc, entry, path


def check_objective(base_json: dict[str, Any], objective: str, direction: str | None) -> str:
    """The objective's direction ("min" or "max"), once it is a metric of the run's task."""
    config = RunConfig.model_validate(base_json)
    names = metric_names(config)
    if objective not in names:
        raise ConfigError.field(
            ("body", "objective"),
            f"{objective!r} is not a metric of this run ({', '.join(names)})",
            objective,
        )
    return direction or metric_mode(config, objective)


def grid_points(space: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Every entry's values for the grid sampler; 422 when an entry is continuous or the grid
    passes MAX_GRID_POINTS."""
    grid: dict[str, list[Any]] = {}
    size = 1
    for index, entry in enumerate(space):
        if entry["type"] == "float":
            raise ConfigError.field(
                ("body", "space", str(index), "type"),
                "the grid sampler needs int or choice entries (a float range has no grid)",
                entry["type"],
            )
        if entry["type"] == "int":
            step = entry.get("step") or 1
            low, high = int(entry["low"]), int(entry["high"])
            count = (high - low) // step + 1  # counted first: a range may be huge
            values: list[Any] = list(range(low, high + 1, step)) if count <= MAX_GRID_POINTS else []
        else:
            count = len(entry["choices"])
            values = [_encode(choice, entry["choices"]) for choice in entry["choices"]]
        grid[entry["field"]] = values
        size *= count
        if size > MAX_GRID_POINTS:
            raise ConfigError.field(
                ("body", "space"),
                f"the grid has more than {MAX_GRID_POINTS:,} points; narrow it or use tpe",
                size,
            )
    return grid


def distributions(space: list[dict[str, Any]]) -> dict[str, BaseDistribution]:
    """Optuna's distribution for each entry, by field path."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    result: dict[str, BaseDistribution] = {}
    for entry in space:
        kind, path = entry["type"], entry["field"]
        if kind == "float":
            result[path] = FloatDistribution(
                entry["low"], entry["high"], log=entry.get("log", False)
            )
        elif kind == "int":
            log = entry.get("log", False)
            step = 1 if log else entry.get("step") or 1
            result[path] = IntDistribution(
                int(entry["low"]), int(entry["high"]), log=log, step=step
            )
        else:
            choices = entry["choices"]
            result[path] = CategoricalDistribution([_encode(c, choices) for c in choices])
    return result


def decoded_params(space: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameters as config values (choices stored as JSON text decoded)."""
    entries = {entry["field"]: entry for entry in space}
    decoded = {}
    for path, value in params.items():
        entry = entries.get(path)
        plain = entry is None or entry["type"] != "choice" or _all_plain(entry["choices"])
        decoded[path] = value if plain else json.loads(value)
    return decoded


def encoded_params(space: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """A point given by hand, checked against the space and encoded as Optuna stores it."""
    entries = {entry["field"]: entry for entry in space}
    encoded = {}
    for path, value in params.items():
        entry = entries.get(path)
        if entry is None:
            raise ConfigError.field(
                ("body", "params", path), f"{path} is not in the study's search space", value
            )
        if entry["type"] == "choice":
            if value not in entry["choices"]:
                raise ConfigError.field(
                    ("body", "params", path), f"{value!r} is not one of the choices", value
                )
            value = _encode(value, entry["choices"])
        elif not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError.field(("body", "params", path), "give a number", value)
        elif not entry["low"] <= value <= entry["high"]:
            raise ConfigError.field(
                ("body", "params", path),
                f"{value} is outside {entry['low']}..{entry['high']}",
                value,
            )
        encoded[path] = value
    return encoded


def trial_config(
    base_json: dict[str, Any], params: dict[str, Any], name: str, seed: int
) -> dict[str, Any]:
    """The run config of a trial: the base with the (decoded) parameters set, named and seeded."""
    overrides: dict[str, Any] = {}
    # Kinds first: a new kind replaces its part, then that part's fields are set within it.
    for path in sorted(params, key=lambda p: not p.endswith(".kind")):
        _merge(overrides, _nested(path, params[path]))
    overrides["name"] = name[:200]
    overrides["seed"] = seed
    return with_overrides(base_json, overrides)


def check_range(entry: dict[str, Any], loc: tuple[str, ...]) -> None:
    kind = entry["type"]
    if kind == "choice":
        if not entry.get("choices"):
            raise ConfigError.field((*loc, "choices"), "give at least one choice", None)
        return
    low, high = entry.get("low"), entry.get("high")
    for key, value in (("low", low), ("high", high)):
        if value is None or not math.isfinite(value):
            raise ConfigError.field((*loc, key), f"a {kind} range needs a finite {key}", value)
        if kind == "int" and value != int(value):
            raise ConfigError.field((*loc, key), "an int range needs whole numbers", value)
    assert low is not None and high is not None
    if low > high:
        raise ConfigError.field((*loc, "high"), f"the range {low}..{high} is inverted", high)
    if low == high:
        raise ConfigError.field((*loc, "high"), f"the range {low}..{high} is empty", high)
    if entry.get("log") and low <= 0:
        raise ConfigError.field((*loc, "low"), "a log range must stay above 0", low)


def range_ends(entry: dict[str, Any]) -> list[tuple[str, Any]]:
    """The values that must give a valid config: a range's two ends, or every choice."""
    if entry["type"] == "choice":
        return [(f"choices.{i}", choice) for i, choice in enumerate(entry["choices"])]
    cast = int if entry["type"] == "int" else float
    return [("low", cast(entry["low"])), ("high", cast(entry["high"]))]


def has_path(config: dict[str, Any], path: str) -> bool:
    node: Any = config
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _nested(path: str, value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    node = result
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return result


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _all_plain(choices: list[Any]) -> bool:
    return all(isinstance(choice, _PLAIN) for choice in choices)


def _encode(choice: Any, choices: list[Any]) -> Any:
    return choice if _all_plain(choices) else json.dumps(choice, sort_keys=True)
