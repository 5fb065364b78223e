"""Which torch device a run trains on."""

from __future__ import annotations

import torch


def resolve_device(requested: str) -> torch.device:
    """Turn the config's device string into a torch.device; `auto` prefers CUDA, then MPS."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{requested}' was asked for, but CUDA is not available here")
    if device.type == "cuda" and device.index is not None:
        if device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device '{requested}' does not exist: {torch.cuda.device_count()} CUDA device(s)"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device '{requested}' was asked for, but MPS is not available here")
    return device
