"""A loss module: forward(output, target) returns a scalar."""

from __future__ import annotations

import torch
from torch import nn


class LogCoshLoss(nn.Module):
    """log(cosh(output - target)), averaged: like MSE near 0, like L1 far from it."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = (output - target.reshape(output.shape)) / self.scale
        return (error + nn.functional.softplus(-2 * error) - torch.log(torch.tensor(2.0))).mean()
