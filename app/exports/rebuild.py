"""What a run's bundle ships so that its `train.py` rebuilds the run: the trainer's own source,
the plugin files the run uses and the packages they import (`requirements.txt`).

The server reads these files as text and never imports them (nor torch): a plugin file's
imports, and the names it defines, are read from its syntax.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import trainer
from app.errors import ConflictError

TRAINER_DIR = Path(trainer.__file__).resolve().parent
# The packages `trainer.loop.fit` imports for every run (by their import names); the system test
# of the bundle checks this against the modules a rebuilt run really imports.
# numpy and filelock: the on-disk decode cache (trainer/data/disk_cache.py) maps its files with
# numpy and takes its one-writer lock with filelock, imported with the data code in every run.
TRAINER_IMPORTS = ("torch", "torchvision", "pydantic", "PIL", "torchmetrics", "numpy", "filelock")
# ... and those that only some data kinds reach: scikit-learn ships the digits; a table or a text
# file is read with pandas and encoded with numpy (pandas reads Parquet through pyarrow: see
# `requirements`).
DATA_KIND_IMPORTS: dict[str, tuple[str, ...]] = {
    "digits": ("sklearn",),
    "table": ("pandas", "numpy"),
    "text": ("pandas", "numpy"),
}
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class SourceFile:
    """A file the bundle ships: its name inside the bundle and its text."""

    name: str
    text: str


def trainer_sources() -> list[SourceFile]:
    """Every .py file of the installed `trainer` package, as `trainer/...` (no caches)."""
    return [
        SourceFile(f"trainer/{path.relative_to(TRAINER_DIR).as_posix()}", path.read_text())
        for path in sorted(TRAINER_DIR.rglob("*.py"))
        if "__pycache__" not in path.parts
    ]


def plugin_references(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, class or function name) of every plugin the config names: `model`, `metrics.0`."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, loc: str) -> None:
        if isinstance(node, dict):
            if node.get("kind") == "plugin" and isinstance(node.get("name"), str):
                found.append((loc, node["name"]))
            for key, value in node.items():
                walk(value, f"{loc}.{key}" if loc else str(key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{loc}.{index}")

    walk(config, "")
    return found


def plugin_sources(plugins_dir: Path, config: dict[str, Any]) -> list[SourceFile]:
    """The plugins folder's top-level .py files, as `plugins/...`, when the run uses a plugin.

    The whole folder's files, not only those defining the named classes: a plugin may import a
    helper module beside it. A plugin the config names that no file defines is a ConflictError.
    """
    references = plugin_references(config)
    if not references:
        return []
    files = sorted(plugins_dir.glob("*.py")) if plugins_dir.is_dir() else []
    sources = [SourceFile(f"plugins/{path.name}", path.read_text()) for path in files]
    defined = {name for source in sources for name in _top_level_names(source.text)}
    for loc, name in references:
        if name not in defined:
            raise ConflictError(
                f"the bundle cannot rebuild this run: its {loc} plugin '{name}' is defined in "
                f"no file of the plugins folder {plugins_dir}"
            )
    return sources


def _top_level_names(text: str) -> set[str]:
    """The classes, functions and imported names a module defines at its top level."""
    try:
        tree = ast.parse(text)
    except SyntaxError:  # shipped all the same: the trainer reports it where it is imported
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def _imported_tops(text: str) -> set[str]:
    """The top-level names of the absolute imports anywhere in a module's text."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def requirements(config: dict[str, Any], plugin_files: list[SourceFile]) -> list[str]:
    """`requirements.txt`'s lines: the distributions this run's trainer and plugins import,
    pinned to the versions this server has (the same versions give the same numbers)."""
    imports = set(TRAINER_IMPORTS)
    data = config.get("data", {})
    imports |= set(DATA_KIND_IMPORTS.get(str(data.get("kind")), ()))
    paths = [str(data.get(field) or "") for field in ("path", "val_path")]
    if data.get("kind") == "table" and any(p.lower().endswith(PARQUET_SUFFIXES) for p in paths):
        imports.add("pyarrow")  # pandas' Parquet engine, imported by pandas itself
    local = {Path(f.name).stem for f in plugin_files} | {"trainer", "__future__"}
    for source in plugin_files:
        imports |= _imported_tops(source.text) - local - sys.stdlib_module_names
    return sorted({_pinned(name) for name in imports}, key=str.lower)


@cache
def _distributions() -> Mapping[str, list[str]]:
    """Import name -> the installed distributions that provide it."""
    return importlib.metadata.packages_distributions()


def _pinned(import_name: str) -> str:
    """`torch==2.14.1` for an import name; the bare name when this server lacks it."""
    names = _distributions().get(import_name)
    if not names:
        return import_name
    distribution = names[0]
    version = importlib.metadata.version(distribution)
    # Without the local label (`+cpu`): `==2.14.1` matches every local build of 2.14.1.
    return f"{_canonical(distribution)}=={version.split('+')[0]}"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
