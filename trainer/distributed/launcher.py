"""Starting the other ranks of a DDP run (`processes > 1`), and making sure none outlives it.

Rank 0 is the process that is already there (the run's worker, or `python -m trainer`): it alone
reports, checkpoints and reads the stop flag, so the executor's handle, adoption after a server
restart and the final status stay what they are for a single-process run. It starts ranks
1..N-1 the way `torchrun --standalone` starts its ranks: a fresh interpreter each (`python -m
trainer.distributed.launcher`, its spec on stdin), meeting at a TCP store that rank 0 opens on a
free loopback port (port 0: the kernel picks, so no two runs race for one). Not
`torch.multiprocessing.spawn`: it would make every rank a child of a parent that trains
nothing, and the worker that the dispatcher watches would no longer be rank 0. Unlike torchrun
there is no separate agent process: rank 0 is the agent.

No rank outlives the run:
- rank 0 ends, normally or with an error: it kills what is left of the group (`RankGroup`);
- rank 0 is SIGKILLed: each rank asked the kernel for a SIGKILL when its parent dies
  (PR_SET_PDEATHSIG, Linux);
- another rank dies: its sockets close, rank 0's next collective fails at once, and
  `RankGroup.casualty` names the dead rank for the run's error;
- another rank dies before it joined the group: rank 0, waiting for every rank to arrive at its
  store before it joins, sees the death and fails the same way (inside the group's rendezvous it
  would wait the whole GROUP_TIMEOUT).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import torch
import torch.distributed as dist

from trainer.config import RunConfig
from trainer.distributed.ranks import (
    GROUP_TIMEOUT,
    LOOPBACK,
    DistributedRanks,
    join_group,
    leave_group,
    rank_device,
)

RANK_MODULE = "trainer.distributed.launcher"
# After rank 0 finished, how long the others may take to leave the group before they are killed.
LEAVE_SECONDS = 60.0
# After rank 0 failed, how long it waits for a dying rank's exit status, to name it in the error.
DEATH_NOTICE_SECONDS = 1.0
# A rank sets this store key (and its number) once it reached rank 0's store.
ARRIVED_KEY = "torchdash/arrived/"
# How often rank 0, waiting for the ranks to arrive, looks whether one of them has died.
ARRIVAL_POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class FitInputs:
    """What every rank's `fit` needs besides the config; callbacks and checkpoints are rank 0's."""

    resume_from: Path | None = None
    plugins_dir: Path | None = None
    init_weights: Path | None = None
    fork: bool = False


class RankGroup:
    """`with RankGroup(config, inputs) as ranks:` rank 0 of a started, joined group."""

    def __init__(
        self, config: RunConfig, inputs: FitInputs, log: Callable[[str], None] = print
    ) -> None:
        self.config = config
        self.inputs = inputs
        self.log = log
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.casualty: str | None = None  # "rank 1 of 2 was killed by SIGKILL", after a failure
        self.casualty_killed = False  # the casualty died of a signal (not of its own error)

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes.values()]

    def __enter__(self) -> DistributedRanks:
        world = self.config.processes
        device = rank_device(self.config.device, 0, world)
        # Like torchrun's OMP_NUM_THREADS: the ranks share the cores rather than each take all.
        threads = max(1, torch.get_num_threads() // world)
        torch.set_num_threads(threads)
        store = dist.TCPStore(
            LOOPBACK, 0, world, is_master=True, wait_for_workers=False, timeout=GROUP_TIMEOUT
        )
        try:
            for rank in range(1, world):
                self._start(rank, store.port, threads)
            self._await_arrivals(store)
            return join_group(store, 0, world, device)
        except BaseException:
            self._end(failed=True)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._end(failed=exc_type is not None)

    def _start(self, rank: int, port: int, threads: int) -> None:
        spec = {
            "config": self.config.model_dump(mode="json"),
            "rank": rank,
            "port": port,
            "threads": threads,
            "parent_pid": os.getpid(),
            "resume_from": _text(self.inputs.resume_from),
            "plugins_dir": _text(self.inputs.plugins_dir),
            "init_weights": _text(self.inputs.init_weights),
            "fork": self.inputs.fork,
        }
        # stdout dropped (only rank 0 logs progress); stderr shared, so a rank's traceback is in
        # the run's log.
        process = subprocess.Popen(
            [sys.executable, "-m", RANK_MODULE], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        self.processes[rank] = process
        assert process.stdin is not None
        process.stdin.write(json.dumps(spec).encode())
        process.stdin.close()
        self.log(f"ddp: rank {rank} of {self.config.processes} started as pid {process.pid}")

    def _await_arrivals(self, store: dist.TCPStore) -> None:
        """Wait until every rank reached the store, failing as soon as one has ended instead.

        Inside `init_process_group` rank 0 would wait the whole GROUP_TIMEOUT for a rank that
        died before it joined (killed, or an error at start-up), with no way to look. A rank
        arrives right before it joins, so after this only a death in that instant goes unseen.
        """
        keys = [f"{ARRIVED_KEY}{rank}" for rank in self.processes]
        deadline = time.monotonic() + GROUP_TIMEOUT.total_seconds()
        # `check`, not a short `wait`: a wait that times out logs a warning each time.
        while not store.check(keys):
            for rank, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"rank {rank} ended before it joined the group")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the ranks did not all arrive within {GROUP_TIMEOUT}")
            time.sleep(ARRIVAL_POLL_SECONDS)

    def _end(self, failed: bool) -> None:
        """Leave the group; no rank is left running when this returns."""
        if failed:
            self._note_first_death()
            self._kill_all()  # survivors wait in a collective for a rank 0 that will not come
        leave_group()
        for rank, process in self.processes.items():
            try:
                process.wait(timeout=LEAVE_SECONDS)
            except subprocess.TimeoutExpired:
                self.log(f"ddp: rank {rank} did not leave within {LEAVE_SECONDS:.0f} s; killed")
        self._kill_all()

    def _note_first_death(self) -> None:
        """Name the first rank found to have ended on its own (none: all still run)."""
        world = self.config.processes
        for rank, process in self.processes.items():
            try:
                code = process.wait(timeout=DEATH_NOTICE_SECONDS)
            except subprocess.TimeoutExpired:
                continue
            self.casualty_killed = code < 0
            if code < 0:
                self.casualty = f"rank {rank} of {world} was killed by {signal.Signals(-code).name}"
            else:
                self.casualty = f"rank {rank} of {world} exited with code {code}"
            return

    def _kill_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(text)


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux for a SIGKILL when the parent (rank 0) dies, however it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: rank 0's collectives timeout is the backstop
        return
    if os.getppid() != parent_pid:  # the parent died before the request was made
        os._exit(1)


def main() -> int:
    """A rank other than 0: read its spec, join the group, train without reporting."""
    from trainer.loop import fit

    spec = json.loads(sys.stdin.read())
    die_with_parent(spec["parent_pid"])
    # A terminal's Ctrl-C reaches the whole process group; rank 0 turns it into a stop that
    # every rank obeys at the same batch, so the others must not die of it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = RunConfig.model_validate(spec["config"])
    rank, world = spec["rank"], config.processes
    torch.set_num_threads(spec["threads"])
    device = rank_device(config.device, rank, world)
    store = dist.TCPStore(LOOPBACK, spec["port"], world, is_master=False, timeout=GROUP_TIMEOUT)
    store.set(f"{ARRIVED_KEY}{rank}", "1")
    ranks = join_group(store, rank, world, device)
    try:
        fit(
            config,
            resume_from=_path(spec["resume_from"]),
            plugins_dir=_path(spec["plugins_dir"]),
            init_weights=_path(spec["init_weights"]),
            fork=spec["fork"],
            ranks=ranks,
        )
    finally:
        leave_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
