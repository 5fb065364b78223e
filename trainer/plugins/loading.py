"""Import the user's plugin classes (and metric functions) from the plugins folder and build them.

Plugin files are trusted code: importing one runs it with the worker's rights. Only workers
import them; the server reads their syntax (trainer/plugins/catalog.py).

A name is looked up in the catalog under its kind first, so the worker imports the very class the
server accepted; failing that (a class whose bases the catalog cannot read), by a plain scan of
the folder's `*.py` files (those not starting with `_`) for a top-level `class Name` or
`def Name`, the first file in name order winning. Each file is
imported once per process (again if it changed), as its own module, with the plugins folder on
`sys.path` so it can import helper modules that sit next to it.

Constructors get the run config's `args`; torchdash adds `split` (a Dataset's), and
`input_shape`, `num_classes` and `num_outputs` only where the constructor names them.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset
from torchmetrics import Metric

from trainer.config.model import PluginModel
from trainer.config.plugins import PluginData, PluginLoss, PluginMetric
from trainer.errors import PluginError
from trainer.plugins.catalog import INJECTED, PluginKind, read_catalog

KIND_WORDS: dict[PluginKind, str] = {
    "dataset": "a Dataset",
    "model": "an nn.Module",
    "loss": "an nn.Module",
    "metric": "a torchmetrics Metric or a function",
}

_DEFINITION = re.compile(r"^(class|def)\s+([A-Za-z_]\w*)", re.MULTILINE)
# Imported plugin files: (file, its mtime and size) -> module. A changed file is imported again.
_imported: dict[tuple[Path, int, int], ModuleType] = {}


def definitions(plugins_dir: Path) -> dict[str, tuple[str, Path]]:
    """Top-level name -> ("class" | "def", file), for every plugin file of the folder."""
    found: dict[str, tuple[str, Path]] = {}
    if not plugins_dir.is_dir():
        return found
    for file in sorted(plugins_dir.glob("*.py")):
        if file.name.startswith("_"):
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # importing it would fail too; the catalog lists the file's error
        for match in _DEFINITION.finditer(text):
            found.setdefault(match.group(2), (match.group(1), file))
    return found


def load_plugin(plugins_dir: Path | None, kind: PluginKind, name: str) -> Any:
    """The class (or metric function) `name` from the plugins folder, checked to be of `kind`."""
    if plugins_dir is None:
        raise PluginError("name", f"a {kind} plugin needs a plugins folder (TORCHDASH_PLUGINS_DIR)")
    if not plugins_dir.is_dir():
        # On a cluster: the folder must be at the same path on every node (docs/cluster.md).
        raise PluginError(
            "name",
            f"the plugins folder '{plugins_dir}' does not exist on this machine "
            f"({socket.gethostname()})",
        )
    found = definitions(plugins_dir)
    if name not in found:
        candidates = sorted(
            n for n, (word, _) in found.items() if word == "class" or kind == "metric"
        )
        raise PluginError(
            "name",
            f"no {kind} plugin named '{name}' in the plugins folder '{plugins_dir}' "
            f"(found: {', '.join(candidates) or 'none'})",
        )
    spec = read_catalog(plugins_dir).of_kind(kind).get(name)
    file = spec.file if spec is not None else found[name][1]
    module = _import(plugins_dir, file)
    obj = getattr(module, name, None)
    if obj is None:
        raise PluginError("name", f"plugin file '{file.name}' defines no '{name}' when imported")
    if not _is_kind(obj, kind):
        raise PluginError(
            "name", f"'{name}' is {describe(obj)}, not {KIND_WORDS[kind]} ({file.name})"
        )
    return obj


def describe(obj: object) -> str:
    """What a plugin object is, in the words of the plugin contract."""
    if isinstance(obj, type):
        if issubclass(obj, Metric):
            return "a torchmetrics Metric"
        if issubclass(obj, nn.Module):
            return "an nn.Module"
        if issubclass(obj, Dataset):
            return "a Dataset"
        return "a class that is neither a Dataset, an nn.Module nor a Metric"
    if inspect.isroutine(obj):
        return "a function"
    return f"a {type(obj).__name__} value"


def _is_kind(obj: object, kind: PluginKind) -> bool:
    if kind == "dataset":
        return isinstance(obj, type) and issubclass(obj, Dataset)
    if kind in ("model", "loss"):
        return isinstance(obj, type) and issubclass(obj, nn.Module) and not issubclass(obj, Metric)
    return (isinstance(obj, type) and issubclass(obj, Metric)) or inspect.isroutine(obj)


def _import(plugins_dir: Path, file: Path) -> ModuleType:
    """`file` imported as its own module (once per version of the file)."""
    stat = file.stat()
    key = (file.resolve(), stat.st_mtime_ns, stat.st_size)
    if key in _imported:
        return _imported[key]
    module_name = f"torchdash_plugin_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise PluginError("name", f"cannot import plugin file '{file}'")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    folder = str(plugins_dir.resolve())
    # First on the path while the file runs, so its helper modules win over installed ones of
    # the same name; then last, for imports done later inside its functions.
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # whatever the user's file raises: name the file
        del sys.modules[module_name]
        raise PluginError(
            "name", f"plugin file '{file.name}' does not import: {type(error).__name__}: {error}"
        ) from error
    finally:
        sys.path.remove(folder)
        if folder not in sys.path:
            sys.path.append(folder)
    _imported[key] = module
    return module


def construct(
    cls: Callable[..., Any],
    args: Mapping[str, Any],
    offered: Mapping[str, Any],
    always: Mapping[str, Any] | None = None,
) -> Any:
    """`cls(**args, **always, **the offered values its constructor names)`; argument errors
    name the class and the args."""
    name = getattr(cls, "__name__", repr(cls))
    clash = sorted(set(args) & set(INJECTED))
    if clash:
        raise PluginError(
            "args", f"{name}: {', '.join(clash)} is passed by torchdash, not through args"
        )
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # no signature to read (a C type): offer nothing
        parameters = {}  # type: ignore[assignment]
    named = {key: value for key, value in offered.items() if key in parameters}
    kwargs = {**args, **(always or {}), **named}
    shown = ", ".join(f"{key}={value!r}" for key, value in args.items())
    if parameters:
        try:
            inspect.signature(cls).bind(**kwargs)
        except TypeError as error:
            accepted = [
                p.name
                for p in parameters.values()
                if p.name not in INJECTED and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
            raise PluginError(
                "args",
                f"{name}({shown}): {error} (its arguments: {', '.join(accepted) or 'none'})",
            ) from error
    try:
        return cls(**kwargs)
    except TypeError as error:  # an argument of the wrong type, most often
        raise PluginError("args", f"{name}({shown}) failed: TypeError: {error}") from error


def build_plugin_dataset(plugins_dir: Path | None, config: PluginData, split: str) -> Dataset:
    """The config's Dataset class built for one split: `Cls(split=split, **args)`."""
    cls = load_plugin(plugins_dir, "dataset", config.name)
    try:
        parameters = inspect.signature(cls).parameters.values()
        takes_split = any(p.name == "split" or p.kind == p.VAR_KEYWORD for p in parameters)
    except (TypeError, ValueError):  # no signature to read: try it
        takes_split = True
    if not takes_split:
        raise PluginError(
            "name",
            f'Dataset \'{config.name}\' must take a `split` argument ("train" or "val"): '
            "torchdash builds it once per split",
        )
    return construct(cls, config.args, {}, always={"split": split})


