"""Image transform steps, applied in order to each sample's tensor (C x H x W, values in [0, 1]).

Every sample is converted to a float tensor first (the "to-tensor" step is always there and
always first), so each step here works on tensors whatever the data set's file format.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from trainer.config.base import Frozen

Size = Annotated[int, Field(ge=1, le=4096)]


class ResizeStep(Frozen):
    """Resize to a square `size` x `size` (torchvision Resize)."""

    kind: Literal["resize"] = "resize"
    size: Size = 32


class CenterCropStep(Frozen):
    """Crop the central `size` x `size` square."""

    kind: Literal["center_crop"] = "center_crop"
    size: Size = 28


class RandomCropStep(Frozen):
    """Crop a random `size` x `size` square, after zero `padding` on each side."""

    kind: Literal["random_crop"] = "random_crop"
    size: Size = 28
    padding: int = Field(0, ge=0, le=512)


class HorizontalFlipStep(Frozen):
    """Flip left-right with probability `p`."""

    kind: Literal["horizontal_flip"] = "horizontal_flip"
    p: float = Field(0.5, ge=0, le=1)


class RotationStep(Frozen):
    """Rotate by a random angle in [-degrees, degrees]."""

    kind: Literal["rotation"] = "rotation"
    degrees: float = Field(10.0, ge=0, le=180)


class GrayscaleStep(Frozen):
    """Convert to one channel (a one-channel image is left as it is)."""

    kind: Literal["grayscale"] = "grayscale"


class NormalizeStep(Frozen):
    """Subtract `mean` and divide by `std` per channel; empty: the training set's own statistics."""

    kind: Literal["normalize"] = "normalize"
    mean: list[float] | None = Field(None, min_length=1, max_length=4)
    std: list[Annotated[float, Field(gt=0)]] | None = Field(None, min_length=1, max_length=4)

    @model_validator(mode="after")
    def _both_or_neither(self) -> NormalizeStep:
        if (self.mean is None) != (self.std is None):
            raise ValueError("give both mean and std, or neither to use the data set's own")
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise ValueError("mean and std need one value per channel each")
        return self


TransformStep = Annotated[
    ResizeStep
    | CenterCropStep
    | RandomCropStep
    | HorizontalFlipStep
    | RotationStep
    | GrayscaleStep
    | NormalizeStep,
    Field(discriminator="kind"),
]


class ImageTransforms(Frozen):
    """Separate train and validation pipelines; mixed into every data kind."""

    train_transforms: list[TransformStep] = Field(
        default_factory=list,
        max_length=32,
        description="Steps for training samples, in order.",
        json_schema_extra={"ui": {"item": "step"}},
    )
    val_transforms: list[TransformStep] = Field(
        default_factory=list,
        max_length=32,
        description="Steps for validation samples, in order.",
        json_schema_extra={"ui": {"item": "step"}},
    )
