"""Every data kind loads real files and trains; transforms and DataLoader options take effect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.support.image_files import write_cifar10, write_image_folder, write_mnist, write_svhn
from trainer.callbacks import Callbacks, StepReport
from trainer.config import CsvImagesData, RunConfig, TorchvisionData
from trainer.data.csv_images import BadRowsError, load_csv_images
from trainer.data.datasets import build_datasets
from trainer.loop import fit

CNN = {"kind": "cnn", "channels": [4], "kernel_size": 3}


def tiny_run(data: dict[str, Any], **changes: Any) -> RunConfig:
    base: dict[str, Any] = {
        "data": data,
        "model": CNN,
        "optimizer": {"kind": "adam", "lr": 0.01},
        "batch_size": 8,
        "max_epochs": 1,
        "device": "cpu",
    }
    return RunConfig.model_validate({**base, **changes})


@pytest.mark.parametrize(
    ("name", "write", "shape", "first_class"),
    [
        ("mnist", lambda root: write_mnist(root), (1, 28, 28), "0 - zero"),
        (
            "fashion_mnist",
            lambda root: write_mnist(root, "FashionMNIST"),
            (1, 28, 28),
            "T-shirt/top",
        ),
        ("kmnist", lambda root: write_mnist(root, "KMNIST"), (1, 28, 28), "o"),
        ("cifar10", write_cifar10, (3, 32, 32), "airplane"),
        ("svhn", write_svhn, (3, 32, 32), "0"),
    ],
)
def test_torchvision_sets_load_from_disk_and_train(
    tmp_path, name, write, shape, first_class
) -> None:
    root = write(tmp_path / "data")
    result = fit(tiny_run({"kind": "torchvision", "name": name, "root": str(root)}))
    assert len(result.history) == 1
    data = build_datasets(TorchvisionData(name=name, root=str(root)))
    assert data.input_shape == shape and data.class_names[0] == first_class
    assert data.num_classes == 10


def test_missing_torchvision_files_are_listed_with_their_place(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        build_datasets(TorchvisionData(name="cifar100", root=str(tmp_path)))
    message = str(error.value)
    assert "downloads are off" in message and "missing 3 file(s)" in message
    for file in ("train", "test", "meta"):
        assert str(tmp_path / "cifar-100-python" / file) in message
    with pytest.raises(FileNotFoundError, match=r"MNIST/raw/t10k-labels-idx1-ubyte"):
        build_datasets(TorchvisionData(name="mnist", root=str(tmp_path)))


def test_image_folder_split_by_fraction_trains_with_transforms(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "pets", ("cat", "dog", "owl"), per_class=6, size=20)
    data = {
        "kind": "imagefolder",
        "train_dir": str(root),
        "val_fraction": 0.25,
        "split_seed": 3,
        "train_transforms": [
            {"kind": "resize", "size": 18},
            {"kind": "random_crop", "size": 16, "padding": 2},
            {"kind": "horizontal_flip"},
            {"kind": "rotation", "degrees": 15},
            {"kind": "normalize"},
        ],
        "val_transforms": [
            {"kind": "resize", "size": 18},
            {"kind": "center_crop", "size": 16},
            {"kind": "grayscale"},
            {"kind": "normalize", "mean": [0.5], "std": [0.25]},
        ],
    }
    splits = build_datasets(RunConfig.model_validate({"data": data}).data)
    assert (len(splits.train), len(splits.val)) == (14, 4) and splits.class_names == [
        "cat",
        "dog",
        "owl",
    ]
    assert splits.input_shape == (3, 16, 16)
    assert splits.val[0][0].shape == (1, 16, 16)
    # normalize without mean/std uses the training set's own statistics: mean ~0, std ~1.
    train = torch.stack([splits.train[i][0] for i in range(len(splits.train))])
    assert abs(train.mean().item()) < 0.3


def test_loader_options_take_effect(tmp_path: Path) -> None:
    config = tiny_run(
        {"kind": "digits"},
        model={"kind": "mlp", "hidden_sizes": [8]},
        batch_size=500,
        drop_last=True,
        shuffle=False,
        num_workers=1,
        pin_memory=False,
    )
    steps: list[int] = []

    class Steps(Callbacks):
        def on_step(self, report: StepReport) -> None:
            steps.append(report.batches)

    fit(config, Steps())
    assert steps == [2, 2]  # 1437 training digits: two full batches of 500, the rest dropped


def write_csv_data(root: Path, rows: str, train: str, val: str) -> CsvImagesData:
    images = root / "images"
    images.mkdir(parents=True)
    from PIL import Image

    from tests.support.image_files import class_image

    for n in range(8):
        Image.fromarray(class_image(n % 2, 12, seed=n)).save(images / f"img{n}.png")
    (root / "labels.csv").write_text(rows)
    (root / "train.txt").write_text(train)
    (root / "val.txt").write_text(val)
    return CsvImagesData(
        image_dir=str(images),
        labels_csv=str(root / "labels.csv"),
        train_list=str(root / "train.txt"),
        val_list=str(root / "val.txt"),
        filename_column="file",
        label_column="species",
    )


def test_csv_labelled_images_map_string_labels_and_train(tmp_path: Path) -> None:
    rows = "file,species\n" + "".join(f"img{n}.png,{'cat' if n % 2 else 'ant'}\n" for n in range(8))
    config = write_csv_data(
        tmp_path, rows, "\n".join(f"img{n}.png" for n in range(6)), "img6.png\nimg7.png\n"
    )
    splits = load_csv_images(config)
    assert splits.class_names == ["ant", "cat"]
    assert splits.train.labels == [0, 1, 0, 1, 0, 1] and len(splits.val) == 2
    result = fit(tiny_run(config.model_dump(), batch_size=4))
    assert len(result.history) == 1


def test_csv_bad_rows_are_reported_together(tmp_path: Path) -> None:
    rows = "file,species\nimg0.png,ant\nimg0.png,cat\nimg1.png,\nghost.png,ant\nimg2.png,cat\n"
    config = write_csv_data(
        tmp_path, rows, "img0.png\nimg2.png\nimg5.png\nghost.png\n", "img1.png\n"
    )
    with pytest.raises(BadRowsError) as error:
        load_csv_images(config)
    message = str(error.value)
    assert "row 3: duplicate image 'img0.png'" in message
    assert "row 4: label missing for 'img1.png'" in message
    assert "image 'img5.png' has no row in the CSV" in message
    assert "ghost.png' is missing" in message
    assert "val_list 'val.txt' line 1: image 'img1.png' has no row" in message


@pytest.mark.parametrize(
    "architecture",
    [
        "resnet18",
        "resnet34",
        "resnet50",
        "mobilenet_v3_small",
        "efficientnet_b0",
        "vgg11_bn",
        "densenet121",
    ],
)
def test_torchvision_architectures_take_one_step_on_32px_data(
    tmp_path: Path, architecture: str
) -> None:
    root = write_mnist(tmp_path / "data", train=4, test=2)
    config = tiny_run(
        {
            "kind": "torchvision",
            "name": "mnist",
            "root": str(root),
            "train_transforms": [{"kind": "resize", "size": 32}],
            "val_transforms": [{"kind": "resize", "size": 32}],
        },
        model={"kind": "torchvision", "architecture": architecture},
        optimizer={"kind": "sgd", "lr": 0.01},
        batch_size=4,
    )
    result = fit(config)
    assert result.progress.step == 1
    assert "Conv2d(1, " in str(result.model)  # first layer takes MNIST's one channel
    assert result.model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
