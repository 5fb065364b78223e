"""The web server stays light: importing and building the app never loads torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT
from tests.support.plugins import copy_example_plugins

# Loaded by workers, never by the server: torch and torchvision take seconds to import, pandas a
# third of a second (bench/server_light.py measures the server's start).
WORKER_ONLY = ("torch", "torchvision", "sklearn", "pandas")
# Loaded once a study exists (app/studies/), never at a start without one.
STUDY_ONLY = ("optuna",)
# Loaded by a server on PostgreSQL only.
POSTGRESQL_ONLY = ("sqlalchemy.dialects.postgresql", "psycopg", "psycopg2")


def _serve_once_and_list_modules(home: Path) -> list[str]:
    """Build the app on `home` in a fresh interpreter, serve a few pages; heavy modules loaded."""
    probe = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from app.main import create_app\n"
        "from app.settings import Settings\n"
        f"app = create_app(Settings(home={str(home)!r}), dispatch=False)\n"
        "with TestClient(app, base_url='http://127.0.0.1') as client:\n"
        "    for url in ('/', '/healthz', '/api/schema/run-config', '/api/runs', '/api/devices',\n"
        "                '/api/plugins', '/api/studies'):\n"
        "        assert client.get(url).status_code == 200, url\n"
        f"heavy = {(*WORKER_ONLY, *STUDY_ONLY, *POSTGRESQL_ONLY, 'alembic')!r}\n"
        "print(' '.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def test_server_process_never_imports_torch(tmp_path: Path) -> None:
    # Plugin files import torch: the server lists them by reading them, never importing them.
    copy_example_plugins(tmp_path / "plugins")
    first_start = _serve_once_and_list_modules(tmp_path)
    # It migrates the new database (Alembic loads every dialect's DDL, PostgreSQL's too), and
    # loads nothing else.
    assert first_start == ["alembic", "sqlalchemy.dialects.postgresql"]
    # Every later start finds the database at the newest revision and skips Alembic too: a
    # server on SQLite never loads PostgreSQL's dialect.
    assert _serve_once_and_list_modules(tmp_path) == []


# What a request loads when it first needs it, never the import of the app: the cluster, object
# storage, GPU and search libraries, image and array libraries, an HTTP client (and the click,
# rich and pygments its command line pulls in), the page templates, PostgreSQL's dialect.
LOADED_ON_FIRST_USE = (
    "torch", "ray", "boto3", "botocore", "pandas", "optuna", "pynvml", "numpy", "PIL",
    "sklearn", "httpx", "rich", "alembic", "psycopg", "psycopg2", "jinja2",
    "sqlalchemy.dialects.postgresql",
)  # fmt: skip


def test_importing_the_app_loads_no_driver_storage_cluster_or_gpu_library(tmp_path: Path) -> None:
    # Building the app builds no validator of an API shape or a run config part either: each is
    # built when a request first uses it (or /openapi.json is asked for), then answers as usual.
    probe = (
        "import sys\n"
        "import app.main\n"
        f"print(' '.join(sorted(m for m in {LOADED_ON_FIRST_USE!r} if m in sys.modules)))\n"
        "from fastapi.testclient import TestClient\n"
        "from app.settings import Settings\n"
        "from app.web.shape_base import Shape\n"
        "from trainer.config.base import Frozen\n"
        "def built(base):\n"
        "    found, todo = set(), base.__subclasses__()\n"
        "    while todo:\n"
        "        shape = todo.pop()\n"
        "        todo.extend(shape.__subclasses__())\n"
        "        if shape.__pydantic_complete__:\n"
        "            found.add(shape.__name__)\n"
        "    return ' '.join(sorted(found)) or '-'\n"
        f"application = app.main.create_app(Settings(home={str(tmp_path)!r}), dispatch=False)\n"
        "print(built(Shape), built(Frozen), sep='|')\n"
        "with TestClient(application, base_url='http://127.0.0.1') as client:\n"
        "    assert client.get('/api/runs').json()['runs'] == []\n"
        "    assert client.post('/api/runs', json={'name': 'x'}).json()['status'] == 'queued'\n"
        "print(built(Shape), built(Frozen), sep='|')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    modules, at_start, after_requests = result.stdout.split("\n")[:3]
    assert modules == ""
    assert at_start == "-|-"
    # The shapes those two requests used were built then.
    shapes, config_parts = after_requests.split("|")
    assert "RunsPublic" in shapes.split()
    assert "RunConfig" in config_parts.split()
