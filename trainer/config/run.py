"""The run config: one frozen, typed schema, the single source of truth for a run.

The API validates it, the form is built from its JSON Schema, it is stored with the run and saved
inside every checkpoint. This package must not import torch: the web server imports it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from trainer.config.base import FORM_SECTIONS, Frozen, ui
from trainer.config.data import (
    IMAGE_DATA_KINDS,
    SEQUENCE_DATA_KINDS,
    DataConfig,
    DigitsData,
    TableData,
    TextData,
    known_class_count,
    table_problems,
)
from trainer.config.early_stopping import EarlyStoppingConfig
from trainer.config.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    LossConfig,
    MultiMarginLoss,
    NLLLoss,
)
from trainer.config.model import (
    SEQUENCE_MODEL_KINDS,
    MLPModel,
    ModelConfig,
    PluginModel,
    SparseEmbeddingModel,
)
from trainer.config.optimizers import (
    MOMENTUM_OPTIMIZERS,
    NO_WEIGHT_DECAY,
    SPARSE_GRADIENT_OPTIMIZERS,
    AdamOptimizer,
    OptimizerConfig,
    ParamGroup,
)
from trainer.config.plugins import PluginMetric
from trainer.config.schedulers import (
    OneCycleLRScheduler,
    ReduceLROnPlateauScheduler,
    SchedulerConfig,
)
from trainer.config.tasks import TASK_LOSSES, Task, metric_names


class RunConfig(Frozen):
    """Everything needed to train one run, and nothing about where it is stored."""

    # The form's layout rides in the JSON Schema; each field names its section with `ui(...)`.
    model_config = ConfigDict(json_schema_extra={"ui": {"sections": FORM_SECTIONS}})

    name: str = Field(
        "run",
        min_length=1,
        max_length=200,
        description="A label for the run.",
        json_schema_extra=ui("run"),
    )
    task: Task = Field(
        "classification",
        description="classification: one class index per sample; multilabel: several 0/1 "
        "targets per sample; regression: one or more real-valued targets per sample.",
        json_schema_extra=ui("run"),
    )
    data: DataConfig = Field(default_factory=DigitsData, json_schema_extra=ui("data"))
    model: ModelConfig = Field(default_factory=MLPModel, json_schema_extra=ui("model"))
    loss: LossConfig = Field(default_factory=CrossEntropyLoss, json_schema_extra=ui("loss"))
    optimizer: OptimizerConfig = Field(
        default_factory=AdamOptimizer, json_schema_extra=ui("optimizer")
    )
    param_groups: list[ParamGroup] = Field(
        default_factory=list,
        max_length=32,
        description="Parameters whose names match a glob get their own optimizer settings.",
        json_schema_extra=ui("param_groups", item="group"),
    )
    scheduler: SchedulerConfig | None = Field(
        None, description="Learning-rate schedule.", json_schema_extra=ui("scheduler")
    )
    batch_size: int = Field(16, ge=1, le=65536, json_schema_extra=ui("training"))
    shuffle: bool = Field(True, description="Shuffle the training set every epoch.")
    drop_last: bool = Field(False, description="Drop the last, incomplete training batch.")
    num_workers: int = Field(0, ge=0, le=64, description="DataLoader worker processes.")
    pin_memory: bool | None = Field(None, description="Empty: on when training on CUDA.")
    max_epochs: int = Field(10, ge=1, le=100000, json_schema_extra=ui("training"))
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda|cuda:\d+|mps)$",
        description="auto picks CUDA when present, else the CPU.",
        json_schema_extra=ui("training", widget="device"),
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seeds weights, shuffling and dropout.")
    report_every_steps: int = Field(
        10, ge=1, le=100000, description="Read the loss back from the device every N steps."
    )
    cache_budget_mb: int = Field(
        2048,
        ge=0,
        le=1_048_576,
        description="Decode the data set once into memory when it fits this many MB "
        "(deterministic transforms only); 0: always read items through the DataLoader.",
    )
    amp: bool = Field(
        False, description="Automatic mixed precision (float16 autocast + GradScaler), CUDA only."
    )
    channels_last: bool = Field(
        False, description="Channels-last memory format for 4-D inputs and the model (CNNs, GPUs)."
    )
    compile: bool = Field(
        False, description="torch.compile the model (slow first steps, faster ones after)."
    )
    processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Train with DistributedDataParallel over this many processes: one GPU each "
        "on CUDA (NCCL), CPU processes otherwise (gloo). 1: a single process.",
        json_schema_extra=ui("training"),
    )
    metrics: list[PluginMetric] = Field(
        default_factory=list,
        max_length=16,
        description="Your own metrics (plugins), computed on the validation split every epoch "
        "beside the task's own.",
        json_schema_extra=ui("metrics", item="metric"),
    )
    monitor: str | None = Field(
        None,
        max_length=200,
        description="The metric that picks the best epoch (and that early stopping and the "
        "plateau scheduler watch unless they name another); empty: val_accuracy for "
        "classification, val_loss otherwise.",
        json_schema_extra=ui("metrics"),
    )
    monitor_mode: Literal["min", "max"] | None = Field(
        None,
        description="Whether the monitored metric should fall or rise; empty: its own direction "
        "(a loss falls, an accuracy rises; a plugin metric: its mode).",
        json_schema_extra=ui("metrics"),
    )
    early_stopping: EarlyStoppingConfig | None = Field(
        None,
        description="Empty: train every epoch. Else stop (succeeded) when the monitored "
        "validation metric has not improved for `patience` epochs.",
        json_schema_extra=ui("training"),
    )


def run_config_schema() -> dict:
    """The JSON Schema the form is built from."""
    return RunConfig.model_json_schema()


Problem = tuple[tuple[str | int, ...], str]


def compatibility_problems(config: RunConfig) -> list[Problem]:
    """Choices that are valid one by one but cannot work together: (config location, why).

    The API turns them into a 422 naming the field; `fit` refuses them too.
    """
    problems: list[Problem] = []
    model, opt = config.model, config.optimizer
    sparse_model = isinstance(model, SparseEmbeddingModel) and model.sparse
    if opt.kind == "sparse_adam" and not (sparse_model or isinstance(model, PluginModel)):
        problems.append(
            (
                ("optimizer", "kind"),
                "SparseAdam needs sparse gradients, and this model has none: choose model kind "
                "'sparse_embedding' with sparse on, or another optimizer",
            )
        )
    if sparse_model and opt.kind not in SPARSE_GRADIENT_OPTIMIZERS:
        problems.append(
            (
                ("optimizer", "kind"),
                f"{opt.kind} does not accept the sparse gradients of model 'sparse_embedding': "
                f"choose one of {sorted(SPARSE_GRADIENT_OPTIMIZERS)} or turn model.sparse off",
            )
        )
    if sparse_model and opt.kind in {"sgd", "adagrad"} and opt.weight_decay > 0:  # type: ignore[union-attr]
        problems.append(
            (("optimizer", "weight_decay"), "weight_decay does not work with sparse gradients")
        )
    if opt.kind == "lbfgs" and config.param_groups:
        problems.append((("param_groups",), "LBFGS supports a single parameter group only"))
    for index, group in enumerate(config.param_groups):
        if group.weight_decay is not None and opt.kind in NO_WEIGHT_DECAY:
            problems.append(
                (("param_groups", index, "weight_decay"), f"{opt.kind} has no weight_decay")
            )
    scheduler = config.scheduler
    if (
        isinstance(scheduler, OneCycleLRScheduler)
        and scheduler.cycle_momentum
        and opt.kind not in MOMENTUM_OPTIMIZERS
    ):
        problems.append(
            (
                ("scheduler", "cycle_momentum"),
                f"{opt.kind} has neither momentum nor betas to cycle: turn cycle_momentum off",
            )
        )
    problems += _task_problems(config)
    problems += _sequence_problems(config)
    problems += _loss_problems(config)
    problems += _accelerator_problems(config)
    return problems


def _task_problems(config: RunConfig) -> list[Problem]:
    """The loss, the data and every monitored metric must serve the run's task."""
    task = config.task
    problems: list[Problem] = []
    if config.loss.kind not in TASK_LOSSES[task]:
        problems.append(
            (
                ("loss", "kind"),
                f"loss '{config.loss.kind}' does not serve task '{task}': choose one of "
                f"{sorted(TASK_LOSSES[task])}",
            )
        )
    if task != "classification" and config.data.kind in IMAGE_DATA_KINDS:
        problems.append(
            (
                ("task",),
                f"data kind '{config.data.kind}' is labelled images, for classification only: "
                f"a {task} task needs a Dataset plugin (data kind 'plugin')",
            )
        )
    if isinstance(config.data, TableData):
        problems += table_problems(config.data, task)
    names = metric_names(config)
    seen: set[str] = set()
    for index, metric in enumerate(config.metrics):
        if metric.name in seen:
            problems.append((("metrics", index, "name"), f"metric '{metric.name}' is listed twice"))
        seen.add(metric.name)
    watchers: list[tuple[tuple[str | int, ...], str | None]] = [
        (("monitor",), config.monitor),
        (
            ("early_stopping", "monitor"),
            config.early_stopping.monitor if config.early_stopping else None,
        ),
    ]
    if isinstance(config.scheduler, ReduceLROnPlateauScheduler):
        watchers.append((("scheduler", "monitor"), config.scheduler.monitor))
    for loc, name in watchers:
        if name is not None and name not in names:
            problems.append((loc, f"'{name}' is not a metric of this run: choose one of {names}"))
    return problems


