"""Random steps on whole cached batches: each sample its own draw, a seeded stream that a
resumed run continues, and accuracy as good as the per-item DataLoader's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from tests.support.image_files import write_image_folder
from tests.support.training import StopAfter, assert_same_weights, small_run_config, weights
from trainer.checkpoints.store import latest_checkpoint
from trainer.config import RunConfig
from trainer.config.transforms import HorizontalFlipStep, RandomCropStep
from trainer.data.batch_augment import BatchStage
from trainer.data.disk_cache import cached_stage_key
from trainer.loop import fit
from trainer.preflight import preflight

AUGMENT = [{"kind": "random_crop", "size": 12, "padding": 2}, {"kind": "horizontal_flip"}]


def folder_config(root: Path, **changes) -> RunConfig:
    return small_run_config(
        {"kind": "imagefolder", "train_dir": str(root), "train_transforms": AUGMENT}, **changes
    )


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("augment") / "set", ("a", "b", "c"), 20, 12)


def test_random_steps_keep_the_cache_as_uint8_and_the_log_says_so(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit(folder_config(image_root, max_epochs=1))
    out = capsys.readouterr().out
    assert "random steps ['horizontal_flip', 'random_crop'] run on whole batches" in out
    assert "cache: on:" in out
    assert "train split kept as uint8; per batch on cpu: to float32, random_crop, " in out

    # A grayscale before the first random step computes new values: float32, nothing rounded.
    data = {"kind": "imagefolder", "train_dir": str(image_root), "grayscale": True}
    fit(folder_config(image_root, data={**data, "train_transforms": AUGMENT}, max_epochs=1))
    assert "train split kept as float32; per batch on cpu: random_crop" in capsys.readouterr().out


def test_each_sample_draws_its_own_crop_and_flip() -> None:
    image = torch.randint(0, 256, (3, 12, 12), dtype=torch.uint8)
    batch = image.expand(32, 3, 12, 12).contiguous()
    stage = BatchStage([RandomCropStep(size=12, padding=2), HorizontalFlipStep()], 5, "train")
    out = stage(batch, (1, 0, 0))
    assert out.dtype == torch.float32 and out.shape == (32, 3, 12, 12)
    # Every output is one of the per-item path's possible images: a crop of the padded float
    # image, flipped or not; and the batch holds many different ones.
    padded = v2.functional.pad(v2.functional.to_dtype(image, torch.float32, scale=True), [2])
    possible = [
        crop
        for top in range(5)
        for left in range(5)
        for crop in (padded[:, top : top + 12, left : left + 12],)
        for crop in (crop, crop.flip(-1))
    ]
    for sample in out:
        assert any(torch.equal(sample, crop) for crop in possible)
    distinct = {sample.numpy().tobytes() for sample in out}
    assert len(distinct) > 8
    flipped = [any(torch.equal(s, c) for c in possible[1::2]) for s in out]
    assert any(flipped) and not all(flipped)
    # The same place in the run draws the same; the next batch draws anew.
    assert torch.equal(stage(batch, (1, 0, 0)), out)
    assert not torch.equal(stage(batch, (1, 0, 1)), out)
    assert not torch.equal(BatchStage(stage.steps, 6, "train")(batch, (1, 0, 0)), out)


def test_the_same_seed_trains_the_same_and_a_resume_continues_the_stream(
    image_root: Path, tmp_path: Path
) -> None:
    straight = fit(folder_config(image_root))  # 6 batches per epoch
    again = fit(folder_config(image_root))
    assert_same_weights(weights(straight), weights(again))
    other = fit(folder_config(image_root, seed=6))
    moved = weights(other)
    assert any(not torch.equal(moved[name], value) for name, value in weights(straight).items())

    stopper = StopAfter(steps=8)  # epoch 2, batch 2
    stopped = fit(folder_config(image_root), stopper, checkpoint_dir=tmp_path, should_stop=stopper)
    checkpoint = latest_checkpoint(tmp_path)
    assert stopped.stopped and checkpoint is not None and not checkpoint.complete
    resumed = fit(folder_config(image_root), checkpoint_dir=tmp_path, resume_from=checkpoint.path)
    assert_same_weights(weights(straight), weights(resumed))
    assert resumed.history[-1].train_loss == pytest.approx(straight.history[-1].train_loss)


def test_accuracy_on_shifted_digits_is_as_good_as_the_per_item_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Digits whose validation images are shifted by up to a pixel: a run needs the random crops
    # to generalise to them.
    config = {
        "data": {
            "kind": "digits",
            "train_transforms": [
                {"kind": "random_crop", "size": 8, "padding": 1},
                {"kind": "rotation", "degrees": 5},
            ],
            "val_transforms": [{"kind": "random_crop", "size": 8, "padding": 1}],
        },
        "model": {"kind": "mlp", "hidden_sizes": [64]},
        "optimizer": {"kind": "adam", "lr": 0.01},
        "batch_size": 64,
        "max_epochs": 3,
        "device": "cpu",
    }
    batched = fit(RunConfig.model_validate(config))
    assert "run on whole batches" in capsys.readouterr().out
    per_item = fit(RunConfig.model_validate({**config, "cache_budget_mb": 0}))
    assert "cache: off: cache_budget_mb is 0" in capsys.readouterr().out
    batched_accuracy = batched.history[-1].val_accuracy
    per_item_accuracy = per_item.history[-1].val_accuracy
    assert batched_accuracy is not None and per_item_accuracy is not None
    assert per_item_accuracy > 0.5
    # Two streams of draws: a few hundredths either way is noise, not a worse path.
    assert batched_accuracy >= per_item_accuracy - 0.03


def test_items_of_several_sizes_go_item_by_item_and_preflight_knows_the_cache(
    tmp_path: Path, image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sizes"
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for n in range(6):
            side = 10 + n % 3
            pixels = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{n}.png")
    crop = [{"kind": "random_crop", "size": 8}]
    data = {"kind": "imagefolder", "train_dir": str(root), "train_transforms": crop}
    data["val_transforms"] = [{"kind": "center_crop", "size": 8}]
    result = fit(folder_config(root, data=data, max_epochs=1, batch_size=4))
    out = capsys.readouterr().out
    assert "cache: off: train items differ in shape" in out and "before the random steps" in out
    assert len(result.history) == 1

    report = preflight(folder_config(image_root), steps=2)
    assert report["input_shape"] == [8, 3, 12, 12]


def test_cached_stage_key_names_the_steps_before_the_first_random_one(image_root: Path) -> None:
    def key(**data: object) -> dict:
        config = {"kind": "imagefolder", "train_dir": str(image_root), **data}
        return json.loads(cached_stage_key(folder_config(image_root, data=config)))

    plain = key()
    assert plain["train"] == {"steps": [], "dtype": "uint8"}
    # The random steps and what follows them are not cached: the same key as without them.
    assert key(train_transforms=[*AUGMENT, {"kind": "normalize"}]) == plain
    cropped = key(train_transforms=[{"kind": "center_crop", "size": 10}, *AUGMENT])
    assert cropped["train"]["steps"] == [{"kind": "center_crop", "size": 10}]
    assert cropped["train"]["dtype"] == "uint8" and cropped["val"] == plain["val"]
    resized = key(image_size=16)
    assert resized["train"] == {"steps": [{"kind": "resize", "size": 16}], "dtype": "float32"}
    assert cached_stage_key(folder_config(image_root)) == cached_stage_key(
        folder_config(image_root)
    )
