"""Errors the trainer raises on purpose, so the worker can name them in the run's status."""

from __future__ import annotations

Loc = tuple[str | int, ...]


class NonFiniteLossError(ArithmeticError):
    """A batch loss that is NaN or infinite: the run stops before it reaches the weights."""


class ConfigProblem(ValueError):
    """A config that cannot train: `loc` is the config field to blame."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc


class PluginError(ValueError):
    """A plugin that cannot be used: `field` is the part of its config to blame ("name" when it
    is missing, of the wrong kind or does not import; "args" when its constructor refuses them)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
