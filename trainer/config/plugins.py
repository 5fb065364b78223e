"""Plugin kinds for the parts of the loop a user brings as code: a Dataset, a loss and metrics
(the model's is in trainer/config/model.py). Each names a class (or, for a metric, a function) in
a Python file of the plugins folder, and its constructor arguments.

Here `args` is only a JSON object: its typed check against the class's signature needs the plugin
files, so the server does it (app/runs/config_checks.py, with trainer/plugins/catalog.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from trainer.config.base import Frozen, Identifier

PluginArgs = Annotated[dict[str, Any], Field(max_length=64)]


class PluginData(Frozen):
    """A torch.utils.data.Dataset subclass from the plugins folder, built once per split as
    `Cls(split="train" | "val", **args)`; items are `(input, target)` pairs."""

    kind: Literal["plugin"] = "plugin"
    name: Identifier = Field(description="Class name of a Dataset in the plugins folder.")
    args: PluginArgs = Field(
        default_factory=dict, description="The class's constructor arguments, by name."
    )
    cache: bool = Field(
        False,
        description="Its items are the same every epoch: decode them once into memory (within "
        "cache_budget_mb). Off: every epoch reads them through the DataLoader.",
    )


class PluginLoss(Frozen):
    """An nn.Module from the plugins folder whose forward(output, target) returns the loss."""

    kind: Literal["plugin"] = "plugin"
    name: Identifier = Field(description="Class name of a loss module in the plugins folder.")
    args: PluginArgs = Field(
        default_factory=dict, description="The class's constructor arguments, by name."
    )


class PluginMetric(Frozen):
    """A torchmetrics Metric subclass, or a function of (output, target), from the plugins
    folder; computed on the validation split every epoch and recorded as `val_<name>`."""

    kind: Literal["plugin"] = "plugin"
    name: Identifier = Field(description="A Metric class or a function in the plugins folder.")
    args: PluginArgs = Field(
        default_factory=dict, description="The Metric class's constructor arguments, by name."
    )
    mode: Literal["min", "max"] = Field(
        "max", description="max: higher is better; min: lower is better."
    )
