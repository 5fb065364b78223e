"""Text runs refused on submit where the config alone tells, and the Check button's report of a
text file (a real preflight worker reads it)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from tests.support.runs import TINY_CONFIG
from tests.support.text_files import TEXT_DATA, write_corpus

BAG = {"kind": "bag_of_embeddings"}


def text(settings: Settings, **changes: object) -> dict:
    return {**TEXT_DATA, "path": str(settings.allowed_data_roots[0] / "train.csv"), **changes}


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        ({"model": {"kind": "mlp"}}, ["body", "model", "kind"], "token sequences"),
        ({"data": {"kind": "digits"}, "model": BAG}, ["body", "model", "kind"], "'text'"),
        ({"model": {"kind": "text_transformer", "d_model": 10, "nhead": 4}}, ["body", "model"],
         "does not divide"),
        ({"data": "labels", "model": BAG}, ["body", "data", "label_column"], "one column"),
        ({"data": "outside", "model": BAG}, ["body", "data", "path"], "data root"),
        ({"data": "same", "model": BAG}, ["body", "data", "text"], "both the text and a label"),
    ],
)  # fmt: skip
def test_what_the_config_tells_is_a_422_naming_the_field(
    client: TestClient, settings: Settings, change: dict, loc: list, words: str
) -> None:
    data = {
        "labels": text(settings, label_column=["positive", "negative"]),
        "outside": text(settings, path="/etc/passwd"),
        "same": text(settings, label_column="text"),
    }
    if isinstance(change.get("data"), str):
        change = {**change, "data": data[change["data"]]}
    config = {**TINY_CONFIG, "data": text(settings), **change}
    response = client.post("/api/runs", json=config)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"][: len(loc)] == loc and words in e["msg"] for e in errors), errors
    assert client.get("/api/runs").json()["count"] == 0


def test_the_check_reports_the_rows_classes_columns_and_vocabulary_of_a_text_file(
    client: TestClient, settings: Settings
) -> None:
    settings.preflight_seconds = 600  # a cold worker on a loaded machine imports torch slowly
    write_corpus(settings.allowed_data_roots[0], train=50, val=10)
    config = {**TINY_CONFIG, "data": text(settings), "model": BAG, "batch_size": 8}
    response = client.post("/api/preflight", json=config)
    assert response.status_code == 200, response.text
    report = response.json()["data_report"]
    assert report["kind"] == "text"
    assert report["rows"] == {"train": 40, "val": 10}  # path split by val_fraction 0.2
    assert report["classes"] == ["neg", "pos"]
    assert report["target_range"] is None
    # <pad>, <unk>, the words of the 40 training sentences and the full stop.
    assert 10 < report["vocabulary_size"] <= 2 + 20 + 1
    roles = {column["name"]: column["role"] for column in report["columns"]}
    assert roles == {"text": "text", "label": "target", "positive": "ignored",
                     "negative": "ignored", "score": "ignored"}  # fmt: skip
    assert response.json()["input_shape"] == [8, TEXT_DATA["max_length"]]


def test_a_column_the_header_lacks_is_a_422_naming_the_field(
    client: TestClient, settings: Settings
) -> None:
    root = settings.allowed_data_roots[0]
    write_corpus(root, train=10, val=5)
    data = text(settings, text_column="review", label_column=["positive", "stars"])
    config = {**TINY_CONFIG, "task": "multilabel", "data": data, "model": BAG,
              "loss": {"kind": "bce_with_logits"}}  # fmt: skip
    response = client.post("/api/runs", json=config)
    assert response.status_code == 422, response.text
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert set(errors) == {("body", "data", "text_column"), ("body", "data", "label_column", 1)}
    assert "'review'" in errors[("body", "data", "text_column")]
    assert "its columns: text, label" in errors[("body", "data", "text_column")]
    assert client.get("/api/runs").json()["count"] == 0
