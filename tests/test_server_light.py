"""The web server stays light: importing and building the app never loads torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_server_process_never_imports_torch(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from app.main import create_app\n"
        "from app.settings import Settings\n"
        f"app = create_app(Settings(home={str(tmp_path)!r}), dispatch=False)\n"
        "with TestClient(app, base_url='http://127.0.0.1') as client:\n"
        "    for url in ('/', '/healthz', '/api/schema/run-config', '/api/runs'):\n"
        "        assert client.get(url).status_code == 200, url\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'sklearn') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
