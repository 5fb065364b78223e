"""The trainer's command line (`python -m trainer`), run as its own process: trains, resumes,
and refuses a bad config with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT
from tests.support.plugins import copy_example_plugins


def test_command_line_trains_and_resumes(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"max_epochs": 2, "device": "cpu", "batch_size": 64}))
    command = [sys.executable, "-m", "trainer", "--config", str(config)]
    out = subprocess.run(
        [*command, "--checkpoints", str(tmp_path / "ckpt")],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "epoch   1" in out and "epoch   2" in out
    config.write_text(json.dumps({"max_epochs": 3, "device": "cpu", "batch_size": 64}))
    out = subprocess.run(
        [*command, "--checkpoints", str(tmp_path / "ckpt"), "--resume"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "epoch   3" in out and "epoch   2" not in out

    config.write_text(json.dumps({"batch_size": 0}))
    bad = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "batch_size" in bad.stderr


def test_command_line_trains_on_plugins_from_the_folder_it_is_given(tmp_path: Path) -> None:
    plugins = copy_example_plugins(tmp_path / "plugins")
    config = tmp_path / "run.json"
    run = {
        "task": "regression",
        "data": {"kind": "plugin", "name": "Diabetes"},
        "model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": 8}},
        "loss": {"kind": "plugin", "name": "LogCoshLoss"},
        "max_epochs": 1,
        "device": "cpu",
    }
    config.write_text(json.dumps(run))
    command = [sys.executable, "-m", "trainer", "--config", str(config)]
    out = subprocess.run(
        [*command, "--plugins", str(plugins)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "epoch   1" in out and "val_rmse" in out and "best val_loss" in out
    without = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert without.returncode != 0 and "needs a plugins folder" in without.stderr
