"""The trainer's command line (`python -m trainer`), run as its own process: trains, resumes,
and refuses a bad config with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT


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
