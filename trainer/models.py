"""Models: each config kind becomes an `nn.Module` sized to the data's input and class count."""

from __future__ import annotations

import math

from torch import nn

from trainer.config import MLPModel, ModelConfig

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def build_model(config: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Build the model a config names for inputs of `input_shape` and `num_classes` outputs."""
    if isinstance(config, MLPModel):
        return _mlp(config, math.prod(input_shape), num_classes)
    raise TypeError(f"unknown model config {config!r}")


def _mlp(config: MLPModel, in_features: int, num_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for hidden in config.hidden_sizes:
        layers += [nn.Linear(width, hidden), ACTIVATIONS[config.activation]()]
        if config.dropout > 0:
            layers.append(nn.Dropout(config.dropout))
        width = hidden
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
