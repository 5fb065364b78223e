"""`make bench`: run every benchmark in one go and rewrite the table in bench/README.md.

Each figure is a ratio or a comparison measured side by side in the same run (the machine is
shared and noisy); absolute times are context.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime

from bench.common import Result, write_table

# In the order of bench/README.md's table.
BENCHMARKS = [
    "bench.throughput",
    "bench.augment",
    "bench.reporting_overhead",
    "bench.run_start",
    "bench.live_latency",
    "bench.metric_writes",
    "bench.metric_reads",
    "bench.server_light",
    "bench.csv_index",
    "bench.system_sampler",
    "bench.preflight",
    "bench.runs_list",
    "bench.cli_start",
    "bench.ray_start",
    "bench.ray_dispatcher",
    "bench.named_metrics",
    "bench.study_overhead",
    "bench.study_asha",
    "bench.script_capture",
    "bench.table_cache",
    "bench.disk_cache",
]


def main() -> int:
    results: list[Result] = []
    started = time.perf_counter()
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            print(f"{name}: not written yet", flush=True)
            continue
        print(f"{name} ...", flush=True)
        began = time.perf_counter()
        for result in module.run():
            print(f"  {result.row()}", flush=True)
            results.append(result)
        print(f"  ({time.perf_counter() - began:.0f} s)", flush=True)
    minutes = (time.perf_counter() - started) / 60
    header = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, CPU only, Python {platform.python_version()}; "
        f"the whole run took {minutes:.1f} minutes."
    )
    write_table(results, header)
    unmet = [result.target for result in results if result.met is False]
    print(f"bench/README.md updated ({minutes:.1f} minutes); targets not met: {len(unmet)}")
    return 0  # a benchmark reports; the table says what is met


if __name__ == "__main__":
    sys.exit(main())
