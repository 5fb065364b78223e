"""Optimizers: each config kind becomes a `torch.optim` optimizer over the model's parameters."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import optim

from trainer.config import AdamOptimizer, OptimizerConfig, SGDOptimizer


def build_optimizer(config: OptimizerConfig, params: Iterable[torch.Tensor]) -> optim.Optimizer:
    """Build the optimizer a config names; every field but `kind` is a torch keyword argument."""
    kwargs = config.model_dump(exclude={"kind"})
    if isinstance(config, SGDOptimizer):
        return optim.SGD(params, **kwargs)
    if isinstance(config, AdamOptimizer):
        kwargs["betas"] = tuple(kwargs["betas"])
        return optim.Adam(params, **kwargs)
    raise TypeError(f"unknown optimizer config {config!r}")
