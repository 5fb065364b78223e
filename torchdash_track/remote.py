"""`RemoteRun`: a run trained on another machine, logged to a torchdash server over REST.

```
run = RemoteRun("http://dashboard:8000", token, name="resnet-a", config={"lr": 0.1})
for epoch in range(1, 11):
    for step, loss in ...:
        run.log_step(step, loss)
    run.log(epoch, train_loss=0.4, val_loss=0.5, val_accuracy=0.9)
    run.save_checkpoint(epoch, model=model, optimizer=optimizer)
    if run.should_stop():  # Cancel was pressed on the run's page
        break
run.finish()
```

A process that restarts (after a crash, on this machine or another) takes its run up again with
`RemoteRun.attach(server, run_id)` (or `init(resume=run_id)`): the run is running again, the rows
reported after its newest checkpoint are dropped on the server (they are reported again), and
`resume_checkpoint()` downloads that checkpoint into a folder `load_checkpoint` reads:

```
run = RemoteRun.attach("http://dashboard:8000", 12, token)
start = 0
if run.resume_checkpoint() is not None:
    state = load_checkpoint(run.resume_checkpoint())
    model.load_state_dict(state["model"])
    start = state["epoch"]
```

A run that went silent too long (`interrupted`) can be attached; one that succeeded, failed or
was cancelled cannot (TrackingError).

The standard library only (torch is imported by the checkpoint functions alone), so it installs
anywhere. Points are buffered and sent in batches by a thread of its own: when `batch_points`
wait, or `flush_seconds` after the first of them, and at `finish`. A network error never reaches
the training loop: a batch that could not be sent stays in the buffer and is sent again (the
server keeps each epoch and step once, so a batch resent after a lost answer is not doubled),
with waits doubling up to `MAX_RETRY_DELAY`. While the server is away, points wait in memory, up
to `max_buffer_points`; past that the oldest step points are dropped, and said so on stderr.
`finish` tries for `finish_timeout` seconds to send what is left, then says what it gave up.
"""

from __future__ import annotations

import atexit
import io
import math
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from torchdash_track.transport import Connection, HttpError, multipart

MAX_RETRY_DELAY = 30.0
# Sent even with nothing new, so the server knows the process lives (it ends a run silent for
# TORCHDASH_EXTERNAL_TIMEOUT_SECONDS) and its answer says whether Cancel was pressed.
HEARTBEAT_SECONDS = 10.0


class TrackingError(RuntimeError):
    """The server refused the run itself (a bad token, a bad name): raised by `RemoteRun()`."""


def _warn(message: str) -> None:
    print(f"torchdash_track: {message}", file=sys.stderr, flush=True)


def _number(value: Any) -> float | str | None:
    """A metric value as the server takes it: JSON has no NaN, so a value that is not finite
    goes as the text "NaN", "Infinity" or "-Infinity" (the server stores it as a gap)."""
    if value is None:
        return None
    number = float(value.item() if hasattr(value, "item") else value)  # a 0-d tensor too
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


