"""app/hardware/nvml.py: the real nvidia-ml-py on this machine (no NVIDIA driver here), and a
fake `pynvml` module for the readings only a machine with GPUs can give."""

from __future__ import annotations

import logging
import sys
import types

import pytest

from app.hardware import nvml


def test_without_an_nvidia_driver_no_gpus_and_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    # The real library: installed, but this machine has no libnvidia-ml, so nvmlInit fails.
    nvml._warned.clear()
    with caplog.at_level(logging.WARNING, logger="app.hardware.nvml"):
        assert nvml.read_gpus() == []
        assert nvml.read_gpus() == []
    warnings = [r for r in caplog.records if r.name == "app.hardware.nvml"]
    assert len(warnings) == 1
    assert "no GPUs" in warnings[0].getMessage()


def test_without_the_package_no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    assert nvml.read_gpus() == []


class _FakeNvmlError(Exception):
    pass


def _fake_pynvml(power_supported: bool) -> types.ModuleType:
    """FAKE at the NVML seam: two GPUs, as pynvml would describe them on a machine with GPUs."""
    fake = types.ModuleType("pynvml")
    fake.NVMLError = _FakeNvmlError
    fake.nvmlInit = lambda: None
    fake.nvmlShutdown = lambda: None
    fake.nvmlDeviceGetCount = lambda: 2
    fake.nvmlDeviceGetHandleByIndex = lambda index: index
    fake.nvmlDeviceGetUUID = lambda h: f"GPU-{h}0000000-aaaa-bbbb-cccc-dddddddddddd"
    fake.nvmlDeviceGetName = lambda h: b"NVIDIA H200" if h == 0 else "NVIDIA H200"
    fake.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(
        total=80 * 2**30, used=(h + 1) * 2**30, free=0
    )
    fake.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=40 + h, memory=0)

    def power(h: int) -> int:
        if not power_supported:
            raise _FakeNvmlError("Not Supported")
        return 250_500

    fake.nvmlDeviceGetPowerUsage = power
    return fake


def test_readings_from_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(power_supported=True))
    gpus = nvml.read_gpus()
    assert [g.index for g in gpus] == [0, 1]
    assert gpus[0].name == "NVIDIA H200"  # bytes from older releases become str
    assert gpus[1].uuid.startswith("GPU-1")
    assert gpus[0].memory_total_mb == 80 * 1024
    assert gpus[1].memory_used_mb == 2 * 1024
    assert gpus[1].utilization_percent == 41.0
    assert gpus[0].power_watts == 250.5


def test_a_reading_nvml_does_not_support_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(power_supported=False))
    gpus = nvml.read_gpus()
    assert len(gpus) == 2
    assert all(g.power_watts is None for g in gpus)
    assert gpus[0].utilization_percent == 40.0
