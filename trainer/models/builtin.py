"""Models: each config kind becomes an `nn.Module` sized to the data's input and output count.

Our own models are a `Classifier` with a `body` and a `head`, so parameter groups can name
them (`body.*`, `head.*`); torchvision's keep their own names (`fc.*`, `classifier.*`).
"""

from __future__ import annotations

import math
from pathlib import Path

from torch import nn

from trainer.config.model import (
    BagOfEmbeddingsModel,
    CNNModel,
    CustomLayersModel,
    MLPModel,
    ModelConfig,
    PluginModel,
    SparseEmbeddingModel,
    TextTransformerModel,
    TorchvisionModel,
)
from trainer.models.layers import (
    CenteredLayer,
    ParameterDictDense,
    ParameterListDense,
    PixelBinEmbedding,
)

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


class Classifier(nn.Sequential):
    """`body` then `head`: named so parameter groups can tell them apart."""

    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head


def build_model(
    config: ModelConfig,
    input_shape: tuple[int, ...],
    num_outputs: int,
    plugins_dir: Path | None = None,
    num_classes: int | None = None,
    vocabulary_size: int | None = None,
) -> nn.Module:
    """Build the model a config names for inputs of `input_shape` and `num_outputs` outputs.

    `num_classes` (the data's classes, labels or targets; by default `num_outputs`) is offered to
    a plugin model's constructor, which may differ from the outputs (one for binary BCE).
    A sequence model reads token ids below `vocabulary_size`, `input_shape` = (max_length,).
    """
    if isinstance(config, BagOfEmbeddingsModel | TextTransformerModel):
        from trainer.models.text import BagOfEmbeddings, TextTransformer

        if vocabulary_size is None or len(input_shape) != 1:
            raise ValueError(
                f"model '{config.kind}' reads token sequences: use data kind 'text' "
                f"(this data gives inputs of shape {list(input_shape)})"
            )
        if isinstance(config, BagOfEmbeddingsModel):
            return BagOfEmbeddings(config, vocabulary_size, num_outputs)
        return TextTransformer(config, vocabulary_size, input_shape[0], num_outputs)
    if isinstance(config, MLPModel):
        return _mlp(config, math.prod(input_shape), num_outputs)
    if isinstance(config, CNNModel):
        return _cnn(config, input_shape[0], num_outputs)
    if isinstance(config, TorchvisionModel):
        from trainer.models.vision import build_torchvision_model

        return build_torchvision_model(config.architecture, input_shape[0], num_outputs)
    if isinstance(config, CustomLayersModel):
        return _custom_layers(config, math.prod(input_shape), num_outputs)
    if isinstance(config, SparseEmbeddingModel):
        return PixelBinEmbedding(input_shape, num_outputs, config.bins, config.sparse)
    if isinstance(config, PluginModel):
        from trainer.plugins.loading import build_plugin_model

        classes = num_outputs if num_classes is None else num_classes
        return build_plugin_model(plugins_dir, config, input_shape, classes, num_outputs)
    raise TypeError(f"unknown model config {config!r}")


def _mlp(config: MLPModel, in_features: int, num_outputs: int) -> Classifier:
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for hidden in config.hidden_sizes:
        layers += [nn.Linear(width, hidden), ACTIVATIONS[config.activation]()]
        if config.dropout > 0:
            layers.append(nn.Dropout(config.dropout))
        width = hidden
    return Classifier(nn.Sequential(*layers), nn.Linear(width, num_outputs))


def _cnn(config: CNNModel, in_channels: int, num_outputs: int) -> Classifier:
    layers: list[nn.Module] = []
    for channels in config.channels:
        layers.append(nn.Conv2d(in_channels, channels, config.kernel_size, padding="same"))
        if config.batch_norm:
            layers.append(nn.BatchNorm2d(channels))
        # ceil_mode keeps a 1x1 map alive when there are more blocks than halvings of the image.
        layers += [ACTIVATIONS[config.activation](), nn.MaxPool2d(2, ceil_mode=True)]
        in_channels = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if config.dropout > 0:
        layers.append(nn.Dropout(config.dropout))
    return Classifier(nn.Sequential(*layers), nn.Linear(in_channels, num_outputs))


def _custom_layers(config: CustomLayersModel, in_features: int, num_outputs: int) -> Classifier:
    body: list[nn.Module] = [nn.Flatten()]
    if config.center:
        body.append(CenteredLayer())
    body.append(ParameterListDense(in_features, list(config.hidden_sizes)))
    width = config.hidden_sizes[-1] if config.hidden_sizes else in_features
    head = ParameterDictDense(width, num_outputs, list(config.head_choices), config.head_choice)
    return Classifier(nn.Sequential(*body), head)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