def _sequence_problems(config: RunConfig) -> list[Problem]:
    """Token sequences need a sequence model, and a sequence model needs token sequences."""
    data, model = config.data, config.model
    problems: list[Problem] = []
    if data.kind in SEQUENCE_DATA_KINDS and model.kind not in SEQUENCE_MODEL_KINDS:
        problems.append(
            (
                ("model", "kind"),
                f"data kind '{data.kind}' gives token sequences, which model '{model.kind}' "
                f"cannot read: choose one of {sorted(SEQUENCE_MODEL_KINDS)}",
            )
        )
    if model.kind in SEQUENCE_MODEL_KINDS and data.kind not in SEQUENCE_DATA_KINDS:
        problems.append(
            (
                ("model", "kind"),
                f"model '{model.kind}' reads token sequences, and data kind '{data.kind}' gives "
                f"none: choose data kind {sorted(SEQUENCE_DATA_KINDS)[0]!r} or another model",
            )
        )
    if isinstance(data, TextData) and config.task == "classification":
        if len(data.label_columns) != 1:
            problems.append(
                (
                    ("data", "label_column"),
                    "a classification task reads one column of labels: name one column (several "
                    "0/1 columns are a multilabel task)",
                )
            )
    return problems


def _accelerator_problems(config: RunConfig) -> list[Problem]:
    problems: list[Problem] = []
    if config.amp and config.device in {"cpu", "mps"}:
        problems.append(
            (
                ("amp",),
                f"automatic mixed precision runs on CUDA only, and device is '{config.device}': "
                "turn amp off or choose a CUDA device",
            )
        )
    if config.processes > 1 and config.optimizer.kind == "lbfgs":
        problems.append(
            (
                ("processes",),
                "LBFGS's line search evaluates each rank's batch a different number of times, "
                "which DistributedDataParallel cannot synchronise: use processes 1",
            )
        )
    if config.processes > 1 and config.device == "mps":
        problems.append((("processes",), "DistributedDataParallel does not train on MPS"))
    if config.amp and config.optimizer.kind == "lbfgs":
        problems.append(
            (("amp",), "LBFGS re-evaluates its closure, which AMP's gradient scaler cannot scale")
        )
    return problems


def _loss_problems(config: RunConfig) -> list[Problem]:
    loss = config.loss
    classes = known_class_count(config.data)
    problems: list[Problem] = []
    if isinstance(loss, BCELoss | BCEWithLogitsLoss) and loss.targets == "binary":
        if classes is not None and classes != 2:
            problems.append(
                (
                    ("loss", "targets"),
                    f"binary targets need a data set of 2 classes; {config.data.kind} has "
                    f"{classes}: use one_hot",
                )
            )
    weights = (
        getattr(loss, "weight", None)
        if isinstance(loss, CrossEntropyLoss | NLLLoss | MultiMarginLoss)
        else None
    )
    if weights is not None and classes is not None and len(weights) != classes:
        problems.append(
            (("loss", "weight"), f"{len(weights)} class weights given for {classes} classes")
        )
    pos_weight = loss.pos_weight if isinstance(loss, BCEWithLogitsLoss) else None
    outputs = 1 if getattr(loss, "targets", None) == "binary" else classes
    if pos_weight is not None and outputs is not None and len(pos_weight) != outputs:
        problems.append(
            (("loss", "pos_weight"), f"{len(pos_weight)} values given for {outputs} outputs")
        )
    return problems
