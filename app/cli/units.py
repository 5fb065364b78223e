"""Numbers in the units people read: durations as `1 m 23 s`, sizes as `1.2 MB`, energy as
`12.3 Wh`."""

from __future__ import annotations

SIZE_UNITS = ("B", "kB", "MB", "GB", "TB")


def duration(seconds: float) -> str:
    """`0.4 s`, `12.3 s`, `1 m 23 s`, `2 h 05 m`: sub-minute times keep a tenth, which an epoch of
    a tiny model needs; longer ones drop what nobody reads."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} m"
    return f"{minutes} m {secs:02d} s"


def size(num_bytes: int) -> str:
    """Decimal units, as file managers and `ls -h --si` print them: `812 B`, `1.2 MB`."""
    value = float(num_bytes)
    for unit in SIZE_UNITS:
        if value < 1000 or unit == SIZE_UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable: the last unit returns")


def hours(value: float) -> str:
    """GPU-hours to three significant digits: a minute on one GPU is `0.0167`, not `0.0000`."""
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def energy(watt_hours: float) -> str:
    """`850 mWh`, `12.3 Wh`, `4.56 kWh`, `1.2 MWh`."""
    if watt_hours < 1:
        return f"{watt_hours * 1000:.0f} mWh"
    for unit, scale in (("Wh", 1.0), ("kWh", 1e3)):
        if watt_hours < 1000 * scale:
            value = watt_hours / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{watt_hours / 1e6:.1f} MWh"
