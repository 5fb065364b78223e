"""The GPU switches of a run: automatic mixed precision, channels-last memory, torch.compile.

Each is off by default and validated with the config: `amp` on an explicit CPU or MPS device is
refused on submit; on `auto` that resolves to a machine without CUDA it is ignored with a line in
the run's log, since the same config may well meet a GPU next time.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from trainer.config import RunConfig


class Acceleration:
    """How a run's model and batches meet its device."""

    def __init__(self, config: RunConfig, device: torch.device) -> None:
        self.device = device
        self.amp = config.amp and device.type == "cuda"
        if config.amp and not self.amp:
            print(
                f"amp: ignored on {device.type}: automatic mixed precision runs on CUDA only; "
                "training in float32",
                flush=True,
            )
        self.channels_last = config.channels_last
        self.compile = config.compile
        self.scaler = torch.amp.GradScaler("cuda") if self.amp else None

    def prepare(self, model: nn.Module) -> nn.Module:
        """Lay the model out as asked; what to call for forward passes (compiled or not).

        The compiled wrapper shares the model's parameters but renames its state_dict keys
        (`_orig_mod.`), so checkpoints keep saving the model itself.
        """
        if self.channels_last:
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if self.compile:
            return torch.compile(model)  # type: ignore[return-value]
        return model

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """A batch's tensor on the device; an asynchronous copy from pinned memory."""
        if self.channels_last and tensor.dim() == 4:
            return tensor.to(self.device, non_blocking=True, memory_format=torch.channels_last)
        return tensor.to(self.device, non_blocking=True)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """`loss.backward()` and `optimizer.step()`, through the gradient scaler under AMP."""
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)  # skipped when float16 gradients overflowed
        self.scaler.update()

    def state_dict(self) -> dict[str, Any] | None:
        """The gradient scaler's state, saved in checkpoints so a resumed AMP run continues."""
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
