"""`Client`: every operation of the REST API as a method with a typed result."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse

from app.client.errors import ApiError as ApiError  # re-exported: raised by every method
from app.client.external_runs import ExternalRunMethods
from app.client.statuses import TERMINAL_STATUSES
from app.web.cost_shapes import RunCostPublic
from app.web.shapes import (
    CheckpointPublic,
    EpochPublic,
    LogChunk,
    MetricsPublic,
    RunPublic,
    RunsPublic,
    StepPublic,
    SweepPublic,
)
from app.web.study_shapes import StudiesPublic, StudyDetail, StudyPublic

# The server pings every 15 s on a quiet stream: a read longer than this means it is gone.
STREAM_READ_TIMEOUT = 60.0


@dataclass
class RunEvent:
    """One event of a run's stream: `kind` is `run` (the run changed), `epoch` (one finished
    epoch) or `steps` (new step losses); `id` is the cursor a reconnect resumes from."""

    kind: str
    id: str
    run: RunPublic | None = None
    epoch: EpochPublic | None = None
    steps: list[StepPublic] = field(default_factory=list)


class Client(ExternalRunMethods):
    """The torchdash API at `url`; `token` when the server has TORCHDASH_TOKEN set. Runs trained
    elsewhere have their methods in app/client/external_runs.py."""

    def __init__(
        self, url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 30.0
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Runs

    def create_run(self, config: dict[str, Any] | None = None) -> RunPublic:
        """Queue a run; `config` fields left out take the schema's defaults."""
        return RunPublic.model_validate(self._json("POST", "/api/runs", json=config or {}))

    def create_sweep(
        self,
        config: dict[str, Any] | None,
        grid: dict[str, list[Any]],
        group_name: str | None = None,
    ) -> SweepPublic:
        """Queue one run per combination of `grid` ({"optimizer.lr": [0.01, 0.001]})."""
        body = {"config": config or {}, "grid": grid, "group_name": group_name}
        return SweepPublic.model_validate(self._json("POST", "/api/sweeps", json=body))

    def runs(
        self,
        status: str | None = None,
        *,
        tag: str | None = None,
        text: str | None = None,
        sort: str | None = None,
        order: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> RunsPublic:
        """A page of runs, filtered and sorted on the server."""
        filters = {"status": status, "tag": tag, "q": text, "sort": sort, "order": order}
        params: dict[str, str | int] = {key: value for key, value in filters.items() if value}
        params.update(limit=limit, offset=offset)
        return RunsPublic.model_validate(self._json("GET", "/api/runs", params=params))

    # Studies

    def create_study(self, body: dict[str, Any]) -> StudyPublic:
        """Start a study (app/web/study_shapes.py::StudyCreate: config, space, objective, ...)."""
        return StudyPublic.model_validate(self._json("POST", "/api/studies", json=body))

    def studies(self) -> StudiesPublic:
        return StudiesPublic.model_validate(self._json("GET", "/api/studies"))

    def study(self, study_id: int) -> StudyDetail:
        return StudyDetail.model_validate(self._json("GET", f"/api/studies/{study_id}"))

    def steer_study(self, study_id: int, action: str, body: dict[str, Any]) -> StudyPublic:
        """`action`: "stop", "resume" or "trials" (POST /api/studies/{id}/<action>)."""
        return StudyPublic.model_validate(
            self._json("POST", f"/api/studies/{study_id}/{action}", json=body)
        )

    def run(self, run_id: int) -> RunPublic:
        return RunPublic.model_validate(self._json("GET", f"/api/runs/{run_id}"))

    def cost(self, run_id: int) -> RunCostPublic:
        """The run's GPU-hours and energy, in all and per GPU (null where not measured)."""
        return RunCostPublic.model_validate(self._json("GET", f"/api/runs/{run_id}/cost"))

    def metrics(self, run_id: int, since_epoch: int = 0, since_step: int = 0) -> MetricsPublic:
        params = {"since_epoch": since_epoch, "since_step": since_step}
        return MetricsPublic.model_validate(
            self._json("GET", f"/api/runs/{run_id}/metrics", params=params)
        )

    def cancel(self, run_id: int) -> RunPublic:
        return RunPublic.model_validate(self._json("POST", f"/api/runs/{run_id}/cancel"))

    def resume(
        self, run_id: int, max_epochs: int | None = None, fallback: bool = False
    ) -> RunPublic:
        body: dict[str, Any] = {"fallback": fallback}
        if max_epochs is not None:
            body["max_epochs"] = max_epochs
        return RunPublic.model_validate(self._json("POST", f"/api/runs/{run_id}/resume", json=body))

    def fork(self, run_id: int, epoch: int, overrides: dict[str, Any] | None = None) -> RunPublic:
        body = {"epoch": epoch, "overrides": overrides or {}}
        return RunPublic.model_validate(self._json("POST", f"/api/runs/{run_id}/fork", json=body))

    def delete(self, run_id: int) -> None:
        self._request("DELETE", f"/api/runs/{run_id}")

    # Live events and waiting

    def events(self, run_id: int, since_epoch: int = 0, since_step: int = 0) -> Iterator[RunEvent]:
        """The run's events as they happen (the first is always `run`); endless: stop when done.

        A dropped connection is resumed from the last event id, without duplicates."""
        last_id: str | None = None
        while True:
            headers = {"Last-Event-ID": last_id} if last_id else {}
            params = {"since_epoch": since_epoch, "since_step": since_step}
            timeout = httpx.Timeout(self.http.timeout.connect, read=STREAM_READ_TIMEOUT)
            try:
                with connect_sse(
                    self.http,
                    "GET",
                    f"/api/runs/{run_id}/events",
                    params=params,
                    headers=headers,
                    timeout=timeout,
                ) as source:
                    if source.response.status_code >= 400:
                        source.response.read()
                        raise _error(source.response)
                    for sse in source.iter_sse():
                        if not sse.data:  # a keep-alive ping
                            continue
                        last_id = sse.id or last_id
                        yield _run_event(sse.event, sse.id, json.loads(sse.data))
            except (httpx.RemoteProtocolError, httpx.ReadError):
                continue  # the server dropped the stream: reconnect where it left off

    def wait(self, run_id: int) -> RunPublic:
        """Block until the run reaches a final status (succeeded, failed, cancelled,
        interrupted) and return it."""
        for event in self.events(run_id):
            if event.run is not None and event.run.status in TERMINAL_STATUSES:
                return event.run
        raise AssertionError("unreachable: the event stream is endless")

    # Logs

    def log(self, run_id: int, offset: int = 0) -> LogChunk:
        """Up to 64 KiB of the worker log from byte `offset`, and the offset to ask for next."""
        return LogChunk.model_validate(
            self._json("GET", f"/api/runs/{run_id}/log", params={"offset": offset})
        )

    def follow_log(self, run_id: int, follow: bool = False, interval: float = 0.5) -> Iterator[str]:
        """The worker log's text, chunk by chunk; with `follow`, until the run has finished and
        everything it wrote was read."""
        for chunk in self.log_chunks(run_id, follow, interval):
            yield chunk.text

    def log_chunks(
        self, run_id: int, follow: bool = False, interval: float = 0.5
    ) -> Iterator[LogChunk]:
        """As `follow_log`, the API's chunks (`text`, and the `offset` after it)."""
        offset = 0
        while True:
            finished = not follow or self.run(run_id).status in TERMINAL_STATUSES
            chunk = self.log(run_id, offset)
            while chunk.text:  # read what is there before deciding to wait
                yield chunk
                offset = chunk.offset
                chunk = self.log(run_id, offset)
            if finished:
                return
            time.sleep(interval)

    # Checkpoints and files

    def checkpoints(self, run_id: int) -> list[CheckpointPublic]:
        rows = self._json("GET", f"/api/runs/{run_id}/checkpoints")
        return [CheckpointPublic.model_validate(row) for row in rows]

    def best_checkpoint(self, run_id: int) -> CheckpointPublic:
        """The run's best checkpoint, by its monitored metric (the server marks it `best`); from
        a server that marks none, the complete one with the best validation accuracy."""
        checkpoints = self.checkpoints(run_id)
        marked = [c for c in checkpoints if c.best]
        if marked:
            return marked[0]
        complete = [c for c in checkpoints if c.complete]
        if not complete:
            raise ApiError(404, f"run {run_id} has no complete checkpoint")
        return max(complete, key=lambda c: (c.val_accuracy or 0.0, -c.epoch))

    def default_checkpoint(self, run_id: int) -> CheckpointPublic:
        """The checkpoint taken when none is named: the one the server marks `default` (the
        run's best, else its newest complete one); from a server that marks none, the newest
        complete one."""
        checkpoints = self.checkpoints(run_id)
        marked = [c for c in checkpoints if c.default]
        if marked:
            return marked[0]
        complete = [c for c in checkpoints if c.complete]
        if not complete:
            raise ApiError(404, f"run {run_id} has no complete checkpoint yet")
        return max(complete, key=lambda c: c.epoch)

    def download_checkpoint(
        self, run_id: int, epoch: int, part: str = "model", out: str | Path = "."
    ) -> Path:
        """Save `torch.save(<part>.state_dict())` of epoch `epoch` (`part`: model or optimizer)
        as `out/run<id>-epoch<k>-<part>.pt` and return the path."""
        return self._download(
            f"/api/runs/{run_id}/checkpoints/{epoch}/{part}",
            Path(out) / f"run{run_id}-epoch{epoch}-{part}.pt",
        )

    def download_bundle(self, run_id: int, out: str | Path = ".") -> Path:
        """Save the run's bundle zip (config, metrics, checkpoints, train.py) into `out`."""
        return self._download(f"/api/runs/{run_id}/bundle", Path(out) / f"run{run_id}-bundle.zip")

    # HTTP

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _download(self, path: str, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with self.http.stream("GET", path) as response:
            if response.status_code >= 400:
                response.read()
                raise _error(response)
            with open(partial, "wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        partial.replace(target)  # a reader never sees half a file
        return target


def _error(response: httpx.Response) -> ApiError:
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text or response.reason_phrase
    return ApiError(response.status_code, detail)


def _run_event(kind: str, event_id: str, data: Any) -> RunEvent:
    if kind == "run":
        return RunEvent(kind, event_id, run=RunPublic.model_validate(data))
    if kind == "epoch":
        return RunEvent(kind, event_id, epoch=EpochPublic.model_validate(data))
    if kind == "steps":
        return RunEvent(kind, event_id, steps=[StepPublic.model_validate(row) for row in data])
    return RunEvent(kind, event_id)
