"""Import a user model class from the plugins folder and build it. Plugin files are trusted code:
importing one runs it with the worker's rights."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from torch import nn

from trainer.plugins.catalog import read_catalog


def build_plugin_model(
    plugins_dir: Path, name: str, input_shape: tuple[int, ...], num_outputs: int
) -> nn.Module:
    """`name(input_shape=..., num_classes=...)` from the file that defines it."""
    files = {found: spec.file for found, spec in read_catalog(plugins_dir).models.items()}
    if name not in files:
        raise ValueError(
            f"plugin model '{name}' is not defined in '{plugins_dir}' (found: {sorted(files)})"
        )
    file = files[name]
    module_name = f"torchdash_plugin_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import plugin file '{file}'")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    cls = getattr(module, name)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"plugin '{name}' in '{file}' is not an nn.Module subclass")
    return cls(input_shape=tuple(input_shape), num_classes=num_outputs)
