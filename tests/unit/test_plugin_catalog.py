"""The plugins catalog reads plugin files as text: every kind, typed constructor arguments with
their defaults, injected names left out, unreadable files listed, private files skipped."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support.plugins import copy_example_plugins
from trainer.plugins.catalog import args_model, args_schema, read_catalog

KINDS = '''
from typing import List, Literal, Optional

import torch
from torch import nn
from torch.utils.data import Dataset
import torchmetrics

DEFAULT_SIZE = 4


class Points(Dataset):
    """Random points."""

    def __init__(self, split: str, count: int = 100, noise: float = 0.1, name: str = "pts",
                 shuffle: bool = True, shape: Literal["ring", "line"] = "ring",
                 sizes: list[int] = [1, 2], weights: Optional[List[float]] = None,
                 limit: int | None = None, size: int = DEFAULT_SIZE, extra=None,
                 *, scale: "float" = 2.0, pair: tuple[int, int] = (3, 4)) -> None:
        pass


class Net(nn.Module):
    def __init__(self, input_shape, num_outputs: int, width: int = 8) -> None:
        super().__init__()

    def forward(self, x):
        return x


class Deeper(Net):
    """Net with another forward."""

    def forward(self, x, mask=None):
        return x


class Pairwise(torch.nn.Module):
    def __init__(self, num_classes: int, margin: float = 1.0):
        super().__init__()

    def forward(self, output, target):
        return (output - target).mean()


class Hits(torchmetrics.Metric):
    def __init__(self, top: int = 1, **kwargs):
        super().__init__(**kwargs)


def error_rate(output, target):
    """Share of wrong predictions."""
    return 0.0


def needs_three(a, b, c):
    return 0


def _hidden_metric(output, target):
    return 0.0


class Helper:
    pass
'''


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "kinds.py").write_text(KINDS)
    return tmp_path


def test_each_kind_is_recognised_from_its_bases_and_forward(folder: Path) -> None:
    catalog = read_catalog(folder)
    assert sorted(catalog.datasets) == ["Points"]
    assert sorted(catalog.models) == ["Deeper", "Net"]  # forward(x): one input
    assert sorted(catalog.losses) == ["Pairwise"]  # forward(output, target)
    assert sorted(catalog.metrics) == ["Hits", "error_rate"]
    assert catalog.metrics["error_rate"].is_function
    assert catalog.metrics["error_rate"].doc == "Share of wrong predictions."
    assert not catalog.metrics["Hits"].is_function
    assert sorted(catalog.others) == ["Helper"]
    assert catalog.errors == {}
    assert catalog.datasets["Points"].file == folder / "kinds.py"
    assert catalog.datasets["Points"].doc == "Random points."
    # A subclass without its own __init__ takes its parent's arguments.
    assert [p.name for p in catalog.models["Deeper"].params] == ["width"]
    # Nothing was imported: torch's plugin modules never ran in this process.
    assert "kinds" not in sys.modules


def test_typed_keyword_params_become_fields_with_their_defaults(folder: Path) -> None:
    points = read_catalog(folder).datasets["Points"]
    names = [param.name for param in points.params]
    # `split` is passed by torchdash: not a field.
    assert names == ["count", "noise", "name", "shuffle", "shape", "sizes", "weights", "limit",
                     "size", "extra", "scale", "pair"]  # fmt: skip
    props = args_schema(points)["properties"]
    assert props["count"] == {"default": 100, "title": "count", "type": "integer"}
    assert props["noise"]["type"] == "number" and props["noise"]["default"] == 0.1
    assert props["name"]["type"] == "string" and props["shuffle"]["type"] == "boolean"
    assert props["shape"]["enum"] == ["ring", "line"] and props["shape"]["default"] == "ring"
    assert props["sizes"] == {
        "default": [1, 2],
        "items": {"type": "integer"},
        "title": "sizes",
        "type": "array",
    }
    assert props["weights"]["anyOf"] == [
        {"items": {"type": "number"}, "type": "array"},
        {"type": "null"},
    ]
    assert props["limit"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert props["scale"]["type"] == "number"  # a string annotation, keyword-only
    assert props["pair"]["default"] == [3, 4]
    # A default that is no literal: optional, with no default shown; no annotation: any JSON.
    assert props["size"] == {"title": "size", "type": "integer"}
    assert "type" not in props["extra"] and "JSON" in props["extra"]["description"]
    assert args_schema(points)["additionalProperties"] is False


def test_the_args_model_is_strict_and_refuses_unknown_names(folder: Path) -> None:
    catalog = read_catalog(folder)
    points = args_model(catalog.datasets["Points"])
    points.model_validate({"count": 5, "noise": 1, "shape": "line", "sizes": [3], "pair": (1, 2)})
    for bad in ({"count": "5"}, {"count": 2.5}, {"shape": "cube"}, {"sizes": ["a"]}, {"x": 1}):
        with pytest.raises(ValidationError) as caught:
            points.model_validate(bad)
        assert caught.value.errors()[0]["loc"][0] == next(iter(bad))
    # Injected names are never arguments a user gives.
    with pytest.raises(ValidationError):
        args_model(catalog.models["Net"]).model_validate({"num_outputs": 3})
    # A constructor that takes **kwargs takes any other argument too.
    args_model(catalog.metrics["Hits"]).model_validate({"top": 2, "compute_on_cpu": True})
    with pytest.raises(ValidationError):
        args_model(catalog.metrics["error_rate"]).model_validate({"anything": 1})


def test_unreadable_files_are_listed_and_private_files_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text("import torch.nn as nn\n\nclass A(nn.Module):\n    pass\n")
    (tmp_path / "broken.py").write_text("class B(nn.Module):\n    def f(self\n")
    (tmp_path / "latin.py").write_bytes(b"# \xe9\n")
    (tmp_path / "_helpers.py").write_text("from torch import nn\n\nclass C(nn.Module):\n    pass\n")
    (tmp_path / "notes.txt").write_text("class D(nn.Module): pass\n")
    catalog = read_catalog(tmp_path)
    assert sorted(catalog.models) == ["A"]
    assert set(catalog.errors) == {"broken.py", "latin.py"}
    assert catalog.errors["broken.py"].startswith("line 2: ")
    assert "UTF-8" in catalog.errors["latin.py"]


def test_a_name_defined_in_two_files_uses_the_first_and_lists_the_second(tmp_path: Path) -> None:
    model = "from torch import nn\n\n\nclass Twice(nn.Module):\n    def forward(self, x):\n"
    (tmp_path / "a.py").write_text(model + "        return x\n")
    (tmp_path / "b.py").write_text(model + "        return 2 * x\n")
    catalog = read_catalog(tmp_path)
    assert catalog.models["Twice"].file.name == "a.py"
    assert catalog.errors == {
        "b.py": "line 4: model 'Twice' is also defined in a.py, whose 'Twice' is used"
    }


def test_the_example_plugins_are_each_of_their_kind(tmp_path: Path) -> None:
    catalog = read_catalog(copy_example_plugins(tmp_path / "plugins"))
    assert sorted(catalog.datasets) == ["Diabetes", "DigitProperties"]
    assert sorted(catalog.models) == ["TabularMLP"]
    assert sorted(catalog.losses) == ["LogCoshLoss"]
    assert sorted(catalog.metrics) == ["WithinTolerance", "mean_squared_error"]
    assert catalog.errors == {}
    tabular = args_schema(catalog.models["TabularMLP"])["properties"]
    assert list(tabular) == ["width", "depth", "activation", "dropout"]  # no input_shape
    assert tabular["activation"]["enum"] == ["relu", "tanh"]


def test_a_missing_folder_is_an_empty_catalog(tmp_path: Path) -> None:
    catalog = read_catalog(tmp_path / "nowhere")
    assert not (catalog.datasets or catalog.models or catalog.losses or catalog.metrics)
