"""The plugin parts of a run config checked against the plugins folder, read as text: each names
a class of the right kind (a Dataset for `data`, a model, a loss, a metric), and its `args` fit
that class's constructor. Every problem is reported at its field: `data.name`, `data.args.width`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from trainer.config import PluginData, PluginLoss, PluginMetric, PluginModel, RunConfig
from trainer.config.run import Problem
from trainer.plugins.catalog import KIND_NOUNS, Catalog, PluginKind, args_model, read_catalog

# What makes a class each kind, for the message naming a class of the wrong one.
WHAT_EACH_KIND_IS: dict[PluginKind, str] = {
    "dataset": "a Dataset is a subclass of torch.utils.data.Dataset",
    "model": "a model is an nn.Module whose forward takes one input",
    "loss": "a loss is an nn.Module whose forward takes (output, target)",
    "metric": "a metric is a torchmetrics Metric subclass or a function of (output, target)",
}

PluginPart = PluginData | PluginModel | PluginLoss | PluginMetric


def plugin_parts(config: RunConfig) -> list[tuple[tuple[str | int, ...], PluginKind, PluginPart]]:
    """(location, kind, part) of every part of the config that names a plugin."""
    parts: list[tuple[tuple[str | int, ...], PluginKind, PluginPart]] = []
    if isinstance(config.data, PluginData):
        parts.append((("data",), "dataset", config.data))
    if isinstance(config.model, PluginModel):
        parts.append((("model",), "model", config.model))
    if isinstance(config.loss, PluginLoss):
        parts.append((("loss",), "loss", config.loss))
    parts += [(("metrics", index), "metric", metric) for index, metric in enumerate(config.metrics)]
    return parts


def plugin_problems(config: RunConfig, plugins_dir: Path) -> list[tuple[Problem, Any]]:
    """((location, why), the bad value) for every plugin part that names no class of its kind,
    or whose args its class does not take. The folder is read only when a part names a plugin."""
    parts = plugin_parts(config)
    if not parts:
        return []
    catalog = read_catalog(plugins_dir)
    problems: list[tuple[Problem, Any]] = []
    for loc, kind, part in parts:
        spec = catalog.of_kind(kind).get(part.name)
        if spec is None:
            problems.append((((*loc, "name"), unknown(catalog, kind, part.name)), part.name))
        elif spec.is_function and part.args:
            why = (
                f"metric '{part.name}' is a function of (output, target): it takes no args "
                f"(got {', '.join(sorted(part.args))})"
            )
            problems.append((((*loc, "args"), why), part.args))
        else:
            problems += _args_problems(loc, spec.name, args_model(spec), part.args)
    return problems


def unknown(catalog: Catalog, kind: PluginKind, name: str) -> str:
    """Why `name` is no plugin of `kind`: what it is instead, and which ones there are."""
    noun = KIND_NOUNS[kind]
    found = sorted(catalog.of_kind(kind))
    parts = [f"no {noun} named '{name}' in the plugins folder"]
    elsewhere = catalog.named(name)
    if name.startswith("_"):
        parts.append("a name starting with '_' is private to its file, never a plugin")
    elif elsewhere:
        other = elsewhere[0]
        parts.append(
            f"'{name}' ({other.file.name}) is a {KIND_NOUNS[other.kind]}, not a {noun}: "
            f"{WHAT_EACH_KIND_IS[kind]}"
        )
    elif name in catalog.others:
        parts.append(
            f"class '{name}' ({catalog.others[name].name}) is not a {noun}: "
            f"{WHAT_EACH_KIND_IS[kind]}"
        )
    plural = "losses" if kind == "loss" else f"{noun}s"
    parts.append(f"{plural} found: {', '.join(found)}" if found else f"no {plural} found")
    if catalog.errors:
        unreadable = "; ".join(f"{file}: {why}" for file, why in sorted(catalog.errors.items()))
        parts.append(f"files with problems: {unreadable}")
    return "; ".join(parts)


def _args_problems(
    loc: tuple[str | int, ...], name: str, model: type[BaseModel], args: dict[str, Any]
) -> list[tuple[Problem, Any]]:
    # Through JSON, as the worker will pass them: strict types, a tuple given as a list.
    try:
        model.model_validate_json(json.dumps(args))
    except ValidationError as error:
        takes = ", ".join(model.model_json_schema().get("properties", {})) or "none"
        problems: list[tuple[Problem, Any]] = []
        for item in error.errors(include_url=False):
            where = (*loc, "args", *item["loc"])
            if item["type"] == "extra_forbidden":
                why = f"{name} takes no argument '{item['loc'][-1]}' (its arguments: {takes})"
            elif item["type"] == "missing":
                why = f"{name} needs this argument: its constructor gives it no default"
            else:
                why = item["msg"]
            problems.append(((where, why), item.get("input")))
        return problems
    return []
