"""Losses: each config kind becomes a criterion taking (logits, class indices)."""

from __future__ import annotations

from torch import nn

from trainer.config import CrossEntropyLoss, LossConfig


def build_loss(config: LossConfig) -> nn.Module:
    """Build the criterion a config names."""
    if isinstance(config, CrossEntropyLoss):
        return nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    raise TypeError(f"unknown loss config {config!r}")
