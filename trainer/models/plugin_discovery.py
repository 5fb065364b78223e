"""Find user model classes in the plugins folder by reading the files, never importing them.

The web server calls this (it never imports torch, nor runs user code); the worker imports the
chosen file (trainer/models/plugins.py). A plugin model is a class deriving from `nn.Module`
(written `nn.Module`, `torch.nn.Module` or `Module`) in a `*.py` file directly inside the folder;
its constructor takes `(input_shape, num_classes)`.
"""

from __future__ import annotations

import ast
from pathlib import Path

_MODULE_BASES = {"nn.Module", "torch.nn.Module", "Module"}


def discover_plugin_models(plugins_dir: Path) -> dict[str, Path]:
    """Class name -> file, for every nn.Module subclass in the folder's Python files.

    Files are read in name order; a name defined again in a later file is ignored. A file that
    does not parse is skipped (the worker would fail on it anyway).
    """
    found: dict[str, Path] = {}
    if not plugins_dir.is_dir():
        return found
    for file in sorted(plugins_dir.glob("*.py")):
        if file.name.startswith("_"):
            continue
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(base) in _MODULE_BASES for base in node.bases
            ):
                found.setdefault(node.name, file)
    return found
