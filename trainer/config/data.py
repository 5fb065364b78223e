"""Data set kinds and the DataLoader options."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from trainer.config.base import DataDir, DataFile, Frozen
from trainer.config.plugins import PluginData
from trainer.config.transforms import ImageTransforms


class DigitsData(ImageTransforms):
    """scikit-learn's 1,797 real 8x8 handwritten digits, shipped inside its package."""

    kind: Literal["digits"] = "digits"
    val_fraction: float = Field(
        0.2, gt=0, lt=1, description="Share of images held out for validation."
    )
    split_seed: int = Field(0, description="Seed of the fixed train/validation split.")


# A column of a table, as its header names it.
ColumnName = Annotated[str, Field(min_length=1, max_length=200)]

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


class TextData(Frozen):
    """A CSV or TSV file of texts and their labels (or label columns, or numeric targets),
    tokenized without any download: by characters, or by a word vocabulary built from the
    training split."""

    kind: Literal["text"] = "text"
    path: DataFile = Field(
        description="CSV or TSV file with a header row (.tsv: tab-separated), inside a data root."
    )
    val_path: DataFile | None = Field(
        None, description="Validation file of the same columns; empty: split path by val_fraction."
    )
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Used only when val_path is empty.")
    split_seed: int = Field(0, description="Seed of the split when val_path is empty.")
    delimiter: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="Column separator; empty: a tab for .tsv/.tab files, else a comma.",
    )
    text_column: str = Field(
        "text", min_length=1, max_length=200, description="The column holding the texts."
    )
    label_column: str | list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        "label",
        description="Classification: the column of labels. Multilabel: the 0/1 columns, one per "
        "label. Regression: the numeric target column(s).",
        json_schema_extra={"ui": {"widget": "columns"}},
    )
    tokenizer: Literal["word", "char"] = Field(
        "word",
        description="word: a vocabulary of the training split's words; char: one token per "
        "character (its vocabulary, too, from the training split).",
    )
    max_length: int = Field(
        128, ge=1, le=8192, description="Tokens per text: longer texts are cut, shorter padded."
    )
    max_vocab: int = Field(
        20000, ge=1, le=1_000_000, description="Keep at most this many of the most frequent tokens."
    )
    min_freq: int = Field(
        1, ge=1, le=1_000_000, description="Drop tokens seen fewer times in the training split."
    )
    lowercase: bool = Field(True, description="Lowercase the texts before tokenizing.")

    @model_validator(mode="after")
    def _columns_apart(self) -> TextData:
        if not self.label_columns:
            raise ValueError("label_column names no column")
        if len(set(self.label_columns)) != len(self.label_columns):
            raise ValueError("label_column names a column twice")
        if self.text_column in self.label_columns:
            raise ValueError(f"'{self.text_column}' cannot be both the text and a label column")
        return self

    @property
    def label_columns(self) -> list[str]:
        """The label column(s) as a list."""
        return [self.label_column] if isinstance(self.label_column, str) else self.label_column


class TableData(Frozen):
    """A table in a CSV, TSV or Parquet file (read with pandas): target column(s) and feature
    columns. Numeric features are standardized and text (categorical) features one-hot encoded,
    with the training split's statistics, saved with every checkpoint."""

    kind: Literal["table"] = "table"
    path: DataFile = Field(
        description="The table, inside a data root: .csv, .tsv or .parquet (other names are "
        "read as CSV). Its first row names the columns."
    )
    val_path: DataFile | None = Field(
        None,
        description="A second table with the same columns for validation; leave empty to "
        "split path by val_fraction.",
    )
    target: ColumnName | Annotated[list[ColumnName], Field(min_length=1, max_length=256)] = Field(
        description="The column to predict. Classification: one column of labels. Multilabel: "
        "a list of 0/1 columns. Regression: one or more numeric columns.",
        json_schema_extra={"ui": {"widget": "columns"}},
    )
    features: Annotated[list[ColumnName], Field(max_length=4096)] = Field(
        default_factory=list,
        description="The input columns; empty = every column that is not a target.",
    )
    categorical: Annotated[list[ColumnName], Field(max_length=4096)] = Field(
        default_factory=list,
        description="Numeric columns to one-hot encode as categories (codes, years, ...); text "
        "and true/false columns are categorical anyway.",
    )
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Used only when val_path is empty.")
    split_seed: int = Field(0, description="Seed of the split when val_path is empty.")

    def target_columns(self) -> list[str]:
        return [self.target] if isinstance(self.target, str) else list(self.target)


def table_problems(data: TableData, task: str) -> list[tuple[tuple[str | int, ...], str]]:
    """What the config alone shows wrong with a table's columns: (location, why)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    targets = data.target_columns()
    if task == "classification" and len(targets) != 1:
        problems.append(
            (
                ("data", "target"),
                f"classification takes one target column of labels, not {len(targets)}: a list "
                "of 0/1 columns is task 'multilabel', of numeric columns task 'regression'",
            )
        )
    for field in ("target", "features", "categorical"):
        names = targets if field == "target" else getattr(data, field)
        for index, name in enumerate(names):
            loc = (
                ("data", field)
                if field == "target" and isinstance(data.target, str)
                else ("data", field, index)
            )
            if name in names[:index]:
                problems.append((loc, f"column '{name}' is listed twice"))
            elif field != "target" and name in targets:
                problems.append((loc, f"column '{name}' is the target; it cannot be an input"))
            elif field == "categorical" and data.features and name not in data.features:
                problems.append((loc, f"column '{name}' is not one of data.features"))
    return problems


DataConfig = Annotated[
    DigitsData
    | TorchvisionData
    | ImageFolderData
    | CsvImagesData
    | TableData
    | TextData
    | PluginData,
    Field(discriminator="kind"),
]

# The data kinds torchdash reads itself: labelled images, for classification only.
IMAGE_DATA_KINDS = frozenset({"digits", "torchvision", "imagefolder", "csv_images"})
# The data kinds whose inputs are token sequences, and the model kinds that read them.
SEQUENCE_DATA_KINDS = frozenset({"text"})


def known_class_count(
    data: DigitsData
    | TorchvisionData
    | ImageFolderData
    | CsvImagesData
    | TableData
    | TextData
    | PluginData,
) -> int | None:
    """The class count when it follows from the config alone, else None (read from the files)."""
    if isinstance(data, DigitsData):
        return 10
    if isinstance(data, TorchvisionData):
        return TORCHVISION_CLASS_COUNTS[data.name]
    return None
