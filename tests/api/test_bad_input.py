"""Bad input tried: run configs, paths, stored paths, and broken data sets."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import update

from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import Checkpoint, RunStatus
from tests.support.runs import TINY_CONFIG

BAD_CONFIGS = [
    ({"batch_size": "sixteen"}, ["body", "batch_size"]),
    ({"batch_size": 0}, ["body", "batch_size"]),
    ({"batch_size": 10**9}, ["body", "batch_size"]),
    ({"max_epochs": 0}, ["body", "max_epochs"]),
    ({"max_epochs": 2.5}, ["body", "max_epochs"]),
    ({"optimizer": {"kind": "adam", "lr": -0.1}}, ["body", "optimizer", "adam", "lr"]),
    ({"optimizer": {"kind": "sgd", "lr": "fast"}}, ["body", "optimizer", "sgd", "lr"]),
    ({"optimizer": {"kind": "quantum_annealer"}}, ["body", "optimizer"]),
    ({"model": {"kind": "transformer"}}, ["body", "model"]),
    ({"data": {"kind": "imagenet"}}, ["body", "data"]),
    ({"model": {"kind": "mlp", "hidden_sizes": [0]}}, ["body", "model", "mlp", "hidden_sizes", 0]),
    ({"model": {"kind": "mlp", "surprise": 1}}, ["body", "model", "mlp", "surprise"]),
    ({"rm -rf": True}, ["body", "rm -rf"]),
    ({"device": "cuda; ls"}, ["body", "device"]),
    ({"name": ""}, ["body", "name"]),
    ({"seed": -1}, ["body", "seed"]),
]


@pytest.mark.parametrize(("change", "location"), BAD_CONFIGS)
def test_a_bad_config_is_422_naming_the_field_with_no_row_and_no_worker(
    client: TestClient, settings: Settings, change: dict, location: list
) -> None:
    response = client.post("/api/runs", json={**TINY_CONFIG, **change})
    assert response.status_code == 422
    assert location in [error["loc"] for error in response.json()["detail"]]
    assert client.get("/api/runs").json()["count"] == 0
    assert not settings.runs_dir.exists()  # no run folder: no worker ever started


def test_a_body_that_is_not_a_config_is_422_and_one_that_is_not_json_400(
    client: TestClient,
) -> None:
    for body, status in (("[]", 422), ("null", 422), ('"run"', 422), ("{", 400), ("{'a': 1}", 400)):
        response = client.post(
            "/api/runs", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == status, body
    assert client.get("/api/runs").json()["count"] == 0


ESCAPES = [
    "../",
    "../../etc",
    "%2e%2e/%2e%2e/etc",
    "%252e%252e/etc",
    "..\\..\\etc",
    "..%2f..%2fetc",
    "/etc",
    "//proc/self/root/etc",
    "file:///etc",
    "file:/etc",
    "~/",
    "images/../../outside",
    "images\x00",
]


def _imagefolder(train_dir: str) -> dict:
    return {**TINY_CONFIG, "data": {"kind": "imagefolder", "train_dir": train_dir}}


def test_every_path_trick_is_refused(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    root = settings.allowed_data_roots[0]
    (root / "images" / "a").mkdir(parents=True)
    evil = root.parent / f"{root.name}_evil"  # the sibling `root_evil` next to `root`
    (evil / "a").mkdir(parents=True)
    outside = tmp_path / "outside"
    (outside / "a").mkdir(parents=True)
    (root / "link-out").symlink_to(outside)
    (root / "images" / "link-up").symlink_to(root.parent)
    tricks = [*ESCAPES, str(evil), f"../{evil.name}", "link-out", "images/link-up/outside"]
    for path in tricks:
        response = client.post("/api/runs", json=_imagefolder(path))
        assert response.status_code == 422, path
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "data", "train_dir"], path
    assert client.get("/api/runs").json()["count"] == 0
    assert client.post("/api/runs", json=_imagefolder("images")).status_code == 201


def test_downloads_take_ids_and_recheck_the_stored_path(
    client: TestClient, make_run, execute, settings: Settings, tmp_path: Path
) -> None:
    run = make_run(max_epochs=1)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    url = f"/api/runs/{run['id']}/checkpoints/1/model"
    assert client.get(url).status_code == 200
    for trick in ("../../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e", "1/../2"):
        response = client.get(f"/api/runs/{run['id']}/checkpoints/{trick}/model")
        assert response.status_code in (404, 422) and b"root:" not in response.content, trick
    assert client.get(f"/api/runs/{run['id']}/checkpoints/1/weights").status_code == 422

    # Someone edits the stored path to point outside the run's folder: it is not served.
    stolen = tmp_path / "secret"
    stolen.mkdir()
    (stolen / "model.pt").write_bytes(b"secret bytes")
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        session.execute(update(Checkpoint).values(path=str(stolen)))
    engine.dispose()
    response = client.get(url)
    assert response.status_code == 404 and b"secret" not in response.content


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG that claims width x height pixels: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def _tree(root: Path, classes: dict[str, int]) -> None:
    for index, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for n in range(count):
            Image.new("L", (8, 8), color=(index * 70 + n * 5) % 256).save(root / name / f"{n}.png")


def test_unreadable_images_are_counted_skipped_and_named_in_the_log(
    client: TestClient, make_run, execute, settings: Settings, capfd: pytest.CaptureFixture
) -> None:
    tree = settings.allowed_data_roots[0] / "mixed"
    _tree(tree, {"a": 6, "b": 6})
    good = (tree / "a" / "0.png").read_bytes()
    (tree / "a" / "truncated.png").write_bytes(good[: len(good) // 2])
    (tree / "b" / "corrupt.png").write_bytes(b"not an image at all")
    _png_header_only(tree / "b" / "bomb.png", 100_000, 100_000)
    (tree / "b" / "notes.txt").write_text("not an image either")
    run = make_run(data={"kind": "imagefolder", "train_dir": "mixed", "grayscale": True},
                   max_epochs=1, batch_size=4)  # fmt: skip
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    log = capfd.readouterr().out  # the worker's output: its run log
    assert "skipped 3 unreadable image(s)" in log
    for name in ("truncated.png", "corrupt.png", "bomb.png"):
        assert name in log
    assert "notes.txt" not in log  # not an image file: not counted


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ({}, "Couldn't find any class folder"),
        ({"a": 4, "b": 0}, "Found no valid file for the classes b"),
        ({"a": 8}, "has 1 class folder(s) ['a']; a classifier needs at least 2"),
    ],
)
def test_a_data_set_that_cannot_train_fails_clearly_before_training(
    client: TestClient, make_run, execute, settings: Settings, classes: dict, message: str
) -> None:
    tree = settings.allowed_data_roots[0] / "set"
    tree.mkdir()
    _tree(tree, classes)
    run = make_run(data={"kind": "imagefolder", "train_dir": "set"}, max_epochs=1)
    assert execute(run["id"]) == RunStatus.FAILED
    failed = client.get(f"/api/runs/{run['id']}").json()
    assert message in failed["error"]
    assert client.get(f"/api/runs/{run['id']}/metrics").json()["steps"] == []
