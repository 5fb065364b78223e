"""`torchdash watch`: a live terminal view of a run from its event stream.

A progress bar within the epoch, the last epoch's named metrics, the ETA; while the run is
queued, its place in the queue, its estimated start and what it waits for. On a terminal
the block is redrawn in place; into a pipe or a file it prints one line per change instead, so a
log of it stays readable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from app.cli.units import duration

if TYPE_CHECKING:
    from app.client import RunEvent
    from app.web.shapes import EpochPublic, RunPublic

BAR_WIDTH = 30


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    filled = round(width * done / total) if total else 0
    return "[" + "#" * filled + "." * (width - filled) + "]"


def eta_seconds(run: RunPublic, epoch_seconds: list[float]) -> float | None:
    """Seconds left: the mean epoch time over the epochs still to train (the current one's
    finished fraction taken off)."""
    if not epoch_seconds or run.status != "running":
        return None
    fraction = run.progress.batch / run.progress.batches if run.progress.batches else 0.0
    left = max(0.0, run.max_epochs - run.epoch - fraction)
    return left * sum(epoch_seconds) / len(epoch_seconds)


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def epoch_line(row: EpochPublic) -> str:
    """The epoch's every named metric, e.g. `epoch 3: train_loss 0.2100 · val_loss 0.2500 · ...`."""
    named = " · ".join(
        f"{name} {value:.4f}" if value is not None else f"{name} -"
        for name, value in row.metrics.items()
    )
    return f"epoch {row.epoch}: {named} · {row.seconds:.1f} s"


def queue_place(run: RunPublic, now: datetime | None = None) -> str:
    """A queued run's place, its estimated start and what it waits for, e.g.
    ` · 2nd in the queue · starts in about 4 m 10 s · waiting for a free slot`."""
    parts = []
    if run.queue_position is not None:
        parts.append(f"{ordinal(run.queue_position)} in the queue")
    if run.estimated_start_at is not None:
        wait = (run.estimated_start_at - (now or datetime.now(UTC))).total_seconds()
        parts.append(f"starts in about {duration(wait)}" if wait > 0 else "starts any moment")
    if run.waiting_reason:
        parts.append(run.waiting_reason)
    return "".join(f" · {part}" for part in parts)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class LiveView:
    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.run: RunPublic | None = None
        self.last_epoch: EpochPublic | None = None
        self.epoch_seconds: list[float] = []
        self.last_step_loss: float | None = None
        self.drawn_lines = 0
        self.last_printed = ""

    def update(self, event: RunEvent) -> None:
        if event.run is not None:
            self.run = event.run
        if event.epoch is not None:
            self.last_epoch = event.epoch
            self.epoch_seconds.append(event.epoch.seconds)
            if not self.tty:
                self._print(epoch_line(event.epoch))
        if event.steps:
            self.last_step_loss = event.steps[-1].loss
        if self.tty:
            self._redraw()
        elif event.run is not None:
            self._print(self._header())

    def lines(self) -> list[str]:
        lines = [self._header()]
        if self.run is not None and self.run.status == "running":
            batch, batches = self.run.progress.batch, self.run.progress.batches
            eta = eta_seconds(self.run, self.epoch_seconds)
            loss = f"  loss {self.last_step_loss:.4f}" if self.last_step_loss is not None else ""
            lines.append(
                f"{progress_bar(batch, batches)} {batch}/{batches} batches{loss}"
                + (f"  ETA {clock(eta)}" if eta is not None else "")
            )
        if self.last_epoch is not None:
            lines.append(epoch_line(self.last_epoch))
        return lines

    def _header(self) -> str:
        run = self.run
        if run is None:
            return "waiting for the run..."
        text = f"run {run.id} {run.name} · {run.status} · epoch {run.epoch}/{run.max_epochs}"
        if run.status == "queued":
            text += queue_place(run)
        return text + (f" · {run.error}" if run.error else "")

    def _redraw(self) -> None:
        if self.drawn_lines:
            self.out.write(f"\x1b[{self.drawn_lines}F\x1b[J")  # up to the block's start, clear
        lines = self.lines()
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self.drawn_lines = len(lines)

    def _print(self, line: str) -> None:
        if line != self.last_printed:  # a run event per batch would repeat the same header
            self.out.write(line + "\n")
            self.out.flush()
            self.last_printed = line
