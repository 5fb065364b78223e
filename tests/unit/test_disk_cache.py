"""The on-disk cache never fails a run nor feeds it garbage: a damaged entry (truncated, a bad
header, a flipped byte), a full folder and a read-only one each cost one log line and a decode,
and the run trains the same weights; the least recently used entries go first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.image_files import write_image_folder
from tests.support.paths import ROOT
from tests.support.training import assert_same_weights, weights
from trainer.config import RunConfig
from trainer.data.cache_store import DIR_ENV, LIMIT_ENV, CacheStore, Entry
from trainer.faults import FAULT_ENV, reset_fault_counts
from trainer.loop import fit


def folder_config(root: Path, **changes) -> RunConfig:
    base = {
        "data": {"kind": "imagefolder", "train_dir": str(root), "grayscale": True},
        "model": {"kind": "mlp", "hidden_sizes": [16], "dropout": 0.3},
        "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9},
        "batch_size": 8,
        "max_epochs": 1,
        "device": "cpu",
        "seed": 5,
    }
    return RunConfig.model_validate({**base, **changes})


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("disk") / "set", ("a", "b", "c"), 16, 12)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CacheStore:
    folder = tmp_path / "cache"
    monkeypatch.setenv(DIR_ENV, str(folder))
    return CacheStore(folder, 1 << 30)


def train_entry(store: CacheStore) -> Entry:
    found = [item for _, item in store.entries() if isinstance(item, Entry)]
    return next(entry for entry in found if entry.describe.endswith("(train)"))


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Entry], None]] = {
    "truncated": lambda entry: os.truncate(entry.file("inputs"), entry.tensors[0].nbytes // 2),
    "bad header": lambda entry: (entry.folder / "meta.json").write_text('{"format": 99}'),
    "not JSON": lambda entry: (entry.folder / "meta.json").write_text("\x00garbage"),
    "flipped byte": lambda entry: flip_a_byte(entry.file("inputs")),
}


def test_a_damaged_entry_is_decoded_again_with_one_line_and_the_run_trains_the_same(
    image_root: Path, cache: CacheStore, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = weights(fit(folder_config(image_root, cache_budget_mb=0)))  # no cache at all
    fit(folder_config(image_root))
    assert "cache: wrote train split to disk cache" in capsys.readouterr().out
    for damage, apply in DAMAGE.items():
        apply(train_entry(cache))
        result = fit(folder_config(image_root))
        out = capsys.readouterr().out
        assert out.count("cache: disk cache entry of the train split is unusable") == 1, damage
        assert "cache: train split decoded once" in out, damage
        assert "cache: read val split from disk cache" in out, damage
        assert_same_weights(weights(result), reference)
        cache.entry(train_entry(cache).key)  # written afresh, sound
    result = fit(folder_config(image_root))
    assert "cache: read train split from disk cache" in capsys.readouterr().out
    assert_same_weights(weights(result), reference)


def test_a_full_cache_folder_costs_a_line_and_the_run_decodes_into_memory(
    image_root: Path, cache: CacheStore, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    reference = weights(fit(folder_config(image_root, cache_budget_mb=0)))
    monkeypatch.setenv(FAULT_ENV, "enospc@cache:1")
    reset_fault_counts()
    result = fit(folder_config(image_root))
    out = capsys.readouterr().out
    assert "cannot take the train split ([Errno 28] No space left on device" in out
    assert "decoding into memory" in out
    assert_same_weights(weights(result), reference)
    assert [item.describe for _, item in cache.entries()] == [f"imagefolder {image_root} (val)"]


def test_a_limit_of_0_turns_the_disk_cache_off(
    image_root: Path, cache: CacheStore, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv(LIMIT_ENV, "0")  # 0 turns the disk cache off
    fit(folder_config(image_root))
    assert "disk cache" not in capsys.readouterr().out
    assert not cache.root.exists()


def digits_config(split_seed: int) -> RunConfig:
    return RunConfig.model_validate({
        "data": {"kind": "digits", "split_seed": split_seed},
        "model": {"kind": "mlp", "hidden_sizes": [8]},
        "optimizer": {"kind": "sgd", "lr": 0.05},
        "batch_size": 256, "max_epochs": 1, "device": "cpu",
    })  # fmt: skip


def test_the_least_recently_used_data_set_is_evicted_first(
    cache: CacheStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A digits train split decodes to 0.37 MB, its val split to 0.09 MB: a 1 MB limit holds two
    # pairs, and a third train split pushes one entry out: the least recently used.
    monkeypatch.setenv(LIMIT_ENV, "1")
    fit(digits_config(0))
    fit(digits_config(1))
    fit(digits_config(0))  # read: split seed 0 is now the more recently used
    assert "cache: read train split from disk cache" in capsys.readouterr().out
    assert len(cache.entries()) == 4
    fit(digits_config(2))
    out = capsys.readouterr().out
    assert out.count("cache: evicted digits (train)") == 1 and "evicted digits (val)" not in out
    fit(digits_config(0))
    out = capsys.readouterr().out
    assert "read train split from disk cache" in out and "read val split from disk cache" in out
    fit(digits_config(1))  # its train split was the one evicted
    out = capsys.readouterr().out
    assert "cache: train split decoded once" in out
    assert cache.total_bytes() <= 1 << 20


def read_only_trainer(folder: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """`python -m trainer` with its cache folder read-only: a read-only bind mount in a mount
    namespace of its own when this runs as root (whom permissions do not stop), else mode 555."""
    command = [sys.executable, "-m", "trainer", "--config", str(config)]
    env = {**os.environ, DIR_ENV: str(folder)}
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("root without unshare: no way to make a folder read-only")
        script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
        command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script,
                   str(folder), *command]  # fmt: skip
    else:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
    try:
        return subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


def test_a_read_only_cache_folder_is_read_and_never_written(
    image_root: Path, tmp_path: Path, cache: CacheStore
) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps(folder_config(image_root).model_dump(mode="json")))
    fit(folder_config(image_root))  # filled while writable; then the train entry goes
    cache.remove(train_entry(cache).key)
    trained = read_only_trainer(cache.root, config)
    assert trained.returncode == 0, trained.stderr
    out = trained.stdout
    assert "cache: read val split from disk cache" in out
    assert "cannot take the train split" in out
    assert ("Read-only file system" if os.geteuid() == 0 else "Permission denied") in out
    assert "cache: train split decoded once" in out and "decoding into memory" in out
    assert "done: epoch 1" in out
    assert [item.describe for _, item in cache.entries()] == [f"imagefolder {image_root} (val)"]


def test_the_kept_image_check_skips_the_same_unreadable_image_without_opening_one(
    tmp_path: Path, cache: CacheStore, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_image_folder(tmp_path / "set", ("a", "b"), 8, 10)
    (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    for _ in range(2):
        fit(folder_config(root))
        out = capsys.readouterr().out
        assert "skipped 1 unreadable image(s)" in out and "broken.png" in out
    assert "cache: read train split from disk cache, 13 items" in out
    assert len(list(cache.checks_dir.iterdir())) == 1
