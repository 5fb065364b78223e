"""torchvision classification architectures with random weights (never downloaded), their first
layer adapted to the data's channels and their head to the class count."""

from __future__ import annotations

from torch import nn
from torchvision import models


def build_torchvision_model(architecture: str, in_channels: int, num_outputs: int) -> nn.Module:
    model = getattr(models, architecture)(weights=None, num_classes=num_outputs)
    if in_channels != 3:
        _adapt_first_conv(model, in_channels)
    return model


def _adapt_first_conv(model: nn.Module, in_channels: int) -> None:
    """Replace the first Conv2d (3 input channels) with one taking `in_channels`."""
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d) and child.in_channels == 3:
                setattr(
                    parent,
                    name,
                    nn.Conv2d(
                        in_channels,
                        child.out_channels,
                        child.kernel_size,  # type: ignore[arg-type]
                        stride=child.stride,  # type: ignore[arg-type]
                        padding=child.padding,  # type: ignore[arg-type]
                        dilation=child.dilation,  # type: ignore[arg-type]
                        groups=child.groups,
                        bias=child.bias is not None,
                    ),
                )
                return
    raise ValueError(f"{type(model).__name__} has no 3-channel first convolution to adapt")
