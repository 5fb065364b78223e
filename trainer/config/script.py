"""A script run's config: the user's own training script, its arguments and environment.

Torch-free on purpose: the web server validates it. The path is checked against the scripts
folder by the server (app/runs/scripts.py), which needs the settings; here only its shape.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from trainer.config.base import Frozen
from trainer.config.tasks import Task

# Variables the worker sets for the script (its run, its GPUs, its stop file): an env entry may
# not replace them, or the script would write into another run's folder or onto another GPU.
RESERVED_ENV_PREFIXES = ("TORCHDASH_",)
RESERVED_ENV_NAMES = frozenset(
    {"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "PYTHONUNBUFFERED", "PYTHONPATH"}
)


# A metric a script names improves by falling when its name holds one of these; else by rising.
FALLING_METRIC_WORDS = ("loss", "error", "mae", "mse", "rmse", "perplexity", "wer", "cer")


def script_metric_mode(name: str) -> Literal["min", "max"]:
    """Whether a metric a script reports improves by falling ("min") or rising ("max")."""
    return "min" if any(word in name.lower() for word in FALLING_METRIC_WORDS) else "max"


def _allowed_env(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if name in RESERVED_ENV_NAMES or name.startswith(RESERVED_ENV_PREFIXES):
            raise ValueError(f"'{name}' is set by the worker and cannot be given")
    return env


EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = Annotated[str, StringConstraints(max_length=4096)]
Argument = Annotated[str, StringConstraints(max_length=4096)]


class ScriptConfig(Frozen):
    """Which script a run starts, with what command-line arguments and extra variables."""

    path: str = Field(
        min_length=1,
        max_length=1000,
        pattern=r"\.py$",
        description="A .py file, relative to the scripts folder (TORCHDASH_SCRIPTS_DIR).",
    )
    args: list[Argument] = Field(
        default_factory=list, max_length=256, description="Its command-line arguments."
    )
    env: Annotated[dict[EnvName, EnvValue], AfterValidator(_allowed_env)] = Field(
        default_factory=dict,
        max_length=64,
        description="Extra environment variables (TORCHDASH_* and CUDA_* are the worker's).",
    )


class ScriptRunConfig(Frozen):
    """What a script run stores as its `config`: the script and where it runs.

    `device` and `processes` mean what they mean for a loop run: the dispatcher places both
    kinds alike (one GPU per process, `CUDA_VISIBLE_DEVICES`). `max_epochs` is what the run page
    counts epochs against; the script decides how many it trains (None: unknown).
    """

    name: str = Field("script", min_length=1, max_length=200, description="A label for the run.")
    script: ScriptConfig
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda|cuda:\d+)$",
        description="auto: a GPU when the server has one (the script sees it as cuda:0), else "
        "a CPU slot.",
    )
    processes: int = Field(
        1,
        ge=1,
        le=64,
        description="1: `python script.py args`; more: `torchrun --nproc-per-node N`, one GPU "
        "each on CUDA.",
    )
    max_epochs: int | None = Field(None, ge=1, le=100000)
    task: Task = "classification"
    monitor: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The metric its best epoch is judged by; empty: val_loss (min) when the "
        "script reports it, else the first metric it reports.",
    )
    monitor_mode: Literal["min", "max"] | None = None
