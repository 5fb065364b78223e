"""The optimizer inspector: a JSON-ready summary of an optimizer, taken once per epoch.

It holds the optimizer's `defaults`, each param group's hyperparameters and parameter names, and
for each parameter's `state` which buffers it keeps, their shapes and norms, so momentum
buffers and Adam's moments can be watched as they evolve.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn, optim

from trainer.optim.optimizers import parameter_names

# Parameters listed per group; a ResNet has hundreds, a page needs the first few.
MAX_PARAMETERS_PER_GROUP = 64


def inspect_optimizer(model: nn.Module, optimizer: optim.Optimizer) -> dict[str, Any]:
    names = parameter_names(model, optimizer)
    groups = []
    for group, group_names in zip(optimizer.param_groups, names, strict=True):
        params = []
        for param, name in list(zip(group["params"], group_names, strict=True))[
            :MAX_PARAMETERS_PER_GROUP
        ]:
            state = optimizer.state.get(param, {})
            params.append(
                {
                    "name": name,
                    "shape": list(param.shape),
                    "state": {key: _buffer(value) for key, value in state.items()},
                }
            )
        groups.append(
            {
                "hyperparameters": {k: _plain(v) for k, v in group.items() if k != "params"},
                "parameter_count": len(group["params"]),
                "parameters": params,
            }
        )
    return {
        "optimizer": type(optimizer).__name__,
        "defaults": {k: _plain(v) for k, v in optimizer.defaults.items()},
        "groups": groups,
    }


def _buffer(value: Any) -> dict[str, Any]:
    """A state entry: a tensor as its shape and norm (a scalar tensor as its value), or a value."""
    if isinstance(value, torch.Tensor):
        if value.is_sparse:
            value = value.coalesce().values()
        # .item(): the inspector is read once per epoch, where a device sync is fine.
        if value.numel() == 1 and value.dim() == 0:
            return {"shape": [], "value": _plain(value.item())}
        norm = torch.linalg.vector_norm(value.detach().float()).item()
        return {"shape": list(value.shape), "norm": _plain(norm)}
    return {"shape": None, "value": _plain(value)}


def _plain(value: Any) -> Any:
    """A JSON-safe copy: tuples as lists, tensors as numbers, non-finite floats as text."""
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
