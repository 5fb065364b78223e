"""Losses: each config kind becomes a `TaskLoss` taking (model outputs, class indices).

It adapts both to what the torch criterion expects: log-softmax for NLL and KL-divergence,
sigmoid for BCE, one-hot targets for the regression-style losses, and a single output with 0/1
targets for binary BCE. It also turns outputs into predicted classes, for accuracy.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from trainer.config.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    LossConfig,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SmoothL1Loss,
)

ONE_HOT_LOSSES = (MSELoss, L1Loss, SmoothL1Loss, HuberLoss)


def is_binary(config: LossConfig) -> bool:
    return isinstance(config, BCELoss | BCEWithLogitsLoss) and config.targets == "binary"


def output_count(config: LossConfig, num_classes: int) -> int:
    """How many outputs the model needs for this loss."""
    if is_binary(config):
        if num_classes != 2:
            raise ValueError(
                f"loss.targets 'binary' needs a data set of 2 classes; this one has {num_classes}"
            )
        return 1
    return num_classes


class TaskLoss(nn.Module):
    """A torch criterion with its output and target adaptation."""

    def __init__(self, config: LossConfig, criterion: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.config = config
        self.criterion = criterion
        self.num_classes = num_classes

    def forward(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        config = self.config
        if isinstance(config, NLLLoss):
            return self.criterion(F.log_softmax(output, dim=1), targets)
        if isinstance(config, BCELoss | BCEWithLogitsLoss):
            if config.targets == "binary":
                output, goal = output.squeeze(1), targets.float()
            else:
                goal = F.one_hot(targets, output.shape[1]).float()
            if isinstance(config, BCELoss):
                output = torch.sigmoid(output)
            return self.criterion(output, goal)
        if isinstance(config, KLDivLoss):
            goal = F.one_hot(targets, output.shape[1]).float()
            if config.log_target:
                goal = goal.clamp_min(1e-12).log()
            return self.criterion(F.log_softmax(output, dim=1), goal)
        if isinstance(config, ONE_HOT_LOSSES):
            return self.criterion(output, F.one_hot(targets, output.shape[1]).float())
        return self.criterion(output, targets)

    def predict(self, output: torch.Tensor) -> torch.Tensor:
        """Predicted class indices."""
        if is_binary(self.config):
            return (output.squeeze(1) > 0).long()
        return output.argmax(dim=1)


def build_loss(config: LossConfig, num_classes: int) -> TaskLoss:
    """Build the loss a config names for a data set of `num_classes` classes."""
    outputs = output_count(config, num_classes)
    return TaskLoss(config, _criterion(config, num_classes, outputs), num_classes)


def _weights(values: list[float] | None, expected: int, field: str) -> torch.Tensor | None:
    if values is None:
        return None
    if len(values) != expected:
        raise ValueError(f"loss.{field} has {len(values)} values for {expected} outputs")
    return torch.tensor(values, dtype=torch.float32)


def _criterion(config: LossConfig, num_classes: int, outputs: int) -> nn.Module:
    if isinstance(config, CrossEntropyLoss):
        return nn.CrossEntropyLoss(
            weight=_weights(config.weight, num_classes, "weight"),
            ignore_index=config.ignore_index,
            label_smoothing=config.label_smoothing,
            reduction=config.reduction,
        )
    if isinstance(config, NLLLoss):
        return nn.NLLLoss(
            weight=_weights(config.weight, num_classes, "weight"),
            ignore_index=config.ignore_index,
            reduction=config.reduction,
        )
    if isinstance(config, BCELoss):
        return nn.BCELoss(reduction=config.reduction)
    if isinstance(config, BCEWithLogitsLoss):
        return nn.BCEWithLogitsLoss(
            pos_weight=_weights(config.pos_weight, outputs, "pos_weight"),
            reduction=config.reduction,
        )
    if isinstance(config, MSELoss):
        return nn.MSELoss(reduction=config.reduction)
    if isinstance(config, L1Loss):
        return nn.L1Loss(reduction=config.reduction)
    if isinstance(config, SmoothL1Loss):
        return nn.SmoothL1Loss(reduction=config.reduction, beta=config.beta)
    if isinstance(config, HuberLoss):
        return nn.HuberLoss(reduction=config.reduction, delta=config.delta)
    if isinstance(config, KLDivLoss):
        return nn.KLDivLoss(reduction=config.reduction, log_target=config.log_target)
    if isinstance(config, MultiMarginLoss):
        return nn.MultiMarginLoss(
            p=config.p,
            margin=config.margin,
            weight=_weights(config.weight, num_classes, "weight"),
            reduction=config.reduction,
        )
    raise TypeError(f"unknown loss config {config!r}")
