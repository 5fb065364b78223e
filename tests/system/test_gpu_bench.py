"""bench/gpu_resnet.py runs end to end on the CPU, so a session lent a GPU only has to run it.

The command a device session runs, at tiny sizes: every variant trains and is timed, and the JSON
it hands back renders the README section. No figure is judged here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench.gpu_resnet import GPU_END, GPU_START, README, write_readme
from tests.support.paths import ROOT

VARIANTS = [
    "tutorial",
    "fit_fp32",
    "fit_amp",
    "fit_channels_last",
    "fit_amp_channels_last",
    "tutorial_augment",
    "fit_augment_batched",
]


def test_quick_cpu_run_measures_every_variant_and_renders_the_readme(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    subprocess.run(
        [sys.executable, "-m", "bench.gpu_resnet", "--quick", "--device", "cpu", "--out", out],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    report = json.loads(out.read_text())
    assert [variant["name"] for variant in report["variants"]] == VARIANTS
    for variant in report["variants"]:
        assert variant["samples_per_s"] > 0 and variant["epoch_rates"]
        assert math.isfinite(variant["first_epoch_loss"]), variant
        assert variant["vs_tutorial"] > 0
    assert not any(variant["amp"] for variant in report["variants"])  # amp runs on CUDA only
    assert report["card"].startswith("CPU") and report["sizes"]["train"] == 256

    readme = tmp_path / "README.md"
    readme.write_text(README.read_text())
    write_readme(report, readme)
    section = readme.read_text().split(GPU_START)[1].split(GPU_END)[0]
    assert report["card"] in section and "(amp off: CUDA only)" in section
    assert section.count("| (") == len(VARIANTS)


def test_the_ddp_case_renders_its_section_from_the_json_a_gpu_machine_returns(
    tmp_path: Path,
) -> None:
    """`--ddp --from-json`: what a device session renders; the measurement itself needs GPUs
    (`--ddp --quick --device cpu` runs it with gloo, too slow for the suite on this machine)."""
    import torch

    from bench.gpu_ddp import DDP_END, DDP_START, process_counts

    assert process_counts(torch.device("cpu")) == [1, 2]
    report = {
        "card": "NVIDIA H200",
        "torch": "2.11.0",
        "total_s": 180.0,
        "ddp": [
            {"processes": 1, "samples_per_s": 5000.0, "epoch_rates": [5000.0], "efficiency": 1.0},
            {"processes": 2, "samples_per_s": 9000.0, "epoch_rates": [9000.0], "efficiency": 0.9},
        ],
    }
    source = tmp_path / "ddp.json"
    source.write_text(json.dumps(report))
    done = subprocess.run(
        [sys.executable, "-m", "bench.gpu_resnet", "--ddp", "--from-json", source],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "| 2 | 9,000 | 90% | 1 |" in done.stdout and "NVIDIA H200" in done.stdout
    assert DDP_START in README.read_text() and DDP_END in README.read_text()
