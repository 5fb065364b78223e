"""A plugin Dataset as a run's data: shapes and names per task, targets that do not fit the task,
the in-memory cache only when asked for, and the same batches from the cache and the DataLoader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from tests.support.plugins import DIGITS_PLUGIN, copy_example_plugins
from trainer.config import PluginData, RunConfig
from trainer.data.datasets import build_datasets
from trainer.data.sampling import EpochShuffleSampler
from trainer.data.tensor_cache import build_batches, decide_cache

ODD_TARGETS = '''
import numpy as np
import torch
from torch.utils.data import Dataset


class Odd(Dataset):
    """Targets of the shape and type `kind` says, on 6 inputs of 3 features."""

    def __init__(self, split: str, kind: str = "int") -> None:
        self.kind = kind

    def __len__(self) -> int:
        return 6

    def __getitem__(self, index: int):
        x = torch.full((3,), float(index))
        targets = {
            "int": index % 3,
            "numpy_int": np.int64(index % 2),
            "float": float(index) / 2,
            "vector": [index + 0.5, 1.0],
            "bools": torch.tensor([index % 2 == 0, True, False]),
            "matrix": torch.zeros(2, 2),
            "text": "three",
        }
        return x, targets[self.kind]
'''


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    folder = copy_example_plugins(tmp_path / "plugins")
    (folder / "digits_plugin.py").write_text(DIGITS_PLUGIN)
    (folder / "odd.py").write_text(ODD_TARGETS)
    return folder


def data(name: str, **args: Any) -> PluginData:
    return PluginData(name=name, args=args)


def test_each_task_gets_its_shapes_and_names(plugins: Path) -> None:
    regression = build_datasets(data("Diabetes"), task="regression", plugins_dir=plugins)
    assert regression.input_shape == (10,) and regression.target_shape == ()
    assert regression.class_names == ["progression"]  # the Dataset's `classes`
    assert len(regression.train) + len(regression.val) == 442  # type: ignore[arg-type]
    assert regression.train[0][1].dtype == torch.float32

    multilabel = build_datasets(data("DigitProperties"), task="multilabel", plugins_dir=plugins)
    assert multilabel.input_shape == (64,) and multilabel.target_shape == (4,)
    assert multilabel.class_names == ["even", "above_four", "prime", "has_loop"]

    # No `classes`: the class count is read from the targets of both splits.
    digits = build_datasets(data("PluginDigits"), plugins_dir=plugins)
    assert digits.class_names == [str(d) for d in range(10)] and digits.target_shape == ()
    assert digits.train[0][1].dtype == torch.long
    named = build_datasets(data("PluginDigits", named=True), plugins_dir=plugins)
    assert named.class_names[3] == "digit 3"


@pytest.mark.parametrize(
    ("kind", "task", "names", "shape", "dtype"),
    [
        ("int", "classification", ["0", "1", "2"], (), torch.long),
        ("numpy_int", "classification", ["0", "1"], (), torch.long),
        ("float", "regression", ["target"], (), torch.float32),
        ("vector", "regression", ["target_0", "target_1"], (2,), torch.float32),
        ("bools", "multilabel", ["label_0", "label_1", "label_2"], (3,), torch.float32),
    ],
)
def test_unnamed_targets_of_any_type_are_named_and_converted(
    plugins: Path, kind: str, task: str, names: list, shape: tuple, dtype: torch.dtype
) -> None:
    splits = build_datasets(data("Odd", kind=kind), task=task, plugins_dir=plugins)  # type: ignore[arg-type]
    assert splits.class_names == names and splits.target_shape == shape
    _, targets = next(iter(DataLoader(splits.train, batch_size=4)))
    assert targets.dtype == dtype and tuple(targets.shape) == (4, *shape)


@pytest.mark.parametrize(
    ("kind", "task", "words"),
    [
        ("float", "classification", "item 0's target is float 0.0; a classification task needs"),
        ("vector", "multilabel", "a multilabel task needs a 1-D vector of 0/1 values"),
        ("int", "multilabel", "item 0's target is int 0"),
        ("matrix", "regression", "a tensor of shape [2, 2] (float32)"),
        ("text", "regression", "item 0's target is a str"),
    ],
)
def test_targets_that_do_not_fit_the_task_are_named(
    plugins: Path, kind: str, task: str, words: str
) -> None:
    with pytest.raises(ValueError, match=r"Odd's targets do not fit task") as error:
        build_datasets(data("Odd", kind=kind), task=task, plugins_dir=plugins)  # type: ignore[arg-type]
    assert words in str(error.value)


def test_the_cache_decodes_a_plugin_dataset_only_when_asked_and_gives_the_loaders_batches(
    plugins: Path,
) -> None:
    base = {
        "model": {"kind": "mlp", "hidden_sizes": [8]},
        "loss": {"kind": "mse"},
        "task": "regression",
        "batch_size": 32,
        "device": "cpu",
    }
    off = RunConfig.model_validate({**base, "data": {"kind": "plugin", "name": "Diabetes"}})
    on = RunConfig.model_validate(
        {**base, "data": {"kind": "plugin", "name": "Diabetes", "cache": True}}
    )
    splits = build_datasets(on.data, task="regression", plugins_dir=plugins)
    assert decide_cache(off, splits).reason == "data.cache is off for the plugin Dataset"
    assert decide_cache(on, splits).use
    tiny_budget = on.model_copy(update={"cache_budget_mb": 0})
    assert not decide_cache(tiny_budget, splits).use

    sampler = EpochShuffleSampler(len(splits.train), seed=0)  # type: ignore[arg-type]
    device = torch.device("cpu")
    cached = build_batches(on, splits, sampler, device)
    loaded = build_batches(off, splits, sampler, device)
    assert cached.cached and not loaded.cached
    for (x1, y1), (x2, y2) in zip(cached.train, loaded.train, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2) and y1.dtype == torch.float32
    multilabel = build_datasets(data("DigitProperties"), task="multilabel", plugins_dir=plugins)
    ml_config = on.model_copy(update={"data": PluginData(name="DigitProperties", cache=True)})
    val = next(iter(build_batches(ml_config, multilabel, sampler, device).val))
    assert val[1].shape == (32, 4) and val[1].dtype == torch.float32
