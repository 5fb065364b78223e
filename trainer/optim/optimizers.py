"""Optimizers: each config kind becomes a `torch.optim` optimizer, with parameter groups.

Every field of an optimizer config but `kind` is a torch keyword argument of the same name.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

from torch import nn, optim

from trainer.config.optimizers import OptimizerConfig, ParamGroup

OPTIMIZERS: dict[str, type[optim.Optimizer]] = {
    "sgd": optim.SGD,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "adamax": optim.Adamax,
    "adagrad": optim.Adagrad,
    "adadelta": optim.Adadelta,
    "asgd": optim.ASGD,
    "rmsprop": optim.RMSprop,
    "rprop": optim.Rprop,
    "nadam": optim.NAdam,
    "radam": optim.RAdam,
    "lbfgs": optim.LBFGS,
    "sparse_adam": optim.SparseAdam,
}


def build_optimizer(
    config: OptimizerConfig, model: nn.Module, groups: Sequence[ParamGroup] = ()
) -> optim.Optimizer:
    """The optimizer a config names over `model`'s parameters, split into `groups`.

    Each parameter goes to the first group whose glob matches its name; the rest form the first
    group, with the optimizer's own settings (as `add_param_group` would add the others).
    """
    kwargs: dict[str, Any] = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in config.model_dump(exclude={"kind"}).items()
    }
    param_groups = split_parameters(model, groups)
    return OPTIMIZERS[config.kind](param_groups, **kwargs)


def split_parameters(model: nn.Module, groups: Sequence[ParamGroup]) -> list[dict[str, Any]]:
    """torch param-group dicts: the unmatched parameters first, then one per ParamGroup."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    taken: set[str] = set()
    extra: list[dict[str, Any]] = []
    for index, group in enumerate(groups):
        params = [p for name, p in named if name not in taken and fnmatchcase(name, group.match)]
        names = [name for name, _ in named if name not in taken and fnmatchcase(name, group.match)]
        if not params:
            available = ", ".join(name for name, _ in named[:20])
            raise ValueError(
                f"param_groups[{index}].match '{group.match}' matches no parameter "
                f"(parameters: {available}{', ...' if len(named) > 20 else ''})"
            )
        taken.update(names)
        settings = {k: v for k, v in (("lr", group.lr), ("weight_decay", group.weight_decay))}
        extra.append({"params": params, **{k: v for k, v in settings.items() if v is not None}})
    rest = [p for name, p in named if name not in taken]
    if not rest:
        return extra
    return [{"params": rest}, *extra]


def parameter_names(model: nn.Module, optimizer: optim.Optimizer) -> list[list[str]]:
    """The names of each param group's parameters, for the optimizer inspector."""
    by_id = {id(p): name for name, p in model.named_parameters()}
    return [[by_id.get(id(p), "?") for p in group["params"]] for group in optimizer.param_groups]
