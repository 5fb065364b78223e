"""What a Ray job's worker is handed: an environment anyone may read, and a file for the secrets.

Ray shows each job's environment (its `runtime_env`) to whoever opens the cluster's dashboard
or calls its Jobs API, so the database URL (with its password) and the storage keys (`AWS_*`)
never go there. The server writes them to a file only its own user can read (mode 0600, in a
folder of mode 0700) at TORCHDASH_RAY_SECRETS_FILE, and the job's environment carries the
file's path alone; the worker reads the file into its own environment before its settings.
The trade-off: the nodes' Ray processes must run as the server's user and see the file at the
same path (a folder every node mounts), as they already see the data and storage folders.
`TORCHDASH_TOKEN` reaches no job at all: a worker never calls the API.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from app.settings import Settings

# The job's variable naming the secrets file, read by the worker (load_job_secrets).
SECRETS_FILE_VARIABLE = "TORCHDASH_SECRETS_FILE"
# How the worker starts a line about a failure before it could write its run's status: the
# server takes such a line from the job's log as the run's error (ray_failures.py).
WORKER_SAYS = "torchdash worker: "
# Server variables no job gets: the API's own (a worker never calls the API).
NOT_FORWARDED = {"TORCHDASH_TOKEN", "TORCHDASH_HOST", "TORCHDASH_PORT"}
# Words that mark a forwarded variable as a secret, beside every AWS_* variable.
_SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")


def is_secret(name: str) -> bool:
    """Whether a variable handed to a job goes through the secrets file."""
    return (
        name == "TORCHDASH_DATABASE_URL"
        or name.startswith("AWS_")
        or any(word in name for word in _SECRET_WORDS)
    )


def job_environment(
    settings: Settings, name: str, project_root: Path, environ: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(the job's environment, the secrets for its file) from the server's settings and its
    TORCHDASH_* and AWS_* variables (`environ`), paths made absolute; the job's environment
    also says how it stops (RAY_JOB_STOP_WAIT_TIME_S) and where its secrets are."""
    forwarded = {
        key: value
        for key, value in environ.items()
        if (key.startswith("TORCHDASH_") or key.startswith("AWS_")) and key not in NOT_FORWARDED
    }
    python_path = os.pathsep.join(
        part for part in (str(project_root), environ.get("PYTHONPATH", "")) if part
    )
    everything = {
        **forwarded,
        "TORCHDASH_HOME": str(settings.home_dir),
        "TORCHDASH_DATABASE_URL": settings.sqlalchemy_url,
        "TORCHDASH_DATA_ROOTS": ",".join(map(str, settings.allowed_data_roots)),
        "TORCHDASH_PLUGINS_DIR": str(settings.plugins_path),
        **({"TORCHDASH_STORAGE": _absolute_storage(settings.storage)} if settings.storage else {}),
        "TORCHDASH_RAY_JOB": name,
        "PYTHONPATH": python_path,
        "PYTHONUNBUFFERED": "1",
        "RAY_JOB_STOP_WAIT_TIME_S": str(settings.ray_stop_grace_seconds),
    }
    secrets = {key: value for key, value in everything.items() if is_secret(key)}
    visible = {key: value for key, value in everything.items() if not is_secret(key)}
    visible[SECRETS_FILE_VARIABLE] = str(settings.ray_secrets_path)
    return visible, secrets


def write_secrets(path: Path, secrets: dict[str, str]) -> None:
    """Write the secrets file atomically, readable and writable by this user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:  # mkstemp makes the file 0600 before a byte is written
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(secrets, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_job_secrets() -> None:
    """In a Ray job's worker: put the secrets file's variables into this process's environment
    (its settings, its DDP ranks and botocore read them there). Exits with a line the server
    reads back as the run's error when the file cannot be read on this node."""
    location = os.environ.get(SECRETS_FILE_VARIABLE)
    if not location:
        return
    try:
        secrets = json.loads(Path(location).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a secrets file"
        print(
            f"{WORKER_SAYS}cannot read the secrets file {location} ({reason}): it must be at "
            "that path on every node, readable by the user Ray runs as "
            "(TORCHDASH_RAY_SECRETS_FILE)",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1) from None
    os.environ.update({str(key): str(value) for key, value in secrets.items()})


def _absolute_storage(storage: str) -> str:
    """TORCHDASH_STORAGE as the job gets it: a bucket as is, a folder made absolute."""
    if storage.startswith("s3://"):
        return storage
    return str(Path(storage).expanduser().resolve())
