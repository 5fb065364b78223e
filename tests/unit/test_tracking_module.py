"""The tracking module on its own: it imports with the standard library only (torch waits for a
checkpoint), prints the JSON lines the worker reads, and answers should_stop from the stop file;
its lines parse back into the rows the worker writes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from app.worker.script_capture import CheckpointLine, EpochLine, StepLine, parse_line
from tests.support.paths import ROOT

PROGRAM = """
import os, sys
import torchdash_track as track
assert "torch" not in sys.modules, "torch imported at import time"
run = track.init()
assert not run.should_stop()
run.log(1, train_loss=0.5, val_loss=float("nan"), lr=0.1)
run.log_step(3, 0.25)
open(os.environ["TORCHDASH_STOP_FILE"], "w").close()
assert run.should_stop()
assert run.resume_checkpoint() is None
assert "torch" not in sys.modules
"""


def test_the_module_prints_rows_with_the_standard_library_only(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        cwd=ROOT,
        env={"TORCHDASH_RUN_ID": "1", "TORCHDASH_STOP_FILE": str(tmp_path / "stop")},
        capture_output=True,
        text=True,
        check=True,
    )
    epoch_line, step_line = done.stdout.splitlines()
    epoch = parse_line(epoch_line)
    assert isinstance(epoch, EpochLine) and epoch.epoch == 1 and epoch.lr == 0.1
    assert epoch.metrics["train_loss"] == 0.5 and math.isnan(epoch.metrics["val_loss"])
    assert parse_line(step_line) == StepLine(3, 0.25)


def test_text_lines_stay_text() -> None:
    assert parse_line("epoch 3 done") is None
    assert parse_line(json.dumps({"epoch": 2, "phase": "val"})) is None  # not a number
    assert parse_line(json.dumps({"epoch": True, "loss": 1})) is None  # not an integer
    assert parse_line(json.dumps({"step": 4})) is None  # a step row needs its loss
    assert parse_line("{" + '"epoch": 1, "x": "' + "a" * 100_000 + '"}') is None  # too long
    assert parse_line("[1, 2]") is None and parse_line("{not json}") is None
    checkpoint = parse_line(json.dumps({"torchdash": "checkpoint", "epoch": 2, "path": "/c"}))
    assert checkpoint == CheckpointLine(2, "/c")
