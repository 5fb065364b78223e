"""All settings in one object, read from `TORCHDASH_*` environment variables (or a .env file)."""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# One entry of TORCHDASH_GPUS: an NVML index, or a GPU (or MIG instance) UUID as NVML prints it.
_GPU_ENTRY = re.compile(r"\d{1,3}|(GPU|MIG)-[0-9A-Za-z-]{8,}")
# TORCHDASH_STORAGE as a bucket: s3://bucket[/prefix], with S3's rules for bucket names.
_S3_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s\\]*)?")


class Settings(BaseSettings):
    """torchdash's settings; each field `x` is read from `TORCHDASH_X`."""

    model_config = SettingsConfigDict(env_prefix="TORCHDASH_", env_file=".env", extra="ignore")

    home: Path = Field(
        Path("var"),
        description="Folder for the database, the runs' folders (each run's worker.log; its "
        "checkpoints and evaluation files too unless TORCHDASH_STORAGE says otherwise), uploads, "
        "plugins and the demo data. A relative path is taken against the current folder.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database: SQLite, or PostgreSQL 13 or newer "
        "('postgresql+psycopg://user:password@host:5432/name'). Unset: SQLite at "
        "<home>/torchdash.db.",
    )
    data_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders that every data path of a run must resolve inside, comma-separated; "
        "a relative data path is taken against the first. Unset: <home>/data.",
    )
    host: str = Field(
        "127.0.0.1",
        description="Address the server binds (HOST= for make run). Any address but loopback "
        "needs TORCHDASH_TOKEN: without one the server refuses to start.",
    )
    port: int = Field(
        8000, ge=1, le=65535, description="Port the server listens on (PORT= for make run)."
    )
    max_concurrent_runs: int = Field(
        1,
        ge=1,
        description="Run slots: CPU runs (device cpu or mps, or auto with no GPU) trained at the "
        "same time. Runs on GPUs take no slot: the GPUs limit them, one run per GPU.",
    )
    warm_workers: int = Field(
        1,
        ge=0,
        le=16,
        description="Worker processes kept waiting with torch imported, so a run starts at once. "
        "Each serves one run, and a fresh one replaces it when a run could start (a free slot "
        "or a free GPU). 0: a fresh interpreter per run. Until it has a run, a warm worker "
        "writes to <home>/warm-workers.log.",
    )
    worker_threads: int = Field(
        0,
        ge=0,
        le=1024,
        description="torch's CPU threads in each worker. 0: torch's own default (every core) "
        "when one run trains at a time, else this machine's cores shared out among "
        "TORCHDASH_MAX_CONCURRENT_RUNS (two runs on two cores each taking both trained 1.7 to "
        "4 times slower than with one core each).",
    )
    dispatch_interval: float = Field(
        0.25,
        gt=0,
        description="Seconds between the dispatcher's looks for queued runs (a new run wakes it "
        "at once).",
    )
    event_poll_interval: float = Field(
        0.1,
        gt=0,
        description="Seconds between looks for new rows of a watched run (one reader per run, "
        "however many clients watch it). On PostgreSQL, TORCHDASH_NOTIFIED_POLL_INTERVAL "
        "replaces it.",
    )
    plugins_dir: Path | None = Field(
        None,
        description="Folder of user model files: an nn.Module subclass in a *.py file directly "
        "inside it can be chosen as model kind 'plugin'. Trusted code: the server only parses "
        "the files, but a worker imports and runs them with its own rights. Unset: "
        "<home>/plugins.",
    )
    scripts_dir: Path | None = Field(
        None,
        description="Folder of training scripts a script run may start (a *.py file inside it, "
        "subfolders included). Trusted code, like the plugins folder: the server only reads the "
        "files, a worker runs them with its own rights. Unset: <home>/scripts.",
    )
    script_stop_grace_seconds: float = Field(
        30.0,
        gt=0,
        description="After Cancel, how long a script run's script has to stop by itself (the "
        "tracking module's should_stop) before its process group gets SIGTERM; as long again "
        "after that, SIGKILL.",
    )
    cache_dir: Path | None = Field(
        None,
        description="Folder of the on-disk cache of decoded data: each data set is decoded once "
        "into it and every later run, trial or resume of the same files maps it instead of "
        "decoding (a data set larger than a run's cache_budget_mb streams from it). Keyed by "
        "the data files' paths, sizes and modification times and the transform steps. "
        "`torchdash cache` lists it, `torchdash cache clear` empties it. Unset: <home>/cache.",
    )
    cache_limit_mb: int = Field(
        20_480,
        ge=0,
        description="Size limit of the on-disk cache of decoded data, in MB; past it the least "
        "recently used entries are removed. 0 turns the on-disk cache off (each run then "
        "decodes its data again).",
    )
    keep_last_checkpoints: int | None = Field(
        None,
        ge=1,
        description="Checkpoints kept per run: the last K, plus the best (by validation "
        "accuracy, or early stopping's best epoch), plus any a fork starts from; the newest is "
        "never deleted. Unset: all of them.",
    )
    max_upload_bytes: int = Field(
        1 << 30,
        ge=1,
        description="Largest checkpoint upload accepted, in bytes (1 GiB by default); a larger "
        "one is refused with 413 before its body is read whole.",
    )
    max_report_bytes: int = Field(
        16 << 20,
        ge=1,
        description="Largest body of one report of a run trained elsewhere "
        "(POST /api/runs/{id}/report), in bytes (16 MiB by default); a larger one is refused "
        "with 413. The tracking module sends smaller batches than this.",
    )
    external_timeout_seconds: float = Field(
        600.0,
        gt=0,
        description="A run trained elsewhere that sends no report for this many seconds is "
        "ended as interrupted (its process is presumed gone); the tracking module reports at "
        "least every 10 seconds while it lives.",
    )
    token: str | None = Field(
        None,
        description="Access token. Required to bind anything but loopback (the server refuses "
        "to start otherwise). When set, every request needs 'Authorization: Bearer <token>' or "
        "the login cookie; only /login, /static and /healthz answer without it.",
    )
    worker_python: str | None = Field(
        None,
        description="Python interpreter that runs the worker processes. Unset: the server's own.",
    )
    # How often a training worker samples its CPU, memory and GPUs.
    system_sample_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="Seconds between two samples of a training run's CPU, memory and GPU use "
        "(the run page's system charts).",
    )

    # PostgreSQL: the connection pool of each process, and the slower fallback poll of the
    # event streams, which LISTEN/NOTIFY wakes as soon as a worker writes.
    db_pool_size: int = Field(
        5,
        ge=1,
        description="PostgreSQL: connections each process (server, worker) keeps open in its pool.",
    )
    db_max_overflow: int = Field(
        10,
        ge=0,
        description="PostgreSQL: connections a process may open beyond the pool size under load.",
    )
    db_pool_timeout: float = Field(
        30,
        gt=0,
        description="PostgreSQL: seconds a request waits for a free pooled connection.",
    )
    notified_poll_interval: float = Field(
        1.5,
        gt=0,
        description="PostgreSQL: seconds between looks for new rows of a watched run when no "
        "notification woke its poller (notifications can be missed across a reconnect); "
        "replaces TORCHDASH_EVENT_POLL_INTERVAL there.",
    )
    notified_dispatch_interval: float = Field(
        2.0,
        gt=0,
        description="PostgreSQL: seconds between the dispatcher's looks when no notification "
        "woke it (a run queued or ended anywhere notifies it); replaces "
        "TORCHDASH_DISPATCH_INTERVAL there, except while a worker whose run ended is exiting.",
    )

    # Preflight (POST /api/preflight, app/runs/preflight.py): a worker checks a config.
    preflight_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Time limit of one POST /api/preflight, its worker's start included; past "
        "it the worker is killed and the answer is a 422 of type preflight_timeout.",
    )
    preflight_batches: int = Field(
        5,
        ge=1,
        le=100,
        description="Training steps a preflight times, after one warm-up step.",
    )

    # GPU placement: which GPUs runs are placed on, and the test seam for placement.
    gpus: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="The GPUs runs are placed on: NVML indexes or UUIDs, comma-separated "
        "('0,2', 'GPU-8a2f...'), or 'none' for no GPU. Unset: every GPU NVML reports. GPUs "
        "listed here that NVML does not report still count, with unknown name and memory: that "
        "is how tests and machines without GPUs exercise the placement. A malformed value stops "
        "the server at start, naming TORCHDASH_GPUS.",
    )
    fake_gpus_train_on_cpu: bool = Field(
        False,
        description="TEST SEAM ONLY, for machines without GPUs: a worker placed on GPUs trains "
        "on the CPU instead, keeping its CUDA_VISIBLE_DEVICES. Never set it on a real box.",
    )

    # The executor: where workers run. `ray` submits one Ray job per run attempt through the
    # Jobs API of the cluster's dashboard.
    executor: Literal["local", "ray"] = Field(
        "local",
        description="Where runs train: 'local' (worker processes on this machine) or 'ray' "
        "(one Ray job per run attempt on the cluster at TORCHDASH_RAY_ADDRESS).",
    )
    ray_address: str | None = Field(
        None,
        description="Ray executor: the cluster dashboard's address, e.g. http://head:8265 (the "
        "Jobs API); required with TORCHDASH_EXECUTOR=ray, and a malformed value stops the "
        "server at start, naming it. Keep it on a private network: it runs any command for "
        "whoever reaches it.",
    )
    ray_stop_grace_seconds: int = Field(
        120,
        ge=1,
        le=3600,
        description="Ray executor: seconds between Ray's SIGTERM and its SIGKILL when a run's "
        "job is stopped through Ray (given to each job as RAY_JOB_STOP_WAIT_TIME_S; Ray's own "
        "3 s is too short for a checkpoint).",
    )
    ray_cancel_answer_seconds: float = Field(
        60,
        gt=0,
        description="Ray executor: seconds a cancelled run's worker has to stop by itself (the "
        "database flag) before its job is stopped through Ray.",
    )
    ray_poll_interval: float = Field(
        1.0,
        gt=0,
        description="Ray executor: seconds between the server's looks at its Ray jobs and the "
        "cluster's resources (and between two reads of a Ray run's log stream).",
    )

    ray_python: str | None = Field(
        None,
        description="Ray executor: the Python interpreter each job runs the worker with, on its "
        "node (the job's command is `<this> -m app.worker RUN_ID`). Unset: the server's own "
        "interpreter, by its absolute path: every node has torchdash and its .venv at the same "
        "path as here (docs/cluster.md), so this works whatever PATH `ray start` had on a node; "
        "a plain `python` would be whichever interpreter comes first on that PATH. Set it where "
        "the nodes' environment lives elsewhere (e.g. /opt/conda/envs/torchdash/bin/python). A "
        "job whose interpreter is missing or lacks a module fails its run with that reason.",
    )
    ray_secrets_file: Path | None = Field(
        None,
        description="Ray executor: the file through which each job's worker gets the secrets "
        "(the database URL with its password, the AWS_* storage keys), instead of the job's "
        "environment, which Ray's dashboard shows to anyone who opens it. The server writes it "
        "(readable by its own user only) and the job gets its path. Unset: "
        "<home>/secrets/ray-jobs.json, right for nodes on this machine; for nodes on other "
        "machines, a path on a folder every node mounts, where the Ray nodes run as the "
        "server's user.",
    )

    @field_validator("ray_address")
    @classmethod
    def _check_ray_address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(:\d+)?/?", value):
            raise ValueError(
                f"TORCHDASH_RAY_ADDRESS={value!r}: expected the dashboard's http(s)://host:port "
                "(e.g. http://head:8265)"
            )
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _ray_needs_address(self) -> Settings:
        if self.executor == "ray" and not self.ray_address:
            raise ValueError(
                "TORCHDASH_EXECUTOR=ray needs TORCHDASH_RAY_ADDRESS (the cluster dashboard's "
                "http://head:8265)"
            )
        return self

    # Shared storage: where checkpoints, evaluation files and uploads live, so workers on other
    # nodes write where the server reads. Logs stay in <home>.
    storage: str | None = Field(
        None,
        description="Where runs' checkpoints, evaluation files and uploads live: a folder (for "
        "several nodes, one every node mounts at the same path) or an S3-compatible bucket "
        "'s3://bucket/prefix'. Unset: <home>/runs (uploads: <home>/uploads). A malformed value "
        "stops the server at start, naming TORCHDASH_STORAGE; an unreachable bucket too, in "
        "one line.",
    )
    storage_endpoint: str | None = Field(
        None,
        description="S3 storage: the endpoint URL of an S3-compatible server "
        "('http://127.0.0.1:8333' for SeaweedFS, 'http://host:9000' for MinIO). Unset: AWS. "
        "Credentials come from botocore's usual chain: AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials, an instance role.",
    )

    @field_validator("storage", mode="before")
    @classmethod
    def _check_storage(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return None  # `TORCHDASH_STORAGE=` says no more than leaving it unset
        if "://" not in text:
            if "\x00" in text:
                raise ValueError(
                    f"TORCHDASH_STORAGE={value!r}: a folder path must not contain a NUL byte"
                )
            return text
        if _S3_URL.fullmatch(text) is None or ".." in text.split("/"):
            raise ValueError(
                f"TORCHDASH_STORAGE={value!r}: expected a folder path or 's3://bucket/prefix' "
                "(a bucket name of 3-63 lower-case letters, digits, dots and dashes)"
            )
        return text.rstrip("/")

    @field_validator("storage_endpoint", mode="before")
    @classmethod
    def _check_endpoint(cls, value: object) -> object:
        if isinstance(value, str) and value.strip():
            if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value.strip()):
                raise ValueError(
                    f"TORCHDASH_STORAGE_ENDPOINT={value!r}: expected an http(s) URL "
                    "such as 'http://127.0.0.1:8333'"
                )
            return value.strip()
        return None if isinstance(value, str) else value

    @field_validator("gpus", mode="before")
    @classmethod
    def _parse_gpus(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None  # `TORCHDASH_GPUS=` says no more than leaving it unset
        if value.strip().lower() == "none":
            return []
        entries = [part.strip() for part in value.split(",")]
        bad = [entry for entry in entries if not _GPU_ENTRY.fullmatch(entry)]
        if bad or len(set(entries)) != len(entries):
            raise ValueError(
                f"TORCHDASH_GPUS={value!r}: expected 'none' or distinct GPU indexes or UUIDs, "
                "comma-separated (e.g. '0,2' or 'GPU-8a2f0c1e-...')"
                + (f"; not a GPU: {', '.join(map(repr, bad))}" if bad else "")
            )
        return entries

    @field_validator("data_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(",") if part.strip()]
        return value

    def torch_threads(self) -> int | None:
        """The CPU threads a worker gives torch; None leaves torch's default (all cores).

        Runs that train side by side would each take every core, and on a 2-core machine two
        such runs trained 1.7 to 4 times slower than with a core each.
        """
        if self.worker_threads:
            return self.worker_threads
        if self.max_concurrent_runs == 1:
            return None
        return max(1, len(os.sched_getaffinity(0)) // self.max_concurrent_runs)

    @cached_property
    def home_dir(self) -> Path:
        return self.home.resolve()

    @cached_property
    def runs_dir(self) -> Path:
        return self.home_dir / "runs"

    @cached_property
    def allowed_data_roots(self) -> list[Path]:
        roots = self.data_roots or [self.home_dir / "data"]
        return [root.resolve() for root in roots]

    @cached_property
    def plugins_path(self) -> Path:
        return (self.plugins_dir or self.home_dir / "plugins").resolve()

    @cached_property
    def cache_path(self) -> Path:
        return (self.cache_dir or self.home_dir / "cache").resolve()

    @cached_property
    def ray_secrets_path(self) -> Path:
        return (self.ray_secrets_file or self.home_dir / "secrets" / "ray-jobs.json").resolve()

    @cached_property
    def scripts_path(self) -> Path:
        return (self.scripts_dir or self.home_dir / "scripts").resolve()

    @cached_property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'torchdash.db'}"

    @property
    def uses_postgresql(self) -> bool:
        return self.sqlalchemy_url.startswith("postgresql")

    def pool_options(self) -> dict[str, Any]:
        """The keyword arguments of `app.storage.engine.make_engine` for this process's pool."""
        return {
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_max_overflow,
            "pool_timeout": self.db_pool_timeout,
        }

    def run_dir(self, run_id: int) -> Path:
        """The run's folder in <home>/runs: its worker.log (and its files, by default)."""
        return self.runs_dir / str(run_id)

    def checkpoint_dir(self, run_id: int) -> Path:
        """A run's checkpoints in the default storage (TORCHDASH_STORAGE unset); the code reads
        and writes run files through `app.files.RunFiles`, whatever the storage."""
        return self.run_dir(run_id) / "checkpoints"

    def worker_log(self, run_id: int) -> Path:
        return self.run_dir(run_id) / "worker.log"

    @cached_property
    def preflight_dir(self) -> Path:
        """Where preflight jobs and their answers live while a worker checks a config."""
        return self.home_dir / "preflight"

    @cached_property
    def warm_worker_log(self) -> Path:
        """Where warm workers write until they are handed a run (then: that run's worker.log)."""
        return self.home_dir / "warm-workers.log"

    @cached_property
    def uploads_dir(self) -> Path:
        return self.home_dir / "uploads"
