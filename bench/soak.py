"""The chaos soak: 20 small runs on the local executor while a seeded driver SIGKILLs the server,
random workers and DDP ranks (and restarts PostgreSQL with `--postgres`), then checks that every
run finished, that epoch and step rows are unique and contiguous, that every listed checkpoint
loads with `weights_only=True`, that no process of any run is left and that no request got a
5xx. The driver and the checks are tests/support/chaos.py (the suite's short soak uses them too).

    python -m bench.soak                       # SQLite, a fresh seed (printed)
    python -m bench.soak --seed 7 --postgres   # PostgreSQL, the same draws as an earlier run
    python -m bench.soak --write-readme        # the counts into bench/README.md

Exits 1 when a check found something (listed under "problems").
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from app.settings import Settings
from bench.common import README, replace_section
from bench.databases import new_database, postgres
from tests.support.chaos import Soak, SoakReport

START = {False: "<!-- soak-sqlite:start -->", True: "<!-- soak-postgres:start -->"}
END = {False: "<!-- soak-sqlite:end -->", True: "<!-- soak-postgres:end -->"}


def soak(args: argparse.Namespace, home: Path) -> tuple[SoakReport, float]:
    (home / "data").mkdir(parents=True)
    with postgres() if args.postgres else nullcontext() as server:
        if args.postgres and server is None:
            sys.exit(2)  # said why above
        url = new_database(server) if server is not None else None
        settings = Settings(home=home, data_roots=[home / "data"], database_url=url)
        driver = Soak(
            settings, args.seed, server, TORCHDASH_MAX_CONCURRENT_RUNS=str(args.concurrent)
        )
        started = time.perf_counter()
        try:
            driver.drive(args.runs, args.kills, (args.gap_min, args.gap_max), args.timeout)
            report = driver.check()
        finally:
            driver.close()
        return report, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="default: a fresh one, printed")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kills", type=int, default=24)
    parser.add_argument("--gap-min", type=float, default=2.0, help="seconds between kills, least")
    parser.add_argument("--gap-max", type=float, default=8.0, help="seconds between kills, most")
    parser.add_argument("--concurrent", type=int, default=2, help="the server's concurrent runs")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the whole soak")
    parser.add_argument("--postgres", action="store_true", help="on a throw-away PostgreSQL")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    # Stopped with SIGTERM, it still stops its server and what the runs left (the `finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1_000_000)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"soak on {database}, seed {args.seed} (--seed {args.seed} draws the same)", flush=True)
    with tempfile.TemporaryDirectory(prefix="torchdash-soak-") as folder:
        report, seconds = soak(args, Path(folder) / "home")
    lines = [*report.lines(), f"took {seconds:.0f} s"]
    print("\n".join(lines))
    if args.write_readme:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = (
            f"python -m bench.soak --seed {args.seed} --runs {args.runs} --kills {args.kills}"
            + (" --postgres" if args.postgres else "")
        )
        block = [f"{database}, {when}: `{command}`", "", "```", *lines, "```"]
        replace_section(README, START[args.postgres], END[args.postgres], block)
    sys.exit(1 if report.problems else 0)


if __name__ == "__main__":
    main()
