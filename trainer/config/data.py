"""Data set kinds and the DataLoader options."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from trainer.config.base import DataDir, DataFile
from trainer.config.plugins import PluginData
from trainer.config.transforms import ImageTransforms


class DigitsData(ImageTransforms):
    """scikit-learn's 1,797 real 8x8 handwritten digits, shipped inside its package."""

    kind: Literal["digits"] = "digits"
    val_fraction: float = Field(
        0.2, gt=0, lt=1, description="Share of images held out for validation."
    )
    split_seed: int = Field(0, description="Seed of the fixed train/validation split.")


# torchvision's own data set classes, read from disk with download=False. Their class counts are
# fixed, so a loss that cannot fit them is refused on submit.
TORCHVISION_CLASS_COUNTS: dict[str, int] = {
    "mnist": 10,
    "fashion_mnist": 10,
    "kmnist": 10,
    "cifar10": 10,
    "cifar100": 100,
    "svhn": 10,
}


class TorchvisionData(ImageTransforms):
    """A torchvision data set already on disk under `root` (never downloaded); its test split
    is the validation set."""

    kind: Literal["torchvision"] = "torchvision"
    name: Literal["mnist", "fashion_mnist", "kmnist", "cifar10", "cifar100", "svhn"] = "mnist"
    root: DataDir = Field(description="Folder holding the data set's files, inside a data root.")


class ImageFolderData(ImageTransforms):
    """An ImageFolder tree: one sub-folder per class, for training and for validation."""

    kind: Literal["imagefolder"] = "imagefolder"
    train_dir: DataDir = Field(description="Folder of class sub-folders, inside a data root.")
    val_dir: DataDir | None = Field(
        None, description="Validation folder; leave empty to split train_dir by val_fraction."
    )
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Used only when val_dir is empty.")
    split_seed: int = Field(0, description="Seed of the split when val_dir is empty.")
    image_size: int | None = Field(
        None, ge=1, le=4096, description="Resize to this square size; empty keeps the file's size."
    )
    grayscale: bool = Field(False, description="Convert images to one channel.")


class CsvImagesData(ImageTransforms):
    """Images in one folder, labelled by a CSV file; text files list each split's images."""

    kind: Literal["csv_images"] = "csv_images"
    image_dir: DataDir = Field(description="Folder holding the image files.")
    labels_csv: DataFile = Field(description="CSV file with a header row: file name and label.")
    train_list: DataFile = Field(description="Text file: one image file name per line.")
    val_list: DataFile = Field(description="Text file: one image file name per line.")
    filename_column: str = Field("filename", min_length=1, max_length=200)
    label_column: str = Field("label", min_length=1, max_length=200)
    grayscale: bool = Field(False, description="Convert images to one channel.")


DataConfig = Annotated[
    DigitsData | TorchvisionData | ImageFolderData | CsvImagesData | PluginData,
    Field(discriminator="kind"),
]

# The data kinds torchdash reads itself: labelled images, for classification only.
IMAGE_DATA_KINDS = frozenset({"digits", "torchvision", "imagefolder", "csv_images"})


def known_class_count(
    data: DigitsData | TorchvisionData | ImageFolderData | CsvImagesData | PluginData,
) -> int | None:
    """The class count when it follows from the config alone, else None (read from the files)."""
    if isinstance(data, DigitsData):
        return 10
    if isinstance(data, TorchvisionData):
        return TORCHVISION_CLASS_COUNTS[data.name]
    return None
