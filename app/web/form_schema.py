"""The run-config JSON Schema as the form and `/api/schema/run-config` serve it: the config's own
schema, plus what only this server knows or the form needs to offer choices instead of text
boxes — the plugin classes found in the plugins folder (each kind's `name` an enum of them, and
each class's typed arguments under `ui.plugin_args`), and the metric names of each task
(`ui.task_metrics`, with the default monitor of each under `ui.task_monitors`), and the loss
and data kinds that serve each task (`ui.task_kinds` of `loss` and `data`)."""

from __future__ import annotations

from pathlib import Path

from trainer.config import TASKS, builtin_metric_names
from trainer.config.data import IMAGE_DATA_KINDS
from trainer.config.tasks import DEFAULT_MONITOR, TASK_LOSSES
from trainer.plugins.catalog import KIND_NOUNS, Catalog, PluginKind, args_schema, read_catalog

# The schema's definition of each plugin part, and the kind of plugin it names.
PLUGIN_DEFS: dict[str, PluginKind] = {
    "PluginData": "dataset",
    "PluginModel": "model",
    "PluginLoss": "loss",
    "PluginMetric": "metric",
}

# Fields that name a metric of the run: the form offers the run's metric names.
_METRIC_FIELDS: list[tuple[str | None, str]] = [
    (None, "monitor"),
    ("EarlyStoppingConfig", "monitor"),
    ("ReduceLROnPlateauScheduler", "monitor"),
]


def schema_with_plugins(schema: dict, plugins_dir: Path) -> dict:
    """`schema` (the run config's) with the plugins found in `plugins_dir` and the form's hints
    (see the module's docstring); `schema` is changed in place and returned."""
    catalog = read_catalog(plugins_dir)
    defs = schema.get("$defs", {})
    for def_name, kind in PLUGIN_DEFS.items():
        if def_name in defs:
            _offer_plugins(defs[def_name], catalog, kind)
    ui = schema.setdefault("ui", {})
    ui["task_metrics"] = {task: builtin_metric_names(task) for task in TASKS}
    ui["task_monitors"] = {task: DEFAULT_MONITOR[task][0] for task in TASKS}
    _follow_task(schema["properties"].get("loss"), {t: sorted(TASK_LOSSES[t]) for t in TASKS})
    data = schema["properties"].get("data")
    if data is not None:  # labelled images serve classification only
        kinds = [kind for kind in data["discriminator"]["mapping"] if kind not in IMAGE_DATA_KINDS]
        _follow_task(data, {task: kinds for task in TASKS if task != "classification"})
    for owner_name, prop in _METRIC_FIELDS:
        owner = schema if owner_name is None else defs.get(owner_name)
        field = owner.get("properties", {}).get(prop) if owner else None
        if field is not None:
            field["ui"] = {**field.get("ui", {}), "widget": "metric"}
    return schema


def _follow_task(field: dict | None, kinds: dict[str, list[str]]) -> None:
    """Hint the form which kinds of a part serve each task (`ui.task_kinds`; a task not named
    takes every kind)."""
    if field is not None:
        field["ui"] = {**field.get("ui", {}), "task_kinds": kinds}


def _offer_plugins(part: dict, catalog: Catalog, kind: PluginKind) -> None:
    """One plugin part's `name` limited to the classes of its kind (when there are any: an empty
    enum would allow nothing), and their arguments' schemas for the form."""
    specs = catalog.of_kind(kind)
    names = sorted(specs)
    if names:
        name = {**part["properties"]["name"], "enum": names, "default": names[0]}
        name.pop("pattern", None)
        part["properties"]["name"] = name
    part["ui"] = {
        **part.get("ui", {}),
        "plugin_kind": KIND_NOUNS[kind],
        "plugin_args": {name: args_schema(specs[name]) for name in names},
    }
