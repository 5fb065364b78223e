"""A model for flat feature vectors, with its own constructor arguments."""

from __future__ import annotations

import math
from typing import Literal

from torch import nn


class TabularMLP(nn.Module):
    """`depth` hidden layers of `width` units; torchdash passes `input_shape` and `num_outputs`
    because the constructor names them, and the rest comes from the run config's `args`."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        width: int = 64,
        depth: int = 2,
        activation: Literal["relu", "tanh"] = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        size = math.prod(input_shape)
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU() if activation == "relu" else nn.Tanh()]
            layers += [nn.Dropout(dropout)] if dropout else []
            size = width
        layers.append(nn.Linear(size, num_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
