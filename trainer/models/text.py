"""Sequence models: they read a batch of token ids (N x max_length, int64, 0 = padding) and give
one output per class, label or target.

Both take the padding from the ids themselves (id 0), so the data needs no separate mask tensor
and the in-memory cache holds one input tensor, as for every other kind.
"""

from __future__ import annotations

import torch
from torch import nn

from trainer.config.model import BagOfEmbeddingsModel, TextTransformerModel

PAD_ID = 0  # trainer/data/text_data.py's padding id


class BagOfEmbeddings(nn.Module):
    """The mean of a text's token embeddings (padding left out), then an MLP head."""

    def __init__(self, config: BagOfEmbeddingsModel, vocabulary_size: int, num_outputs: int):
        super().__init__()
        # EmbeddingBag's padding_idx leaves padding out of the mean (and out of the gradient).
        self.embedding = nn.EmbeddingBag(
            vocabulary_size, config.embedding_dim, mode="mean", padding_idx=PAD_ID
        )
        layers: list[nn.Module] = []
        width = config.embedding_dim
        for hidden in config.hidden_sizes:
            layers += [nn.Dropout(config.dropout), nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(width, num_outputs))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.embedding(ids)))


class TextTransformer(nn.Module):
    """Token plus learned position embeddings, an nn.TransformerEncoder with the padding masked,
    pooled (the mean of the real tokens, or the first token) into a linear head."""

    def __init__(
        self,
        config: TextTransformerModel,
        vocabulary_size: int,
        max_length: int,
        num_outputs: int,
    ):
        super().__init__()
        self.pooling = config.pooling
        self.embedding = nn.Embedding(vocabulary_size, config.d_model, padding_idx=PAD_ID)
        self.position = nn.Embedding(max_length, config.d_model)
        layer = nn.TransformerEncoderLayer(
            config.d_model,
            config.nhead,
            config.dim_feedforward,
            config.dropout,
            batch_first=True,
            norm_first=True,
        )
        # No nested-tensor fast path: it would turn a batch of all-padding rows into NaN.
        self.encoder = nn.TransformerEncoder(
            layer, config.num_layers, norm=nn.LayerNorm(config.d_model), enable_nested_tensor=False
        )
        self.head = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(config.d_model, num_outputs)
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        padding = ids == PAD_ID
        # An empty text would leave no key to attend to (a NaN softmax): its first position
        # stays visible, a padding embedding of zeros plus its position.
        padding[:, 0] = False
        positions = torch.arange(ids.shape[1], device=ids.device)
        hidden = self.encoder(
            self.embedding(ids) + self.position(positions), src_key_padding_mask=padding
        )
        if self.pooling == "first":
            pooled = hidden[:, 0]
        else:
            keep = (~padding).unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * keep).sum(1) / keep.sum(1)
        return self.head(pooled)
