"""The CPU packages' energy counters (Linux RAPL, through powercap), where the machine lets them
be read.

`/sys/class/powercap/intel-rapl:N/energy_uj` counts the microjoules package N used (AMD CPUs
have it too, under the same name, since Linux 5.8), wrapping at `max_energy_range_uj`. Most
kernels since 2020 let only root read it (its changes leak what another process computes): there,
and on machines without RAPL, torchdash reports no CPU energy rather than estimate one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

POWERCAP = Path("/sys/class/powercap")
# A package zone, `intel-rapl:0`; its subzones (`intel-rapl:0:0`, the cores) are inside its count.
_PACKAGE = re.compile(r"intel-rapl:\d+")


@dataclass(frozen=True)
class PackageCounter:
    """One CPU package's energy counter at one moment."""

    zone: str
    energy_uj: int
    range_uj: int  # the counter wraps back to 0 past this


def read_packages(root: Path = POWERCAP) -> list[PackageCounter] | None:
    """Every CPU package's counter now; None where there is none, or one cannot be read."""
    zones = sorted(path for path in root.glob("intel-rapl:*") if _PACKAGE.fullmatch(path.name))
    if not zones:
        return None
    try:
        return [
            PackageCounter(
                zone=zone.name,
                energy_uj=int((zone / "energy_uj").read_text()),
                range_uj=int((zone / "max_energy_range_uj").read_text()),
            )
            for zone in zones
        ]
    except (OSError, ValueError):  # root-only (PermissionError), or a file that is not a count
        return None


def joules_between(before: list[PackageCounter], after: list[PackageCounter]) -> float | None:
    """The energy all packages used from `before` to `after`; None if the packages differ."""
    if [counter.zone for counter in before] != [counter.zone for counter in after]:
        return None
    total = 0
    for first, second in zip(before, after, strict=True):
        used = second.energy_uj - first.energy_uj
        if used < 0:  # the counter wrapped (once: it takes hours at full power)
            used += first.range_uj
        total += used
    return total / 1e6
