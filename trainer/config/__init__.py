"""The run config package: `RunConfig`, its JSON Schema, and every part's kinds.

Torch-free on purpose: the web server imports it.
"""

from trainer.config.base import DataDir, DataFile, Frozen, Identifier, PathKind
from trainer.config.data import (
    CsvImagesData,
    DataConfig,
    DigitsData,
    ImageFolderData,
    TableData,
    TorchvisionData,
    known_class_count,
)
from trainer.config.early_stopping import EarlyStoppingConfig
from trainer.config.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    LossConfig,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SmoothL1Loss,
)
from trainer.config.model import (
    CNNModel,
    CustomLayersModel,
    MLPModel,
    ModelConfig,
    PluginModel,
    SparseEmbeddingModel,
    TorchvisionModel,
)
from trainer.config.optimizers import (
    AdadeltaOptimizer,
    AdagradOptimizer,
    AdamaxOptimizer,
    AdamOptimizer,
    AdamWOptimizer,
    ASGDOptimizer,
    LBFGSOptimizer,
    NAdamOptimizer,
    OptimizerConfig,
    ParamGroup,
    RAdamOptimizer,
    RMSpropOptimizer,
    RpropOptimizer,
    SGDOptimizer,
    SparseAdamOptimizer,
)
from trainer.config.plugins import PluginData, PluginLoss, PluginMetric
from trainer.config.run import Problem, RunConfig, compatibility_problems, run_config_schema
from trainer.config.schedulers import (
    CosineAnnealingLRScheduler,
    ExponentialLRScheduler,
    LinearWarmupScheduler,
    MultiStepLRScheduler,
    OneCycleLRScheduler,
    ReduceLROnPlateauScheduler,
    SchedulerConfig,
    StepLRScheduler,
)
from trainer.config.tasks import (
    TASKS,
    Task,
    builtin_metric_names,
    metric_mode,
    metric_names,
    monitor_of,
)
from trainer.config.transforms import (
    CenterCropStep,
    GrayscaleStep,
    HorizontalFlipStep,
    ImageTransforms,
    NormalizeStep,
    RandomCropStep,
    ResizeStep,
    RotationStep,
    TransformStep,
)

__all__ = [
    "ASGDOptimizer", "AdadeltaOptimizer", "AdagradOptimizer", "AdamOptimizer", "AdamWOptimizer",
    "AdamaxOptimizer", "BCELoss", "BCEWithLogitsLoss", "CNNModel", "CenterCropStep",
    "CosineAnnealingLRScheduler", "CrossEntropyLoss", "CsvImagesData", "CustomLayersModel",
    "DataConfig", "DataDir", "DataFile", "DigitsData", "EarlyStoppingConfig",
    "ExponentialLRScheduler", "Frozen", "Identifier", "PluginData", "PluginLoss", "PluginMetric",
    "TASKS", "Task", "builtin_metric_names", "metric_mode", "metric_names", "monitor_of",
    "GrayscaleStep", "HorizontalFlipStep", "HuberLoss", "ImageFolderData", "ImageTransforms",
    "KLDivLoss", "L1Loss", "LBFGSOptimizer", "LinearWarmupScheduler", "LossConfig", "MLPModel",
    "MSELoss", "ModelConfig", "MultiMarginLoss", "MultiStepLRScheduler", "NAdamOptimizer",
    "NLLLoss", "NormalizeStep", "OneCycleLRScheduler", "OptimizerConfig", "ParamGroup",
    "PathKind", "PluginModel", "Problem", "RAdamOptimizer", "RMSpropOptimizer", "RandomCropStep",
    "ReduceLROnPlateauScheduler", "ResizeStep", "RotationStep", "RpropOptimizer", "RunConfig",
    "SGDOptimizer", "SchedulerConfig", "SmoothL1Loss", "SparseAdamOptimizer",
    "SparseEmbeddingModel", "StepLRScheduler", "TableData", "TorchvisionData", "TorchvisionModel",
    "TransformStep", "compatibility_problems", "known_class_count", "run_config_schema",
]  # fmt: skip
