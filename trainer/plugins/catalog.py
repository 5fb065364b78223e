"""The plugins folder's catalog: its Dataset, model, loss and metric plugins with their typed
constructor arguments, read from the files' syntax (ast), never by importing them. The web server
lists and checks plugins with it without running user code (nor importing torch); a worker then
imports the chosen file (trainer/plugins/loading.py).

How each kind is recognised, in a `*.py` file directly inside the folder (files starting with `_`
are helpers, skipped):
- Dataset: a class deriving from `Dataset` (`data.Dataset`, `torch.utils.data.Dataset`);
- model: an `nn.Module` subclass whose `forward` takes one input (or that defines no `forward`);
- loss: an `nn.Module` subclass whose `forward` takes two (`output, target`);
- metric: a torchmetrics `Metric` subclass, or a top-level function of two arguments
  (`output, target`) returning a number.
A class deriving from another class of the same file is of that class's kind and, without an
`__init__` of its own, takes its arguments. Names starting with `_` are private, never listed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from trainer.plugins.signatures import (
    INJECTED,
    PluginParam,
    params_model,
    params_schema,
    read_params,
)

__all__ = [
    "INJECTED",
    "KIND_NOUNS",
    "Catalog",
    "PluginKind",
    "PluginParam",
    "PluginSpec",
    "args_model",
    "args_schema",
    "read_catalog",
]

PluginKind = Literal["dataset", "model", "loss", "metric"]
KIND_NOUNS: dict[PluginKind, str] = {
    "dataset": "Dataset",
    "model": "model",
    "loss": "loss",
    "metric": "metric",
}

_DATASET_BASES = {"Dataset", "data.Dataset", "utils.data.Dataset", "torch.utils.data.Dataset"}
_MODULE_BASES = {"Module", "nn.Module", "torch.nn.Module"}
_METRIC_BASES = {"Metric", "torchmetrics.Metric"}


@dataclass(frozen=True)
class PluginSpec:
    """One plugin: a class (or a metric function) of a file in the plugins folder."""

    name: str
    file: Path
    kind: PluginKind
    params: list[PluginParam]
    doc: str
    line: int = 1
    is_function: bool = False  # a metric function: called as f(output, target), takes no args
    open_ended: bool = False  # its constructor takes **kwargs: any other argument too


@dataclass
class Catalog:
    """The plugins found, by kind and name, and why a file could not be read (file name ->
    "line 3: invalid syntax")."""

    datasets: dict[str, PluginSpec] = field(default_factory=dict)
    models: dict[str, PluginSpec] = field(default_factory=dict)
    losses: dict[str, PluginSpec] = field(default_factory=dict)
    metrics: dict[str, PluginSpec] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    others: dict[str, Path] = field(default_factory=dict)  # top-level classes of no plugin kind

    def of_kind(self, kind: PluginKind) -> dict[str, PluginSpec]:
        return {
            "dataset": self.datasets,
            "model": self.models,
            "loss": self.losses,
            "metric": self.metrics,
        }[kind]

    def named(self, name: str) -> list[PluginSpec]:
        """Every plugin called `name`, whatever its kind."""
        kinds: tuple[PluginKind, ...] = ("dataset", "model", "loss", "metric")
        return [self.of_kind(kind)[name] for kind in kinds if name in self.of_kind(kind)]


def read_catalog(plugins_dir: Path) -> Catalog:
    """The plugins of the folder's `*.py` files, read in name order. Where two files define the
    same name for one kind, the first file's is used and the second's is listed in `errors`."""
    catalog = Catalog()
    if not plugins_dir.is_dir():
        return catalog
    for file in sorted(plugins_dir.glob("*.py")):
        if file.name.startswith("_") or not file.is_file():
            continue
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=file.name)
        except SyntaxError as error:
            catalog.errors[file.name] = f"line {error.lineno}: {error.msg}"
            continue
        except UnicodeDecodeError as error:
            catalog.errors[file.name] = f"not UTF-8 text ({error.reason} at byte {error.start})"
            continue
        except OSError as error:
            catalog.errors[file.name] = f"cannot be read: {error.strerror or error}"
            continue
        _add_file(catalog, file, tree)
    return catalog


def _add_file(catalog: Catalog, file: Path, tree: ast.Module) -> None:
    specs: dict[str, PluginSpec] = {}
    others: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.ClassDef | ast.FunctionDef) or node.name.startswith("_"):
            continue
        if isinstance(node, ast.ClassDef):
            spec = _class_spec(node, file, specs)
        else:
            spec = _function_spec(node, file)
        # A later definition of a name replaces the earlier one, as in Python.
        specs.pop(node.name, None)
        others.discard(node.name)
        if spec is not None:
            specs[node.name] = spec
        elif isinstance(node, ast.ClassDef):
            others.add(node.name)
    for name in sorted(others):
        catalog.others.setdefault(name, file)
    problems = []
    for name, spec in specs.items():
        found = catalog.of_kind(spec.kind)
        if name in found:
            problems.append(
                f"line {spec.line}: {KIND_NOUNS[spec.kind]} '{name}' is also defined in "
                f"{found[name].file.name}, whose '{name}' is used"
            )
        else:
            found[name] = spec
    if problems:
        catalog.errors[file.name] = "; ".join(problems)


def _base_name(base: ast.expr) -> str:
    """`torch.utils.data.Dataset[int]` -> "torch.utils.data.Dataset"."""
    if isinstance(base, ast.Subscript):
        base = base.value
    return ast.unparse(base)


def _method(node: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    found = None
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == name:
            found = item  # the last definition wins, as in Python
    return found


def _class_spec(node: ast.ClassDef, file: Path, local: dict[str, PluginSpec]) -> PluginSpec | None:
    """The class's spec, or None when it is no plugin kind; `local` holds the file's classes
    defined above it (a subclass of one is of its kind)."""
    kind: PluginKind | None = None
    parent: PluginSpec | None = None
    for base in map(_base_name, node.bases):
        if base in _DATASET_BASES:
            kind = "dataset"
        elif base in _METRIC_BASES:
            kind = "metric"
        elif base in _MODULE_BASES:
            kind = _module_kind(node)
        elif base in local and not local[base].is_function:
            parent = local[base]
            modules = parent.kind in {"model", "loss"}
            kind = _module_kind(node, default=parent.kind) if modules else parent.kind
        if kind is not None:
            break
    if kind is None:
        return None
    init = _method(node, "__init__")
    if init is not None:
        params, open_ended = read_params(init)
    elif parent is not None:
        params, open_ended = parent.params, parent.open_ended
    else:
        params, open_ended = [], False
    doc = ast.get_docstring(node) or ""
    return PluginSpec(node.name, file, kind, params, doc, node.lineno, open_ended=open_ended)


def _module_kind(node: ast.ClassDef, default: PluginKind = "model") -> PluginKind:
    """An nn.Module is a loss when its `forward` takes two inputs, else a model."""
    forward = _method(node, "forward")
    if forward is None:
        return default
    return "loss" if _required_positional(forward, skip_self=True) == 2 else "model"


def _required_positional(function: ast.FunctionDef, skip_self: bool) -> int:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args][1 if skip_self else 0 :]
    return max(0, len(positional) - len(arguments.defaults))


def _function_spec(node: ast.FunctionDef, file: Path) -> PluginSpec | None:
    """A top-level function of exactly two required arguments is a metric `f(output, target)`."""
    arguments = node.args
    required_keyword = [d for d in arguments.kw_defaults if d is None]
    if _required_positional(node, skip_self=False) != 2 or required_keyword:
        return None
    doc = ast.get_docstring(node) or ""
    return PluginSpec(node.name, file, "metric", [], doc, node.lineno, is_function=True)


def args_model(spec: PluginSpec) -> type[BaseModel]:
    """A pydantic model of the plugin's `args` (strict; unknown arguments refused)."""
    return params_model(spec.name, spec.params, spec.open_ended)


def args_schema(spec: PluginSpec) -> dict:
    """The JSON Schema of the plugin's `args` object."""
    return params_schema(args_model(spec), spec.params, spec.doc)
