"""The on-disk cache of decoded data, for real: a folder decoded once by one worker is read by
the next run's worker without a decode (nor an image check), `torchdash cache` lists and clears
it, a changed file decodes afresh, and two processes filling the same entry leave one sound
entry."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.settings import Settings
from tests.support.image_files import write_image_folder
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG
from tests.support.waiting import wait_for_status
from trainer.data.cache_store import DIR_ENV, CacheStore


def folder_run(root: Path) -> dict:
    return {
        **TINY_CONFIG,
        "data": {"kind": "imagefolder", "train_dir": str(root), "grayscale": True},
        "max_epochs": 1,
    }


def cache_cli(settings: Settings, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app", "cache", *args], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "TORCHDASH_HOME": str(settings.home_dir)}, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_next_run_reads_the_decoded_folder_from_disk_and_the_cli_shows_and_clears_it(
    live_server: str, settings: Settings
) -> None:
    root = write_image_folder(settings.allowed_data_roots[0] / "shapes", ("a", "b"), 12, 10)

    def train() -> tuple[str, dict]:
        response = httpx.post(f"{live_server}/api/runs", json=folder_run(root))
        assert response.status_code == 201, response.text
        run = wait_for_status(live_server, response.json()["id"], "succeeded", timeout=300)
        metrics = httpx.get(f"{live_server}/api/runs/{run['id']}/metrics").json()["epochs"]
        return settings.worker_log(run["id"]).read_text(), metrics[-1]["metrics"]

    first_log, first = train()
    assert "cache: train split decoded once" in first_log
    assert "cache: wrote train split to disk cache" in first_log
    second_log, second = train()
    assert "cache: read train split from disk cache, 19 items" in second_log
    assert "cache: read val split from disk cache, 5 items" in second_log
    assert "decoded once" not in second_log
    assert second == first  # the same tensors: the same run

    listing = cache_cli(settings)
    assert f"imagefolder {root} (train)" in listing and f"imagefolder {root} (val)" in listing
    assert "2 entries" in listing and str(settings.cache_path) in listing

    # A file written since gives a new key: the data is decoded again, not read stale.
    image = next((root / "a").iterdir())
    os.utime(image, ns=(time.time_ns(), time.time_ns() + 10**9))
    third_log, _ = train()
    assert "cache: train split decoded once" in third_log
    assert "4 entries" in cache_cli(settings)

    assert "removed 4 entries" in cache_cli(settings, "clear")
    assert CacheStore(settings.cache_path, 1 << 30).entries() == []
    assert "0 entries" in cache_cli(settings)


def test_two_processes_filling_the_same_entry_leave_one_sound_entry(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "set", ("a", "b", "c"), 40, 16)
    config = tmp_path / "run.json"
    config.write_text(httpx.Response(200, json=folder_run(root)).text)
    cache = tmp_path / "cache"
    env = {**os.environ, DIR_ENV: str(cache)}
    trainers = [
        subprocess.Popen(
            [sys.executable, "-m", "trainer", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    logs = [trainer.communicate(timeout=300)[0] for trainer in trainers]
    assert [trainer.returncode for trainer in trainers] == [0, 0], logs
    both = "".join(logs)
    # One writer per entry: each split was written once, the other process read it.
    assert both.count("cache: wrote train split") == 1, logs
    assert both.count("cache: wrote val split") == 1, logs
    assert both.count("cache: read train split from disk cache") == 1, logs
    store = CacheStore(cache, 1 << 30)
    entries = store.entries()
    assert len(entries) == 2
    for key, _ in entries:
        store.entry(key)  # every byte against its checksum
    assert not list((cache / "tmp").iterdir())
