"""Model kinds; each is built sized to the data's input shape and class count."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from trainer.config.base import Frozen, Identifier
from trainer.config.plugins import PluginArgs

Activation = Literal["relu", "gelu", "tanh", "sigmoid"]
Width = Annotated[int, Field(ge=1, le=65536)]


class MLPModel(Frozen):
    """A multi-layer perceptron over the flattened input."""

    kind: Literal["mlp"] = "mlp"
    hidden_sizes: list[Width] = Field(
        default_factory=lambda: [256], max_length=16, description="Width of each hidden layer."
    )
    activation: Activation = "relu"
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout after each hidden layer.")


class CNNModel(Frozen):
    """A small CNN: per entry of `channels`, conv -> (batch norm) -> activation -> 2x2 max pool;
    then global average pooling and a linear head."""

    kind: Literal["cnn"] = "cnn"
    channels: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default_factory=lambda: [16, 32], min_length=1, max_length=8
    )
    kernel_size: int = Field(3, ge=1, le=11, multiple_of=1)
    batch_norm: bool = True
    activation: Activation = "relu"
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout before the head.")

    @model_validator(mode="after")
    def _odd_kernel(self) -> CNNModel:
        if self.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd, so 'same' padding keeps the image size")
        return self


TORCHVISION_ARCHITECTURES = (
    "resnet18",
    "resnet34",
    "resnet50",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "vgg11_bn",
    "densenet121",
)


class TorchvisionModel(Frozen):
    """A torchvision classification architecture with random weights; its first layer and head
    are adapted to the data's channels and class count."""

    kind: Literal["torchvision"] = "torchvision"
    architecture: Literal[
        "resnet18",
        "resnet34",
        "resnet50",
        "mobilenet_v3_small",
        "efficientnet_b0",
        "vgg11_bn",
        "densenet121",
    ] = "resnet18"


class CustomLayersModel(Frozen):
    """The classic custom layers: a parameter-free layer that subtracts the mean, a dense stack
    whose weights live in an nn.ParameterList, and a head choosing among weights in an
    nn.ParameterDict."""

    kind: Literal["custom_layers"] = "custom_layers"
    center: bool = Field(True, description="Subtract each sample's mean first (no parameters).")
    hidden_sizes: list[Width] = Field(
        default_factory=lambda: [64], max_length=16, description="The ParameterList stack."
    )
    head_choices: list[Identifier] = Field(
        default_factory=lambda: ["main", "spare"],
        min_length=1,
        max_length=8,
        description="Names of the head's weight sets (an nn.ParameterDict).",
    )
    head_choice: Identifier = Field("main", description="The weight set the head uses.")

    @model_validator(mode="after")
    def _choice_is_listed(self) -> CustomLayersModel:
        if self.head_choice not in self.head_choices:
            raise ValueError(f"head_choice '{self.head_choice}' is not one of {self.head_choices}")
        if len(set(self.head_choices)) != len(self.head_choices):
            raise ValueError("head_choices must be distinct")
        return self


class SparseEmbeddingModel(Frozen):
    """A linear classifier over one-hot (pixel, intensity bin) features, stored as an
    nn.EmbeddingBag: with `sparse`, its gradients are sparse (for SparseAdam, SGD, Adagrad)."""

    kind: Literal["sparse_embedding"] = "sparse_embedding"
    bins: int = Field(8, ge=2, le=256, description="Intensity levels per pixel.")
    sparse: bool = Field(True, description="Sparse gradients (needs sparse_adam, sgd or adagrad).")


class PluginModel(Frozen):
    """An nn.Module subclass from a Python file in the plugins folder (trusted code). Any
    constructor: `input_shape`, `num_classes` and `num_outputs` go to one that names them."""

    kind: Literal["plugin"] = "plugin"
    name: Identifier = Field(description="Class name of an nn.Module in the plugins folder.")
    args: PluginArgs = Field(
        default_factory=dict, description="The class's constructor arguments, by name."
    )


class BagOfEmbeddingsModel(Frozen):
    """For text: the mean of the tokens' embeddings (an nn.EmbeddingBag, padding left out), then
    an MLP head. A fast baseline that ignores word order."""

    kind: Literal["bag_of_embeddings"] = "bag_of_embeddings"
    embedding_dim: int = Field(64, ge=1, le=4096, description="Size of each token's embedding.")
    hidden_sizes: list[Width] = Field(
        default_factory=list, max_length=8, description="Hidden layers of the head; empty: linear."
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout before each head layer.")


class TextTransformerModel(Frozen):
    """For text: a small Transformer encoder (nn.TransformerEncoder) over the token embeddings
    plus learned positional embeddings, padding masked, pooled into a linear head."""

    kind: Literal["text_transformer"] = "text_transformer"
    d_model: int = Field(64, ge=2, le=4096, description="Width of the embeddings and layers.")
    nhead: int = Field(4, ge=1, le=64, description="Attention heads; must divide d_model.")
    num_layers: int = Field(2, ge=1, le=24, description="Encoder layers.")
    dim_feedforward: int = Field(128, ge=1, le=65536, description="Width of the feed-forward.")
    dropout: float = Field(0.1, ge=0, lt=1)
    pooling: Literal["mean", "first"] = Field(
        "mean", description="mean: average of the non-padding tokens; first: the first token."
    )

    @model_validator(mode="after")
    def _heads_divide(self) -> TextTransformerModel:
        if self.d_model % self.nhead:
            raise ValueError(f"nhead {self.nhead} does not divide d_model {self.d_model}")
        return self


# The model kinds that read token sequences (data kind "text" and no other).
SEQUENCE_MODEL_KINDS = frozenset({"bag_of_embeddings", "text_transformer"})

ModelConfig = Annotated[
    MLPModel
    | CNNModel
    | TorchvisionModel
    | CustomLayersModel
    | SparseEmbeddingModel
    | BagOfEmbeddingsModel
    | TextTransformerModel
    | PluginModel,
    Field(discriminator="kind"),
]
