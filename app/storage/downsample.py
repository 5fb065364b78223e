"""Downsampling a step series for charts: Largest-Triangle-Three-Buckets (Steinarsson, 2013).

A chart 1,000 pixels wide shows no more than about 1,000 points; sending 100,000 makes the browser
slow for nothing. LTTB keeps the first and last points and, in each bucket between, the point that
spans the largest triangle with its neighbours, so peaks, dips and the overall shape survive where
plain striding (every k-th point) would drop them.

A point whose y is null or NaN (a step whose loss was not finite) wins its bucket: the chart keeps
the gap where the run diverged. Such a point is never a triangle's corner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

# (x, y, anything else...): only the first two are looked at; the rest travels along.
Point = TypeVar("Point", bound=tuple[Any, ...])


def _gap(point: tuple[Any, ...]) -> bool:
    return point[1] is None or not math.isfinite(point[1])


def lttb(points: Sequence[Point], max_points: int) -> list[Point]:
    """At most `max_points` of `points` (sorted by x) that keep the series' visual shape."""
    n = len(points)
    if max_points >= n or n <= 2:
        return list(points)
    if max_points < 3:
        return [points[0], points[-1]][:max_points]
    kept = [points[0]]
    bucket_size = (n - 2) / (max_points - 2)
    anchor = points[0]
    for bucket in range(max_points - 2):
        start = int(bucket * bucket_size) + 1
        end = int((bucket + 1) * bucket_size) + 1
        # The next bucket's mean is the triangle's third corner.
        next_start, next_end = end, min(int((bucket + 2) * bucket_size) + 1, n)
        candidates = points[start:end]
        gap = next((candidate for candidate in candidates if _gap(candidate)), None)
        if gap is not None:
            kept.append(gap)
            continue
        following = [p for p in points[next_start:next_end] if not _gap(p)] or [points[-1]]
        mean_x = sum(p[0] for p in following) / len(following)
        mean_y = sum(p[1] for p in following if not _gap(p)) / len(following)
        best, best_area = candidates[0], -1.0
        ax, ay = anchor[0], anchor[1] if not _gap(anchor) else mean_y
        for candidate in candidates:
            area = abs((ax - mean_x) * (candidate[1] - ay) - (ax - candidate[0]) * (mean_y - ay))
            if area > best_area:
                best, best_area = candidate, area
        kept.append(best)
        anchor = best
    kept.append(points[-1])
    return kept
