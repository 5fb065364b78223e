"""Errors the training loop raises on purpose, so the worker can name them in the run's status."""

from __future__ import annotations


class NonFiniteLossError(ArithmeticError):
    """A batch loss that is NaN or infinite: the run stops before it reaches the weights."""
