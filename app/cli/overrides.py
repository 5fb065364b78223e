"""`--set a.b=v` and `--grid a.b=v1,v2`: dotted config paths with values, as the sweep box reads
them (static/form/sweep.js): numbers and true/false become JSON values, anything else stays a
string. A value that is JSON (`[64, 32]`, `null`, `"0.1"`) is taken as that JSON."""

from __future__ import annotations

import json
from typing import Any


def parse_value(text: str) -> Any:
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text  # a plain word: adam, digits, cuda:0


def split_assignment(text: str, option: str) -> tuple[str, str]:
    """`path=value` → (path, value); a ValueError naming the option when it is malformed."""
    path, equals, value = text.partition("=")
    if not equals or not path.strip() or not value.strip():
        raise ValueError(f"{option} {text!r}: write path=value, e.g. optimizer.lr=0.01")
    return path.strip(), value


def parse_grid_values(text: str) -> list[Any]:
    """`0.01, 0.001` → [0.01, 0.001]; a JSON list is taken whole."""
    if text.strip().startswith("["):
        values = parse_value(text)
        if isinstance(values, list):
            return values
    return [parse_value(part) for part in text.split(",") if part.strip()]


def apply_sets(config: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """`config` with each `path=value` set in it (nested dicts made as needed).

    As in a sweep, kinds go first, and a new `kind` replaces its part whole: the old kind's
    fields belong to another schema (`--set optimizer.kind=sgd --set optimizer.momentum=0.9`).
    """
    pairs = [split_assignment(text, "--set") for text in assignments]
    pairs.sort(key=lambda pair: not pair[0].endswith(".kind"))
    result = json.loads(json.dumps(config))  # a deep copy
    for path, raw in pairs:
        keys = path.split(".")
        target = result
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        value = parse_value(raw)
        if keys[-1] == "kind" and target.get("kind") != value:
            target.clear()
        target[keys[-1]] = value
    return result


def parse_grid(assignments: list[str]) -> dict[str, list[Any]]:
    grid = {}
    for text in assignments:
        path, values = split_assignment(text, "--grid")
        grid[path] = parse_grid_values(values)
    return grid
