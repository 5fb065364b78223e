"""What runs trained elsewhere send and get back: the run's creation, its reports, its end.

A metric value is a JSON number, null, or one of the strings "NaN", "Infinity", "-Infinity":
JSON has no such numbers, and the API refuses a body that writes them bare (app/web/finite_json.py),
so the tracking module sends a diverged value as text. Non-finite values are kept as null in the
epoch's metrics (a gap in the charts), as a loop run's are.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from app.web.deps import SQL_INT_MAX
from app.web.shape_base import Shape
from app.web.shapes import Notes, Tags
from trainer.config.tasks import Mode, Task

Number = Annotated[int, Field(ge=0, le=SQL_INT_MAX)]
MetricName = Annotated[str, Field(min_length=1, max_length=200)]
# Lax mode parses "NaN", "Infinity" and "-Infinity" (any case) as the float they name.
MetricValue = float | None
MAX_ROWS = 100_000  # per report; the body's byte limit (TORCHDASH_MAX_REPORT_BYTES) comes first


class ExternalRunCreate(Shape):
    """`POST /api/runs/external`: a run that a process elsewhere trains and reports."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("external run", min_length=1, max_length=200)
    # The script's own settings, shown and compared as they are (a free JSON object).
    config: dict[str, Any] = Field(default_factory=dict)
    task: Task = "classification"
    monitor: MetricName | None = Field(
        None, description="The metric its best epoch is judged by (default: the task's)."
    )
    monitor_mode: Mode | None = None
    tags: Tags = Field(default_factory=list)
    notes: Notes = ""


class EpochRow(Shape):
    model_config = ConfigDict(extra="forbid")

    epoch: Number
    metrics: dict[MetricName, MetricValue] = Field(default_factory=dict, max_length=1000)


class StepRow(Shape):
    """A step's loss; other values a client sends are accepted and not stored (a step row is
    narrow: step, epoch, loss)."""

    model_config = ConfigDict(extra="allow")

    step: Number
    loss: MetricValue
    epoch: Number | None = Field(None, description="Default: the epoch after the last reported.")


class ReportRequest(Shape):
    """`POST /api/runs/{id}/report`: rows since the last report, each kept once however often
    the report is sent again (an epoch's row is replaced, a stored step is skipped)."""

    model_config = ConfigDict(extra="forbid")

    epochs: list[EpochRow] = Field(default_factory=list, max_length=MAX_ROWS)
    steps: list[StepRow] = Field(default_factory=list, max_length=MAX_ROWS)
    notes: list[Notes] = Field(default_factory=list, max_length=100, description="Appended.")
    config: dict[str, Any] | None = Field(None, description="Merged into the run's config.")


class ReportPublic(Shape):
    """The answer to a report: what was kept, and whether someone pressed Cancel."""

    status: str
    stop_requested: bool
    epoch: int  # the run's last reported epoch
    epochs_written: int
    steps_written: int
    steps_skipped: int  # already stored (a retried report)


class FinishRequest(Shape):
    model_config = ConfigDict(extra="forbid")

    status: Literal["succeeded", "failed", "cancelled"] = "succeeded"
    error: Annotated[str, Field(max_length=10_000)] | None = None
