"""Numbers in the units people read: durations as `1 m 23 s`, sizes as `1.2 MB`."""

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
