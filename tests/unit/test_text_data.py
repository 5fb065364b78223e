"""The text data kind's tokenizers and vocabulary, on files the test writes; and the sequence
models on every task's output size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainer.config import RunConfig
from trainer.config.data import TextData
from trainer.config.model import BagOfEmbeddingsModel, TextTransformerModel
from trainer.data.text_data import PAD_ID, UNKNOWN_ID, load_text
from trainer.errors import ConfigProblem
from trainer.models.builtin import build_model

TRAIN = [
    ("Good, good film!", "b"),
    ("bad film", "a"),
    ("GOOD plot", "b"),
    ("bad bad acting", "a"),
]


def write(path: Path, rows: list[tuple[str, str]], delimiter: str = ",") -> str:
    lines = [f"text{delimiter}label"] + [f'"{text}"{delimiter}{label}' for text, label in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_word_vocabulary_of_the_training_split_pads_cuts_and_marks_unknown_words(
    tmp_path: Path,
) -> None:
    config = TextData(
        path=write(tmp_path / "train.tsv", TRAIN, "\t"),
        val_path=write(tmp_path / "val.tsv", [("good zebra film film film film", "a")], "\t"),
        max_length=4,
        min_freq=2,
    )
    splits = load_text(config, "classification")
    tokens = splits.state["tokens"]
    # Only words seen twice or more; "good" three times (lowercased), ","/"!" once: left out.
    assert tokens[:2] == ["<pad>", "<unk>"] and set(tokens[2:]) == {"good", "bad", "film"}
    index = tokens.index
    assert splits.train.tensors[0][0].tolist() == [index("good"), UNKNOWN_ID, index("good"),
                                                   index("film")]  # fmt: skip
    assert splits.train.tensors[0][1].tolist() == [index("bad"), index("film"), PAD_ID, PAD_ID]
    assert splits.val.tensors[0][0].tolist() == [index("good"), UNKNOWN_ID, index("film"),
                                                 index("film")]  # fmt: skip
    assert splits.class_names == ["a", "b"] and splits.val.texts[0].startswith("good zebra")
    assert splits.train.tensors[1].tolist() == [1, 0, 1, 0]

    # A saved state is used as it is: the same ids, whatever the files say now.
    write(tmp_path / "train.tsv", [("zebra zebra", "a"), ("yak yak", "b")], "\t")
    again = load_text(config, "classification", splits.state)
    assert again.state == splits.state
    assert again.train.tensors[0][0].tolist() == [UNKNOWN_ID, UNKNOWN_ID, PAD_ID, PAD_ID]


def test_characters_and_max_vocab(tmp_path: Path) -> None:
    config = TextData(
        path=write(tmp_path / "train.csv", TRAIN),
        tokenizer="char",
        lowercase=False,
        max_vocab=3,
        max_length=5,
        val_fraction=0.5,
    )
    splits = load_text(config, "classification")
    assert len(splits.state["tokens"]) == 2 + 3
    assert all(len(token) == 1 for token in splits.state["tokens"][2:])
    assert splits.input_shape == (5,) and splits.train.tensors[0].shape == (2, 5)


def test_a_single_class_in_the_training_split_is_refused(tmp_path: Path) -> None:
    config = TextData(path=write(tmp_path / "train.csv", [("a", "x"), ("b", "x")]))
    with pytest.raises(ConfigProblem, match="at least 2") as raised:
        load_text(config, "classification")
    assert raised.value.loc == ("data", "label_column")


@pytest.mark.parametrize("model", [BagOfEmbeddingsModel(), TextTransformerModel(pooling="first")])
def test_the_sequence_models_give_one_output_per_class_label_or_target(model) -> None:
    ids = torch.tensor([[5, 3, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4]])
    for outputs in (1, 3):
        net = build_model(model, (4,), outputs, vocabulary_size=6)
        out = net(ids)
        assert out.shape == (3, outputs) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="token sequences"):
        build_model(model, (1, 8, 8), 10)
    assert RunConfig.model_validate({"model": model.model_dump()}).model.kind == model.kind