def build_plugin_model(
    plugins_dir: Path | None,
    config: PluginModel,
    input_shape: tuple[int, ...],
    num_classes: int,
    num_outputs: int,
) -> nn.Module:
    """The config's model class built with its args (and the data's sizes where it names them)."""
    cls = load_plugin(plugins_dir, "model", config.name)
    return construct(cls, config.args, _sizes(input_shape, num_classes, num_outputs))


def build_plugin_loss(
    plugins_dir: Path | None, config: PluginLoss, num_classes: int, num_outputs: int
) -> nn.Module:
    """The config's loss module: `forward(output, target)` returns a scalar tensor."""
    cls = load_plugin(plugins_dir, "loss", config.name)
    return construct(cls, config.args, {"num_classes": num_classes, "num_outputs": num_outputs})


def build_plugin_metric(
    plugins_dir: Path | None, config: PluginMetric, num_classes: int, num_outputs: int
) -> Metric:
    """The config's metric: a Metric class built like a model, or a function averaged over the
    validation samples (its args, if any, passed to it as keywords)."""
    found = load_plugin(plugins_dir, "metric", config.name)
    if isinstance(found, type):
        sizes = {"num_classes": num_classes, "num_outputs": num_outputs}
        return construct(found, config.args, sizes)
    if config.args:
        try:
            inspect.signature(found).bind(None, None, **config.args)
        except TypeError as error:
            shown = ", ".join(f"{key}={value!r}" for key, value in config.args.items())
            raise PluginError("args", f"{config.name}(output, target, {shown}): {error}") from error
    return FunctionMetric(found, dict(config.args))


def _sizes(input_shape: tuple[int, ...], num_classes: int, num_outputs: int) -> dict[str, Any]:
    return {
        "input_shape": tuple(input_shape),
        "num_classes": num_classes,
        "num_outputs": num_outputs,
    }


class FunctionMetric(Metric):
    """A plugin function of (output, target) -> number, averaged over samples: each batch's value
    weighted by its size. The sums are states reduced by `sum`, so DDP ranks sync them."""

    full_state_update = False
    weighted: torch.Tensor  # the sum of batch values times batch sizes
    samples: torch.Tensor

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.function = function
        self.kwargs = kwargs or {}
        # float32, not float64: MPS has no float64, and the sums are of per-batch means.
        self.add_state("weighted", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("samples", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        value = self.function(output, target, **self.kwargs)
        size = len(target)
        value = torch.as_tensor(value, dtype=torch.float32, device=self.weighted.device)
        if value.numel() != 1:
            name = getattr(self.function, "__name__", "metric")
            raise ValueError(f"metric function {name} returned {value.numel()} values, not one")
        self.weighted += value.reshape(()).detach() * size
        self.samples += size

    def compute(self) -> torch.Tensor:
        return self.weighted / self.samples.clamp_min(1)
