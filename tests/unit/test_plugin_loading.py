"""Plugin files imported and built in the worker: each kind, the argument injection rule, the
errors a user meets (not found, wrong kind, bad args, a file that does not import)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset
from torchmetrics import Metric

from tests.support.plugins import copy_example_plugins
from trainer.config import PluginData, PluginLoss, PluginMetric, PluginModel
from trainer.errors import PluginError
from trainer.plugins.loading import (
    build_plugin_dataset,
    build_plugin_loss,
    build_plugin_metric,
    build_plugin_model,
    load_plugin,
)

SIZES = '''
from torch import nn


class Sized(nn.Module):
    """Names every size torchdash offers."""

    def __init__(self, input_shape, num_classes, num_outputs, width: int = 4):
        super().__init__()
        self.seen = (input_shape, num_classes, num_outputs, width)


class Plain(nn.Module):
    """Names none of them: gets its args only."""

    def __init__(self, width: int = 4, **rest):
        super().__init__()
        self.seen = (width, rest)


class Broken(nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.linear = nn.Linear(width, "three")
'''

HELPED = """
from _helpers import SCALE
from torch import nn


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = SCALE
"""


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    folder = copy_example_plugins(tmp_path / "plugins")
    (folder / "sizes.py").write_text(SIZES)
    return folder


def test_each_kind_is_built_from_its_config_and_works(plugins: Path) -> None:
    train = build_plugin_dataset(plugins, PluginData(name="Diabetes", args={"seed": 1}), "train")
    val = build_plugin_dataset(plugins, PluginData(name="Diabetes", args={"seed": 1}), "val")
    assert isinstance(train, Dataset) and len(train) + len(val) == 442  # type: ignore[arg-type]
    x, y = train[0]
    assert x.shape == (10,) and y.shape == ()

    model = build_plugin_model(
        plugins, PluginModel(name="TabularMLP", args={"width": 8, "depth": 1}), (10,), 1, 1
    )
    output = model(torch.stack([train[i][0] for i in range(5)]))
    assert output.shape == (5, 1)
    assert [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)] == [8, 1]

    loss = build_plugin_loss(plugins, PluginLoss(name="LogCoshLoss", args={"scale": 2.0}), 1, 1)
    assert loss.scale == 2.0
    assert loss(torch.zeros(3, 1), torch.zeros(3)).item() == pytest.approx(0.0, abs=1e-6)

    metric = build_plugin_metric(plugins, PluginMetric(name="WithinTolerance"), 1, 1)
    assert isinstance(metric, Metric)
    metric.update(torch.tensor([[0.0], [1.0]]), torch.tensor([0.1, 0.0]))
    assert metric.compute().item() == 0.5  # 0.1 is within the default 0.5, 1.0 is not


def test_a_metric_function_is_averaged_over_samples_weighted_by_batch_size(plugins: Path) -> None:
    metric = build_plugin_metric(plugins, PluginMetric(name="mean_squared_error", mode="min"), 1, 1)
    assert isinstance(metric, Metric)
    metric.update(torch.zeros(3, 1), torch.ones(3))  # three items, squared error 1 each
    metric.update(torch.zeros(1, 1), torch.full((1,), 3.0))  # one item, squared error 9
    assert metric.compute().item() == pytest.approx((3 * 1 + 1 * 9) / 4)

    # Ranks' states merge by their sums (what DDP's sync does with dist_reduce_fx="sum").
    ranks = [build_plugin_metric(plugins, PluginMetric(name="mean_squared_error"), 1, 1)]
    ranks.append(build_plugin_metric(plugins, PluginMetric(name="mean_squared_error"), 1, 1))
    ranks[0].update(torch.zeros(3, 1), torch.ones(3))
    ranks[1].update(torch.zeros(4, 1), torch.full((4,), 2.0))  # four items, squared error 4
    ranks[0].merge_state(ranks[1])
    assert ranks[0].compute().item() == pytest.approx((3 + 16) / 7)


def test_sizes_go_only_to_a_constructor_that_names_them(plugins: Path) -> None:
    sized = build_plugin_model(plugins, PluginModel(name="Sized"), (1, 8, 8), 10, 1)
    assert sized.seen == ((1, 8, 8), 10, 1, 4)
    plain = build_plugin_model(plugins, PluginModel(name="Plain", args={"width": 7}), (64,), 3, 3)
    assert plain.seen == (7, {})  # **rest gets nothing torchdash knows


def test_a_plugin_file_imports_helper_modules_next_to_it(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "_helpers.py").write_text("SCALE = 3\n")  # `_` files are helpers, not plugins
    (folder / "helped.py").write_text(HELPED)
    model = build_plugin_model(folder, PluginModel(name="Scaled"), (4,), 2, 2)
    assert model.scale == 3
    with pytest.raises(PluginError, match=r"found: Scaled\)"):
        load_plugin(folder, "model", "SCALE")


@pytest.mark.parametrize(
    ("kind", "name", "field", "words"),
    [
        ("model", "Missing", "name", "no model plugin named 'Missing'"),
        ("model", "Diabetes", "name", "'Diabetes' is a Dataset, not an nn.Module"),
        ("dataset", "TabularMLP", "name", "'TabularMLP' is an nn.Module, not a Dataset"),
        ("loss", "WithinTolerance", "name", "is a torchmetrics Metric, not an nn.Module"),
        ("metric", "LogCoshLoss", "name", "is an nn.Module, not a torchmetrics Metric"),
    ],
)
def test_a_missing_or_wrong_kind_of_plugin_is_named(
    plugins: Path, kind: str, name: str, field: str, words: str
) -> None:
    with pytest.raises(PluginError, match=words) as error:
        load_plugin(plugins, kind, name)  # type: ignore[arg-type]
    assert error.value.field == field
    if name == "Missing":  # what exists is listed
        assert "DigitProperties" in str(error.value) and "TabularMLP" in str(error.value)


def test_bad_args_name_the_class_and_the_args(plugins: Path) -> None:
    with pytest.raises(PluginError) as error:
        build_plugin_model(plugins, PluginModel(name="TabularMLP", args={"widht": 8}), (4,), 2, 2)
    message = str(error.value)
    assert error.value.field == "args"
    assert "TabularMLP(widht=8)" in message and "'widht'" in message
    assert "its arguments: width, depth, activation, dropout" in message

    with pytest.raises(PluginError, match=r"Broken\(width=3\) failed: TypeError") as error:
        build_plugin_model(plugins, PluginModel(name="Broken", args={"width": 3}), (4,), 2, 2)
    assert error.value.field == "args"

    with pytest.raises(PluginError, match="num_outputs is passed by torchdash") as error:
        build_plugin_model(plugins, PluginModel(name="Sized", args={"num_outputs": 3}), (4,), 2, 2)
    assert error.value.field == "args"

    with pytest.raises(PluginError, match="mean_squared_error") as error:
        build_plugin_metric(plugins, PluginMetric(name="mean_squared_error", args={"k": 1}), 1, 1)
    assert error.value.field == "args"


def test_a_file_that_does_not_import_is_named_with_its_error(plugins: Path) -> None:
    (plugins / "zz_broken.py").write_text("import no_such_module\n\n\nclass Later(Dataset): ...\n")
    with pytest.raises(PluginError, match="'zz_broken.py' does not import: ModuleNotFoundError"):
        load_plugin(plugins, "dataset", "Later")
    # The other files still load, and no plugins folder at all is an error of its own.
    assert load_plugin(plugins, "dataset", "Diabetes").__name__ == "Diabetes"
    with pytest.raises(PluginError, match="needs a plugins folder"):
        load_plugin(None, "dataset", "Diabetes")
    with pytest.raises(PluginError, match=r"plugins folder '.*elsewhere' does not exist on this"):
        load_plugin(plugins.parent / "elsewhere", "dataset", "Diabetes")


def test_a_changed_file_is_imported_again(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    file = folder / "net.py"
    file.write_text("from torch import nn\n\nclass Net(nn.Module):\n    VERSION = 1\n")
    assert load_plugin(folder, "model", "Net").VERSION == 1
    file.write_text("from torch import nn\n\nclass Net(nn.Module):\n    VERSION = 22\n")
    assert load_plugin(folder, "model", "Net").VERSION == 22


def test_a_dataset_gets_its_split_and_must_take_one(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "sets.py").write_text(
        "from torch.utils.data import Dataset\n\n\n"
        "class Flexible(Dataset):\n"
        "    def __init__(self, **options):\n"
        "        self.options = options\n\n\n"
        "class Splitless(Dataset):\n"
        "    def __init__(self, size: int = 3):\n"
        "        self.size = size\n"
    )
    built = build_plugin_dataset(folder, PluginData(name="Flexible", args={"size": 2}), "val")
    assert built.options == {"size": 2, "split": "val"}  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="must take a `split` argument") as error:
        build_plugin_dataset(folder, PluginData(name="Splitless"), "train")
    assert error.value.field == "name"
    with pytest.raises(PluginError, match="split is passed by torchdash") as error:
        build_plugin_dataset(folder, PluginData(name="Flexible", args={"split": "x"}), "train")
    assert error.value.field == "args"


def test_a_name_is_imported_from_the_file_where_it_has_the_asked_kind(tmp_path: Path) -> None:
    """The worker imports the class the server's catalog accepted: `Twin` is a Dataset in
    a_data.py (first by name) and a model in b_model.py; a model plugin gets b_model.py's."""
    (tmp_path / "a_data.py").write_text(
        "from torch.utils.data import Dataset\n\n\nclass Twin(Dataset):\n    pass\n"
    )
    (tmp_path / "b_model.py").write_text(
        "from torch import nn\n\n\nclass Twin(nn.Module):\n    pass\n"
    )
    assert issubclass(load_plugin(tmp_path, "model", "Twin"), torch.nn.Module)
    assert issubclass(load_plugin(tmp_path, "dataset", "Twin"), Dataset)
