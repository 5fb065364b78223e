"""The run config: one frozen, typed schema, the single source of truth for a run.

The API validates it, the form is built from its JSON Schema, it is stored with the run and saved
inside every checkpoint. This module must not import torch: the web server imports it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Frozen(BaseModel):
    """Base of every config part: immutable, and unknown fields are an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- data ---------------------------------------------------------------------------------------


class DigitsData(Frozen):
    """scikit-learn's 1,797 real 8x8 handwritten digits, shipped inside its package."""

    kind: Literal["digits"] = "digits"
    val_fraction: float = Field(
        0.2, gt=0, lt=1, description="Share of images held out for validation."
    )
    split_seed: int = Field(0, description="Seed of the fixed train/validation split.")


class ImageFolderData(Frozen):
    """An ImageFolder tree: one sub-folder per class, for training and for validation."""

    kind: Literal["imagefolder"] = "imagefolder"
    train_dir: str = Field(description="Folder of class sub-folders, inside a data root.")
    val_dir: str | None = Field(
        None, description="Validation folder; leave empty to split train_dir by val_fraction."
    )
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Used only when val_dir is empty.")
    split_seed: int = Field(0, description="Seed of the split when val_dir is empty.")
    image_size: int | None = Field(
        None, ge=1, le=4096, description="Resize to this square size; empty keeps the file's size."
    )
    grayscale: bool = Field(False, description="Convert images to one channel.")


DataConfig = Annotated[DigitsData | ImageFolderData, Field(discriminator="kind")]


# --- model --------------------------------------------------------------------------------------


class MLPModel(Frozen):
    """A multi-layer perceptron over the flattened input."""

    kind: Literal["mlp"] = "mlp"
    hidden_sizes: list[Annotated[int, Field(ge=1, le=65536)]] = Field(
        default_factory=lambda: [256], max_length=16, description="Width of each hidden layer."
    )
    activation: Literal["relu", "gelu", "tanh", "sigmoid"] = "relu"
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout after each hidden layer.")


ModelConfig = Annotated[MLPModel, Field(discriminator="kind")]


# --- loss ---------------------------------------------------------------------------------------


class CrossEntropyLoss(Frozen):
    """torch.nn.CrossEntropyLoss on the model's logits."""

    kind: Literal["cross_entropy"] = "cross_entropy"
    label_smoothing: float = Field(0.0, ge=0, le=1)


LossConfig = Annotated[CrossEntropyLoss, Field(discriminator="kind")]


# --- optimizer ----------------------------------------------------------------------------------
# Defaults equal torch.optim's own; tests/test_config.py compares them with torch's signatures so
# they cannot drift. (This module cannot read them from torch: the server never imports torch.)


class SGDOptimizer(Frozen):
    """torch.optim.SGD."""

    kind: Literal["sgd"] = "sgd"
    lr: float = Field(0.001, gt=0, le=10, description="Learning rate.")
    momentum: float = Field(0.0, ge=0, lt=1)
    dampening: float = Field(0.0, ge=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    nesterov: bool = Field(False, description="Needs momentum > 0 and dampening = 0.")

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGDOptimizer:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening = 0")
        return self


class AdamOptimizer(Frozen):
    """torch.optim.Adam."""

    kind: Literal["adam"] = "adam"
    lr: float = Field(0.001, gt=0, le=10, description="Learning rate.")
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (
        0.9,
        0.999,
    )
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    amsgrad: bool = False


OptimizerConfig = Annotated[SGDOptimizer | AdamOptimizer, Field(discriminator="kind")]


# --- the run ------------------------------------------------------------------------------------


class RunConfig(Frozen):
    """Everything needed to train one run, and nothing about where it is stored."""

    name: str = Field("run", min_length=1, max_length=200, description="A label for the run.")
    data: DataConfig = Field(default_factory=DigitsData)
    model: ModelConfig = Field(default_factory=MLPModel)
    loss: LossConfig = Field(default_factory=CrossEntropyLoss)
    optimizer: OptimizerConfig = Field(default_factory=AdamOptimizer)
    batch_size: int = Field(16, ge=1, le=65536)
    max_epochs: int = Field(10, ge=1, le=100000)
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda|cuda:\d+|mps)$",
        description="auto picks CUDA when present, else the CPU.",
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seeds weights, shuffling and dropout.")
    report_every_steps: int = Field(
        10, ge=1, le=100000, description="Read the loss back from the device every N steps."
    )


def run_config_schema() -> dict:
    """The JSON Schema the form is built from."""
    return RunConfig.model_json_schema()