class RemoteRun:
    """A run on a torchdash server, created now (or attached again: `run_id`, see `attach`),
    fed in batches, ended by `finish`."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        task: str | None = None,
        monitor: str | None = None,
        monitor_mode: str | None = None,
        tags: list[str] | None = None,
        notes: str = "",
        batch_points: int = 5000,
        flush_seconds: float = 1.0,
        max_buffer_points: int = 1_000_000,
        finish_timeout: float = 30.0,
        run_id: int | None = None,
    ) -> None:
        self.server = server
        self.batch_points = batch_points
        self.flush_seconds = flush_seconds
        self.max_buffer_points = max_buffer_points
        self.finish_timeout = finish_timeout
        self._http = Connection(server, token)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._epochs: dict[int, dict[str, Any]] = {}  # the latest row of each epoch
        self._steps: list[dict[str, Any]] = []
        self._notes: list[str] = []
        self._first_pending: float | None = None
        self._last_sent = time.monotonic()
        self._last_epoch = 0
        self._stop_requested = False
        self._finished = False
        self._closing = False
        self._dropped = 0
        self._unreachable = False
        self._send_lock = threading.Lock()  # one report at a time, in order
        fields: dict[str, Any] = {"name": name or "external run", "config": config or {}}
        fields.update(tags=tags or [], notes=notes)
        for key, value in (("task", task), ("monitor", monitor), ("monitor_mode", monitor_mode)):
            if value is not None:
                fields[key] = value
        if run_id is None:
            self.run = self._open("/api/runs/external", fields)
        else:
            self.run = self._open(f"/api/runs/{int(run_id)}/attach", {})
        self.id: int = self.run["id"]
        self._last_epoch = int(self.run.get("epoch") or 0)  # an attached run goes on from it
        self._resume_folder: Path | None = None
        self.url = f"{server.rstrip('/')}/runs/{self.id}"
        self._thread = threading.Thread(target=self._send_loop, name="torchdash-track", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    @classmethod
    def attach(
        cls, server: str, run_id: int, token: str | None = None, **options: Any
    ) -> RemoteRun:
        """Take up run `run_id` again (`options`: the batching ones of `RemoteRun`)."""
        return cls(server, token, run_id=run_id, **options)

    def _open(self, path: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create (or attach) the run, retrying a server that does not answer for a little
        while; a refusal (a bad token, a bad field, a run that has ended) is raised: nothing has
        trained yet."""
        delay = 0.5
        for attempt in range(6):
            try:
                return self._http.post_json(path, fields)  # type: ignore[no-any-return]
            except HttpError as error:
                if error.status < 500:
                    raise TrackingError(f"the server refused the run: {error}") from error
                failure: Exception = error
            except OSError as error:
                failure = error
            if attempt < 5:
                time.sleep(delay)
                delay *= 2
        raise TrackingError(f"cannot reach torchdash at {self.server}: {failure}")

    # ----- what the script calls -------------------------------------------------------------

    def log(self, epoch: int, **metrics: Any) -> None:
        """An epoch's metrics by name (train_loss, val_loss, val_accuracy, ...)."""
        values = {name: _number(value) for name, value in metrics.items()}
        with self._lock:
            self._epochs[int(epoch)] = {"epoch": int(epoch), "metrics": values}
            self._last_epoch = max(self._last_epoch, int(epoch))
            self._pending_added()

    def log_step(self, step: int, loss: Any, **values: Any) -> None:
        """A step's loss (its other values are sent, and not stored by the server)."""
        loss_value = _number(loss)
        row = {"step": int(step), "loss": loss_value, "epoch": self._last_epoch + 1}
        row.update((name, _number(value)) for name, value in values.items())
        with self._lock:
            self._steps.append(row)
            if len(self._steps) > self.max_buffer_points:
                excess = len(self._steps) - self.max_buffer_points
                del self._steps[:excess]
                if not self._dropped:
                    _warn("the server does not answer; dropping the oldest step points")
                self._dropped += excess
            self._pending_added()

    def note(self, text: str) -> None:
        """A line appended to the run's notes."""
        with self._lock:
            self._notes.append(str(text))
            self._pending_added()

    def should_stop(self) -> bool:
        """True once someone pressed Cancel on the run (as of the server's last answer)."""
        return self._stop_requested

    def resume_checkpoint(self) -> str | None:
        """The folder of the checkpoint to start from (for `load_checkpoint`): an attached run's
        newest, downloaded once into a temporary folder; None for a new run or one without.
        Raises TrackingError when it cannot be downloaded (before training, as `init`)."""
        if self._resume_folder is not None:
            return str(self._resume_folder)
        epoch = int(self.run.get("epoch") or 0)
        try:
            listed = self._http.get_json(f"/api/runs/{self.id}/checkpoints") if epoch else []
        except (HttpError, OSError) as error:
            raise TrackingError(f"cannot list the run's checkpoints: {error}") from error
        if not any(row["epoch"] == epoch and row["complete"] for row in listed):
            return None
        folder = Path(tempfile.mkdtemp(prefix=f"torchdash-run{self.id}-epoch{epoch}-"))
        # An uploaded checkpoint may hold the model alone: the rest reads back as empty.
        missing_as: dict[str, dict[str, Any]] = {"optimizer": {}, "state": {"epoch": epoch}}
        for part in ("model", "optimizer", "state"):
            path = f"/api/runs/{self.id}/checkpoints/{epoch}/{part}"
            try:
                data = self._http.raw("GET", path, None, "application/json")
            except HttpError as error:
                if error.status != 404 or part not in missing_as:
                    raise TrackingError(f"cannot download the checkpoint: {error}") from error
                import torch

                data = _saved(torch, missing_as[part])
            except OSError as error:
                raise TrackingError(f"cannot download the checkpoint: {error}") from error
            (folder / f"{part}.pt").write_bytes(data)
        self._resume_folder = folder
        return str(folder)

    def save_checkpoint(
        self, epoch: int, model: Any = None, optimizer: Any = None, **extra: Any
    ) -> dict[str, Any] | None:
        """Upload the model's and optimizer's state_dicts (and `extra`, as the state file) as
        the checkpoint of `epoch`. Its record or None when it could not be sent (said on stderr):
        a failed upload never stops the training."""
        import torch

        parts: dict[str, bytes] = {}
        for part, obj in (("model", model), ("optimizer", optimizer)):
            state = obj.state_dict() if hasattr(obj, "state_dict") else (obj or {})
            parts[part] = _saved(torch, state)
        parts["state"] = _saved(torch, {"epoch": int(epoch), **extra})
        self.flush()  # the epoch's metrics first: the checkpoint's record carries them
        body, content_type = multipart({"epoch": str(int(epoch))}, parts)
        delay = 0.5
        for attempt in range(4):
            try:
                with self._send_lock:
                    answer = self._http.request(
                        "POST", f"/api/runs/{self.id}/checkpoints", body, content_type
                    )
                return answer  # type: ignore[no-any-return]
            except HttpError as error:
                if error.status < 500:
                    _warn(f"checkpoint of epoch {epoch} refused: {error}")
                    return None
                failure: Exception = error
            except OSError as error:
                failure = error
            if attempt < 3:
                time.sleep(delay)
                delay *= 2
        _warn(f"checkpoint of epoch {epoch} not uploaded: {failure}")
        return None

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is buffered now; True when all of it was sent (within `timeout`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.5
        while True:
            if self._send_batch():
                with self._lock:
                    if not (self._epochs or self._steps or self._notes):
                        return True
                continue
            if deadline is not None and time.monotonic() + delay > deadline:
                return False
            if deadline is None:
                return False  # the thread goes on trying
            time.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)

    def finish(self, status: str = "succeeded", error: str | None = None) -> None:
        """Send what is left and end the run (succeeded, failed or cancelled)."""
        if self._finished:
            return
        self._finished = True
        self._closing = True
        self._wake.set()
        self._thread.join(timeout=self.finish_timeout)
        sent = self.flush(timeout=self.finish_timeout)
        if not sent:
            with self._lock:
                left = len(self._steps) + len(self._epochs)
            _warn(f"{left} points could not be sent to {self.server} and are lost")
        if self._dropped:
            _warn(f"{self._dropped} step points were dropped while the server did not answer")
        try:
            self._http.post_json(f"/api/runs/{self.id}/finish", {"status": status, "error": error})
        except (HttpError, OSError) as failure:
            _warn(f"could not end run {self.id} as {status}: {failure}")
        self._http.close()

    def __enter__(self) -> RemoteRun:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: Any, _tb: Any) -> None:
        if kind is None:
            self.finish()
        elif issubclass(kind, KeyboardInterrupt):
            self.finish("cancelled", "interrupted by the user (KeyboardInterrupt)")
        else:
            self.finish("failed", f"{kind.__name__}: {value}")

    def _at_exit(self) -> None:
        """A script that ends without `finish`: its run ends as it ended."""
        if self._finished:
            return
        last = getattr(sys, "last_value", None)
        if last is not None:
            self.finish("failed", f"{type(last).__name__}: {last}")
        else:
            self.finish()

    # ----- the sending thread ----------------------------------------------------------------

    def _pending_added(self) -> None:
        """Called with the lock held, after a point was buffered."""
        if self._first_pending is None:
            self._first_pending = time.monotonic()
        if len(self._steps) + len(self._epochs) >= self.batch_points:
            self._wake.set()

    def _send_loop(self) -> None:
        delay = 0.5
        while not self._closing:
            self._wake.wait(self._wait_seconds())
            self._wake.clear()
            if self._closing:
                return
            with self._lock:
                due = self._first_pending is not None and (
                    len(self._steps) + len(self._epochs) >= self.batch_points
                    or time.monotonic() - self._first_pending >= self.flush_seconds
                )
            if due or time.monotonic() - self._last_sent >= HEARTBEAT_SECONDS:
                if self._send_batch():
                    delay = 0.5
                else:
                    self._wake.wait(delay)  # the server is away: wait longer each time
                    delay = min(delay * 2, MAX_RETRY_DELAY)

    def _wait_seconds(self) -> float:
        with self._lock:
            if self._first_pending is None:
                return HEARTBEAT_SECONDS
            return max(self._first_pending + self.flush_seconds - time.monotonic(), 0.01)

    def _take(self, limit: int) -> dict[str, list[Any]]:
        """Up to `limit` buffered points (epochs first) and the notes, as one report body;
        they stay in the buffer until the server has them (`_sent`)."""
        with self._lock:
            epochs = list(self._epochs.values())[:limit]
            steps = self._steps[: max(limit - len(epochs), 0)]
            return {"epochs": epochs, "steps": steps, "notes": list(self._notes)}

    def _sent(self, report: dict[str, list[Any]]) -> None:
        with self._lock:
            for row in report["epochs"]:
                epoch = row["epoch"]
                if self._epochs.get(epoch) is row:  # not logged again meanwhile
                    del self._epochs[epoch]
            del self._steps[: len(report["steps"])]
            del self._notes[: len(report["notes"])]
            if not (self._epochs or self._steps or self._notes):
                self._first_pending = None

    def _send_batch(self) -> bool:
        """Send one report of what is buffered (halved while the server says it is too big);
        False when the server could not be reached (the points stay buffered)."""
        limit = self.batch_points
        with self._send_lock:
            while True:
                report = self._take(limit)
                try:
                    answer = self._http.post_json(f"/api/runs/{self.id}/report", report)
                except HttpError as error:
                    if error.status == 413 and limit > 1:
                        limit //= 2
                        continue
                    if error.status >= 500:
                        _warn(f"report not taken ({error}); retrying")
                        return False
                    # 409: the run ended (on the page, or silent too long); 401/422: refused.
                    # Sending it again would be refused again: drop it, and say so.
                    _warn(f"report refused, {len(report['steps'])} step points dropped: {error}")
                    self._sent(report)
                    self._last_sent = time.monotonic()
                    if error.status == 409:
                        self._stop_requested = True  # the run is over on the server
                    return True
                except OSError as error:
                    if not self._unreachable:  # said once an outage, not at every retry
                        _warn(f"server unreachable ({error}); points kept, retrying")
                    self._unreachable = True
                    return False
                if self._unreachable:
                    _warn("server reachable again; sending the points kept")
                    self._unreachable = False
                self._sent(report)
                self._last_sent = time.monotonic()
                if isinstance(answer, dict):
                    self._stop_requested = bool(answer.get("stop_requested"))
                return True


def _saved(torch: Any, obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()
