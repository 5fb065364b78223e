"""Script runs on the server side: the scripts folder, what a script offers, and queuing one.

The server never imports a script: it checks the path lies inside the scripts folder, and reads
the file as text (its syntax tree) to list the argparse options it declares, for the form.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.errors import ConfigError
from app.runs.queue import next_queue_rank
from app.storage.notifications import notify_dispatcher
from app.storage.tables import Run, RunStatus
from trainer.config.script import ScriptRunConfig

# A script bigger than this is listed without its options: parsing it would stall the request.
MAX_PARSED_BYTES = 1_000_000
MAX_LISTED = 500


def resolve_script(scripts_dir: Path, path: str, loc: tuple[str, ...]) -> Path:
    """The script file `path` names inside `scripts_dir`; ConfigError (422 at `loc`) when it
    points outside the folder, is not a .py file, or is not there."""
    root = scripts_dir.resolve()
    candidate = (root / path).resolve()
    if Path(path).is_absolute() or not candidate.is_relative_to(root):
        raise ConfigError.field(loc, f"script '{path}' is not inside the scripts folder", path)
    if candidate.suffix != ".py":
        raise ConfigError.field(loc, f"script '{path}' is not a .py file", path)
    if not candidate.is_file():
        raise ConfigError.field(loc, f"script '{path}' is not in the scripts folder ({root})", path)
    return candidate


def check_script_run(config: ScriptRunConfig, scripts_dir: Path) -> None:
    resolve_script(scripts_dir, config.script.path, ("body", "script", "path"))


def create_script_run(session: Session, config: ScriptRunConfig, **fields: Any) -> Run:
    """Store a new queued script run. Its metric names and monitored metric are learnt from what
    the script reports (app/worker/script_capture.py), unless the request named the monitor."""
    run = Run(
        name=config.name,
        kind="script",
        script=config.script.model_dump(mode="json"),
        task=config.task,
        monitor=config.monitor,
        monitor_mode=config.monitor_mode,
        status=RunStatus.QUEUED.value,
        config=config.model_dump(mode="json"),
        max_epochs=config.max_epochs or 0,
        queue_rank=next_queue_rank(session),
        **fields,
    )
    session.add(run)
    session.flush()
    notify_dispatcher(session)  # a dispatcher of another server process wakes too (PostgreSQL)
    return run


@dataclass(frozen=True)
class ScriptOption:
    """One `parser.add_argument(...)` call found in a script."""

    flags: list[str]
    type: str | None = None  # the name given as type=, e.g. "int"
    default: Any = None  # a literal default; None when absent or not a literal
    help: str | None = None
    choices: list[Any] | None = None
    action: str | None = None


@dataclass(frozen=True)
class ScriptInfo:
    path: str  # relative to the scripts folder
    size_bytes: int
    description: str | None = None  # the module docstring's first line
    options: list[ScriptOption] = field(default_factory=list)
    error: str | None = None  # why its options could not be read (a syntax error, its size)


def list_scripts(scripts_dir: Path) -> list[ScriptInfo]:
    """Every .py file in the scripts folder (subfolders too), with the options it declares."""
    root = scripts_dir.resolve()
    if not root.is_dir():
        return []
    found = []
    for file in sorted(root.rglob("*.py"))[:MAX_LISTED]:
        relative = file.relative_to(root)
        if any(part.startswith((".", "__")) for part in relative.parts[:-1]):
            continue  # caches, hidden folders
        if not file.resolve().is_relative_to(root):
            continue  # a link out of the folder is not a script of it
        found.append(_describe(file, relative.as_posix()))
    return found


def script_options(file: Path) -> list[ScriptOption]:
    """The argparse options `file` declares; empty when it declares none or cannot be read."""
    return _describe(file, file.name).options


def _describe(file: Path, relative: str) -> ScriptInfo:
    size = file.stat().st_size
    if size > MAX_PARSED_BYTES:
        return ScriptInfo(relative, size, error=f"larger than {MAX_PARSED_BYTES} bytes: not read")
    try:
        tree = ast.parse(file.read_bytes(), filename=relative)
    except (SyntaxError, ValueError) as error:
        return ScriptInfo(relative, size, error=f"cannot be parsed: {error}")
    docstring = ast.get_docstring(tree)
    return ScriptInfo(
        relative,
        size,
        description=docstring.strip().splitlines()[0] if docstring else None,
        options=argparse_options(tree),
    )


def argparse_options(tree: ast.AST) -> list[ScriptOption]:
    """The `add_argument` calls of the tree whose flags are string literals, in source order."""
    found: list[tuple[int, ScriptOption]] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
        ):
            continue
        flags = [
            arg.value
            for arg in node.args
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        ]
        if not flags or len(flags) != len(node.args):
            continue
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        found.append(
            (
                node.lineno,
                ScriptOption(
                    flags=flags,
                    type=_name(keywords.get("type")),
                    default=_literal(keywords.get("default")),
                    help=_literal(keywords.get("help")),
                    choices=_literal(keywords.get("choices")),
                    action=_literal(keywords.get("action")),
                ),
            )
        )
    return [option for _, option in sorted(found, key=lambda pair: pair[0])]


def _name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literal(node: ast.expr | None) -> Any:
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, tuple | set | frozenset):
        value = list(value)
    return value if isinstance(value, str | int | float | bool | list) or value is None else None
