"""CPU energy from Linux RAPL counters, read from a powercap folder the test writes.

The real /sys/class/powercap is absent or root-only on most machines, this one included; the
reader takes its root as an argument, and the files here have the kernel's names and format.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.hardware import rapl
from app.worker.cost_meter import CostMeter


def zone(root: Path, name: str, energy_uj: int, range_uj: int = 262143328850) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "energy_uj").write_text(f"{energy_uj}\n")
    (root / name / "max_energy_range_uj").write_text(f"{range_uj}\n")


def test_the_packages_energy_is_their_counters_difference_across_a_wrap(tmp_path: Path) -> None:
    zone(tmp_path, "intel-rapl:0", 5_000_000)
    zone(tmp_path, "intel-rapl:1", 999_000_000, range_uj=1_000_000_000)
    zone(tmp_path, "intel-rapl:0:0", 1)  # the cores, inside package 0's count: not added again
    before = rapl.read_packages(tmp_path)
    assert before is not None and [counter.zone for counter in before] == [
        "intel-rapl:0",
        "intel-rapl:1",
    ]
    zone(tmp_path, "intel-rapl:0", 8_600_000)  # 3.6 J
    zone(tmp_path, "intel-rapl:1", 2_000_000, range_uj=1_000_000_000)  # wrapped: 3 J
    after = rapl.read_packages(tmp_path)
    assert after is not None
    assert rapl.joules_between(before, after) == pytest.approx(6.6)

    meter = CostMeter([])  # a CPU run: CPU energy only, and no GPU step
    start = datetime(2026, 1, 1)
    first = meter.step(start, [], before)
    assert first.cpu_energy_wh is None and not first  # one reading: nothing to subtract yet
    step = meter.step(start + timedelta(seconds=5), [], after)
    assert step.cpu_energy_wh == pytest.approx(6.6 / 3600) and step.gpus == []


def test_no_readable_counter_means_no_cpu_energy(tmp_path: Path) -> None:
    assert rapl.read_packages(tmp_path / "absent") is None
    (tmp_path / "intel-rapl:0" / "energy_uj").mkdir(parents=True)  # unreadable as a file
    assert rapl.read_packages(tmp_path) is None
    meter = CostMeter([])
    assert meter.step(datetime(2026, 1, 1), [], None).cpu_energy_wh is None
