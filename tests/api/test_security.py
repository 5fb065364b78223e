"""Nobody in: the token, the Origin check, the bind refusal, uploads, and no shell anywhere.

A real worker given a shell payload, and a real server's upload limit, are in
tests/system/test_security_processes.py."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from app.main import create_app
from app.settings import Settings
from app.storage.tables import RunStatus
from tests.support.paths import ROOT
from tests.support.runs import TINY_CONFIG

TOKEN = "s3cret-token"


@pytest.fixture
def guarded(settings: Settings) -> Iterator[TestClient]:
    """The API with a token set."""
    with_token = Settings(home=settings.home, data_roots=settings.data_roots, token=TOKEN)
    with TestClient(
        create_app(with_token, dispatch=False), base_url="http://127.0.0.1"
    ) as test_client:
        yield test_client


def _all_routes(routes: list) -> Iterator[Route]:
    """Every route, also those inside included routers (nested in recent FastAPI versions)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _all_routes(route.original_router.routes)
        elif isinstance(route, Route):
            yield route


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_with_a_token_every_route_and_page_refuses_a_request_without_it(
    guarded: TestClient, settings: Settings
) -> None:
    app = create_app(settings, dispatch=False)
    routes = list(_all_routes(app.routes))
    assert len(routes) > 10
    for route in routes:
        if route.path.startswith(("/login", "/healthz")):
            continue
        for method in route.methods:
            response = guarded.request(method, _concrete(route.path), follow_redirects=False)
            if method == "GET" and not route.path.startswith("/api/"):
                assert response.status_code == 303, route.path  # a page: to the login form
                assert response.headers["location"] == "/login"
            else:
                assert response.status_code == 401, (method, route.path)
    for path in ("/openapi.json", "/docs"):
        assert guarded.get(path, follow_redirects=False).status_code in (303, 401)
    wrong = guarded.get("/api/runs", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = guarded.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200


def test_the_login_form_sets_an_http_only_cookie_that_opens_the_pages(
    guarded: TestClient,
) -> None:
    assert guarded.get("/login").status_code == 200
    bad = guarded.post("/login", data={"token": "guess"}, follow_redirects=False)
    assert bad.status_code == 401 and "torchdash_token" not in bad.cookies
    good = guarded.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert good.status_code == 303
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert guarded.get("/", follow_redirects=False).status_code == 200  # the cookie is kept
    assert guarded.post("/api/runs", json=TINY_CONFIG).status_code == 201


def test_cross_site_writes_are_refused_with_or_without_a_token(
    client: TestClient, guarded: TestClient
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for api, extra in ((client, {}), (guarded, bearer)):
        for headers in (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
        ):
            response = api.post("/api/runs", json=TINY_CONFIG, headers={**headers, **extra})
            assert response.status_code == 403, headers
        same = api.post(
            "/api/runs", json=TINY_CONFIG, headers={"Origin": "http://127.0.0.1", **extra}
        )
        assert same.status_code == 201
    assert client.get("/api/runs").json()["count"] == 2  # one per client, none cross-site


def test_without_a_token_only_loopback_host_names_are_served(client: TestClient) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, and its page sends its own name as
    Host and Origin, so the Origin check alone would let its writes through."""
    rebinding = {"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}
    assert client.post("/api/runs", json=TINY_CONFIG, headers=rebinding).status_code == 403
    assert client.get("/api/runs", headers={"Host": "evil.example:8000"}).status_code == 403
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "127.0.0.2"):
        assert client.get("/api/runs", headers={"Host": host}).status_code == 200, host
    assert client.get("/api/runs").json()["count"] == 0


def test_the_server_refuses_to_bind_beyond_loopback_without_a_token(settings: Settings) -> None:
    env = {**os.environ, "TORCHDASH_HOME": str(settings.home_dir), "TORCHDASH_HOST": "0.0.0.0"}
    env.pop("TORCHDASH_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "binding beyond loopback needs TORCHDASH_TOKEN" in result.stderr
    assert Settings().host == "127.0.0.1" or "TORCHDASH_HOST" in os.environ


SHELL_CALLS = re.compile(
    r"shell\s*=\s*True|os\.system\(|os\.popen\(|subprocess\.getoutput|subprocess\.getstatusoutput"
    r"|(?<![\w.])eval\(|(?<![\w.])exec\("
)


def test_no_code_runs_a_shell_or_evaluates_strings() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("app", "trainer")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SHELL_CALLS.search(line)
    ]
    assert offenders == []


class RunsACommand:
    """A pickle payload: unpickling it calls os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_an_uploaded_pickle_that_would_run_a_command_is_refused_and_runs_nothing(
    client: TestClient, execute, tmp_path: Path
) -> None:
    payload = pickle.dumps(RunsACommand(tmp_path / "pwned"), protocol=2)  # torch.save's own
    # The payload is real: plain unpickling (in a throwaway process) does run the command.
    proof = tmp_path / "proof"
    unsafe = pickle.dumps(RunsACommand(proof))
    loads = "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"
    subprocess.run([sys.executable, "-c", loads], input=unsafe, check=True)
    assert proof.exists()

    upload = client.post("/api/uploads?filename=evil.pt", content=payload)
    assert upload.status_code == 201, upload.text
    run = client.post(f"/api/uploads/{upload.json()['id']}/runs", json=TINY_CONFIG)
    assert run.status_code == 201, run.text
    assert execute(run.json()["id"]) == RunStatus.FAILED
    error = client.get(f"/api/runs/{run.json()['id']}").json()["error"]
    assert "cannot be loaded" in error and "Weights only load failed" in error
    assert not (tmp_path / "pwned").exists()


def test_a_real_uploaded_state_dict_starts_a_run(client: TestClient, make_run, execute) -> None:
    source = make_run(max_epochs=1)
    assert execute(source["id"]) == RunStatus.SUCCEEDED
    weights = client.get(f"/api/runs/{source['id']}/checkpoints/1/model").content
    upload = client.post("/api/uploads?filename=model.pt", content=weights).json()
    assert upload["size_bytes"] == len(weights)
    run = client.post(f"/api/uploads/{upload['id']}/runs", json={**TINY_CONFIG, "max_epochs": 1})
    assert execute(run.json()["id"]) == RunStatus.SUCCEEDED
    first = client.get(f"/api/runs/{run.json()['id']}/metrics").json()["epochs"][0]
    scratch = client.get(f"/api/runs/{source['id']}/metrics").json()["epochs"][0]
    assert first["train_loss"] < scratch["train_loss"]  # it started from the trained weights
