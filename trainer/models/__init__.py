"""The networks a run trains: the built-in model kinds and their layers, torchvision's
architectures, and the user's plugin models (found by reading the plugin files as text, built by
importing them in a worker).

`build_model` is importable from here; it is loaded on first use, so importing this package
costs no torch import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainer.models.builtin import build_model, parameter_count

__all__ = ["build_model", "parameter_count"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from trainer.models import builtin

        return getattr(builtin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
