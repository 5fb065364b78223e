"""A study over a script run: its space searches the script's command-line arguments.

An entry `script.args.--lr` sets the word after `--lr` in the base's arguments (or appends
`--lr VALUE`), as a sweep does (app/runs/sweeps.py `with_argument`); any other entry names a
field the script run config has (`processes`, `script.env.SEED` when the base sets it), but
never the script itself (its path). The script is read as text, never imported: when it
declares argparse options, a searched flag must be one of them and take a value. A script's
metrics are known only once it prints them, so the objective is any metric name, its direction
the one given, else the run's monitor mode, else the rule its captured metrics follow (a name
with "loss" or "error" falls).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.errors import ConfigError
from app.runs.scripts import ScriptOption, resolve_script, script_options
from app.runs.sweeps import with_argument
from app.studies.space import check_range, has_path, range_ends, searched_fields
from trainer.config.script import ScriptRunConfig, script_metric_mode

ARGS_PREFIX = "script.args."
ENV_PREFIX = "script.env."
# A command-line option: one or two dashes, then a word (`-n`, `--lr`, `--weight-decay`).
FLAG = re.compile(r"^--?[A-Za-z0-9][A-Za-z0-9_.-]*$")
# argparse actions whose option takes no value: searching one would break the command line.
VALUELESS_ACTIONS = {"store_true", "store_false", "store_const", "append_const", "count"}


def is_script_base(config: dict[str, Any]) -> bool:
    """Whether a study's base config is a script run's (it has a `script` key)."""
    return "script" in config


def check_script_space(
    base: dict[str, Any], space: list[dict[str, Any]], scripts_dir: Path
) -> dict[str, Any]:
    """The script run's base config validated and dumped, once every entry of `space` names a
    flag the script takes (or a field of the config) and gives valid configs at its ends;
    raises ConfigError naming the entry otherwise."""
    try:
        base_json = ScriptRunConfig.model_validate(base).model_dump(mode="json")
    except ValidationError as error:
        raise ConfigError(error, prefix=("body", "config")) from error
    where = ("body", "config", "script", "path")
    file = resolve_script(scripts_dir, base_json["script"]["path"], where)
    options = script_options(file)
    for loc, entry, path in searched_fields(space):
        if path.startswith(ARGS_PREFIX):
            _check_flag(path.removeprefix(ARGS_PREFIX), options, (*loc, "field"), path)
        elif path == "name":
            raise ConfigError.field((*loc, "field"), "name is set by the study", path)
        elif path.split(".")[0] == "script" and not path.startswith(ENV_PREFIX):
            raise ConfigError.field(
                (*loc, "field"),
                f"{path} is not searched: the script stays; search its arguments "
                "(script.args.<flag>) or a variable its env sets (script.env.NAME)",
                path,
            )
        elif not has_path(base_json, path):
            raise ConfigError.field(
                (*loc, "field"),
                f"a script run's config has no field {path!r}; search an argument as "
                "script.args.<flag> (e.g. script.args.--lr)",
                path,
            )
        check_range(entry, loc)
        for key, value in range_ends(entry):
            try:
                script_trial_config(base_json, {path: value}, base_json["name"])
            except ConfigError as error:
                why = error.errors[0]["msg"] if error.errors else str(error)
                raise ConfigError.field(
                    (*loc, *key.split(".")), f"{path}={value!r}: {why}", value
                ) from None
    return base_json


def check_script_objective(base_json: dict[str, Any], objective: str, direction: str | None) -> str:
    """The objective's direction: given, the run's monitor mode, or the name's own."""
    if not objective.strip():
        raise ConfigError.field(("body", "objective"), "name the metric the script reports", "")
    if direction:
        return direction
    if objective == base_json.get("monitor") and base_json.get("monitor_mode"):
        return str(base_json["monitor_mode"])
    return script_metric_mode(objective)


def script_trial_config(
    base_json: dict[str, Any], params: dict[str, Any], name: str
) -> dict[str, Any]:
    """The script run config of a trial: the base with its arguments (and fields) set, named."""
    config = copy.deepcopy(base_json)
    for path, value in params.items():
        if path.startswith(ARGS_PREFIX):
            flag = path.removeprefix(ARGS_PREFIX)
            config["script"]["args"] = with_argument(config["script"]["args"], flag, value)
        else:
            node = config
            *parents, last = path.split(".")
            for key in parents:
                node = node[key]
            # An environment variable is text: a number goes in as its argument would be written.
            node[last] = _as_text(value) if path.startswith(ENV_PREFIX) else value
    config["name"] = name[:200]
    try:
        return ScriptRunConfig.model_validate(config).model_dump(mode="json")
    except ValidationError as error:
        raise ConfigError(error, prefix=("body", "config")) from error


def _as_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check_flag(flag: str, options: list[ScriptOption], loc: tuple[str, ...], path: str) -> None:
    if not FLAG.match(flag):
        raise ConfigError.field(
            loc, f"{path}: after script.args. comes a flag such as --lr, not {flag!r}", path
        )
    if not options:
        return  # it declares no argparse option: it may read its arguments by hand
    option = next((o for o in options if flag in o.flags), None)
    if option is None:
        declared = ", ".join(o.flags[-1] for o in options if o.flags[-1].startswith("-"))
        raise ConfigError.field(
            loc, f"the script declares no option {flag} (its options: {declared})", path
        )
    if option.action in VALUELESS_ACTIONS:
        raise ConfigError.field(
            loc, f"{flag} takes no value (action={option.action!r}): it cannot be searched", path
        )
