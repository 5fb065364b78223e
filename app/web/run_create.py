"""`POST /api/runs` and `POST /api/preflight`: a run config plus what belongs to the run.

Apart from app/web/shapes.py because it extends the trainer's RunConfig: importing that takes
longer than the rest of the shapes together, and the client and the CLI need only those.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, ValidationError

from app.errors import ConfigError
from app.web.shapes import Notes, Tags
from trainer.config import RunConfig
from trainer.config.script import ScriptRunConfig


class RunCreate(RunConfig):
    """`POST /api/runs`: a run config, plus what belongs to the run rather than to its config."""

    tags: Tags = Field(default_factory=list, description="Short labels for the run.")
    notes: Notes = ""
    estimated_epoch_seconds: float | None = Field(
        None, gt=0, description="The preflight's epoch_seconds_estimate: the ETA until epochs end."
    )

    RUN_FIELDS: ClassVar[frozenset[str]] = frozenset({"tags", "notes", "estimated_epoch_seconds"})

    def run_config(self) -> RunConfig:
        """The config alone, as it is stored with the run."""
        return RunConfig.model_validate(self.model_dump(exclude=set(self.RUN_FIELDS)))


class ScriptRunCreate(ScriptRunConfig):
    """`POST /api/runs` with a `script` key: a script run, plus what belongs to the run."""

    tags: Tags = Field(default_factory=list, description="Short labels for the run.")
    notes: Notes = ""

    RUN_FIELDS: ClassVar[frozenset[str]] = frozenset({"tags", "notes"})

    def run_config(self) -> ScriptRunConfig:
        """The script run's config alone, as it is stored with the run."""
        return ScriptRunConfig.model_validate(self.model_dump(exclude=set(self.RUN_FIELDS)))


def parse_run_create(body: Any) -> RunCreate | ScriptRunCreate:
    """The body of `POST /api/runs`: a script run when it has a `script` key, else a loop run's
    config; ConfigError (422) names the bad fields under `body` as FastAPI would."""
    model: type[RunCreate] | type[ScriptRunCreate] = (
        ScriptRunCreate if isinstance(body, dict) and "script" in body else RunCreate
    )
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise ConfigError(error, prefix=("body",)) from error
