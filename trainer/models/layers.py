"""The classic custom layers, usable as building blocks (model kind `custom_layers`)."""

from __future__ import annotations

import math

import torch
from torch import nn


class CenteredLayer(nn.Module):
    """Subtracts each sample's mean: a layer with no parameters at all."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - x.mean(dim=tuple(range(1, x.dim())), keepdim=True)


class ParameterListDense(nn.Module):
    """A stack of dense layers (ReLU between) whose weights and biases live in nn.ParameterList."""

    def __init__(self, in_features: int, widths: list[int]) -> None:
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for width in widths:
            self.weights.append(nn.Parameter(_kaiming((in_features, width))))
            self.biases.append(nn.Parameter(torch.zeros(width)))
            in_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for weight, bias in zip(self.weights, self.biases, strict=True):
            x = torch.relu(x @ weight + bias)
        return x


class ParameterDictDense(nn.Module):
    """A dense layer holding one weight set per name in nn.ParameterDict and using `choice`.

    The weights not chosen get no gradient: the optimizer keeps no state for them, which the
    run page's optimizer inspector makes visible.
    """

    def __init__(
        self, in_features: int, out_features: int, choices: list[str], choice: str
    ) -> None:
        super().__init__()
        self.choice = choice
        self.weights = nn.ParameterDict(
            {name: nn.Parameter(_kaiming((in_features, out_features))) for name in choices}
        )
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weights[self.choice] + self.bias

    def extra_repr(self) -> str:
        return f"choices={list(self.weights.keys())}, choice={self.choice!r}"


def _kaiming(shape: tuple[int, int]) -> torch.Tensor:
    bound = 1 / math.sqrt(shape[0])
    return torch.empty(shape).uniform_(-bound, bound)


class PixelBinEmbedding(nn.Module):
    """A linear classifier over one-hot (pixel position, intensity bin) features, as an
    nn.EmbeddingBag summing one row per pixel: with `sparse`, gradients are sparse."""

    offsets: torch.Tensor  # a buffer: each pixel's first row in the table

    def __init__(
        self, input_shape: tuple[int, ...], num_outputs: int, bins: int, sparse: bool
    ) -> None:
        super().__init__()
        self.bins = bins
        self.pixels = math.prod(input_shape)
        self.table = nn.EmbeddingBag(self.pixels * bins, num_outputs, mode="sum", sparse=sparse)
        nn.init.zeros_(self.table.weight)
        self.register_buffer("offsets", torch.arange(self.pixels) * bins, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = (x.flatten(1).clamp(0, 1) * (self.bins - 1)).round().long()
        return self.table(levels + self.offsets)
