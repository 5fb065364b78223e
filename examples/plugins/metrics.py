"""Metrics: a torchmetrics Metric class, and a plain function of (output, target)."""

from __future__ import annotations

import torch
from torchmetrics import Metric


class WithinTolerance(Metric):
    """The share of predictions within `tolerance` of their target (higher is better)."""

    def __init__(self, tolerance: float = 0.5) -> None:
        super().__init__()
        self.tolerance = tolerance
        self.add_state("close", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        error = (output - target.reshape(output.shape)).abs()
        self.close += (error <= self.tolerance).sum()
        self.total += error.numel()

    def compute(self) -> torch.Tensor:
        return self.close / self.total


def mean_squared_error(output: torch.Tensor, target: torch.Tensor) -> float:
    """The batch's mean squared error; torchdash averages it over the batches, weighted by their
    size, which is the split's mean squared error (lower is better: give it mode "min")."""
    return float(((output - target.reshape(output.shape)) ** 2).mean())
