"""Nobody in: loopback by default, a token for anything else, and no cross-site writes.

- `check_bind` refuses to serve on a non-loopback address without `TORCHDASH_TOKEN`.
- With a token set, every request (API, pages, event streams) must carry it: an
  `Authorization: Bearer <token>` header, or the HttpOnly cookie that `POST /login` sets.
  Only `/login`, `/static` and `/healthz` answer without it.
- Always, token or not: a POST, PUT, PATCH or DELETE whose `Origin` is another site is refused
  (403), so a web page the user visits cannot drive a dashboard on 127.0.0.1 (the attack that
  made Ray's dashboard run jobs for anyone). Clients that send no Origin (curl, scripts) pass.
- Without a token, the `Host` header must name this machine's loopback (localhost, 127.x.x.x,
  ::1): a DNS-rebinding page (evil.example resolving to 127.0.0.1) sends its own name as Host
  and as Origin, which would pass the Origin check, but not this one.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.settings import Settings
from app.web.error_handlers import errors

COOKIE = "torchdash_token"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# /healthz says only "ok": open, so a container health check needs no secret.
OPEN_PREFIXES = ("/login", "/static/", "/healthz")

router = APIRouter(include_in_schema=False)


def guard_responses(router: APIRouter) -> dict[int | str, dict[str, Any]]:
    """The refusals `Guard` may answer on `router`'s routes, for their OpenAPI entries."""
    paths = [getattr(route, "path", "") for route in router.routes]
    if paths and all(path.startswith(OPEN_PREFIXES) for path in paths):
        return errors(403)
    return errors(401, 403)


def check_bind(settings: Settings) -> None:
    """Raise ValueError when the server would listen beyond loopback without a token."""
    if settings.host not in LOOPBACK and not settings.token:
        raise ValueError(
            f"refusing to serve on {settings.host}: binding beyond loopback needs "
            "TORCHDASH_TOKEN (every request must then carry it)"
        )


def has_token(request: Request, token: str) -> bool:
    """True when the request carries `token` in a Bearer header or the login cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
        return True
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and hmac.compare_digest(cookie, token)


def is_cross_site(request: Request) -> bool:
    """True when a browser says the request comes from another origin than this server."""
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site") == "cross-site"
    parts = urlsplit(origin)
    return origin == "null" or parts.netloc != request.headers.get("host", "")


def is_loopback_host(request: Request) -> bool:
    """True when the request's Host header names the loopback interface."""
    host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(request: Request, token: str | None) -> Response | None:
    """The answer to a request that may not pass; None for one that may."""
    if request.method in STATE_CHANGING and is_cross_site(request):
        return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
    if not token and not is_loopback_host(request):
        return JSONResponse(
            {
                "detail": "this server answers loopback names only; set TORCHDASH_TOKEN to "
                "serve others"
            },
            status_code=403,
        )
    path = request.url.path
    if token and not path.startswith(OPEN_PREFIXES) and not has_token(request, token):
        if request.method == "GET" and not path.startswith("/api/"):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse(
            {"detail": "a valid token is required"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None


class Guard:
    """The checks above in front of every route, as plain ASGI middleware.

    Not `@app.middleware("http")`: Starlette's BaseHTTPMiddleware relays every chunk of a
    response through a task and a stream of its own, which on a hundred event streams cost the
    server as much CPU as the events themselves (bench/live_latency.py).
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = refusal(Request(scope), self.settings.token)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_auth(app: FastAPI, settings: Settings) -> None:
    """Add the Origin check and, with a token, the token check in front of every route."""
    app.add_middleware(Guard, settings=settings)
    app.include_router(router)


LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>torchdash</title>
<link rel="stylesheet" href="/static/app.css"></head><body><main>
<h1>torchdash</h1><form method="post" action="/login">
<label>Access token <input type="password" name="token" autocomplete="current-password"
autofocus></label> <button type="submit">Sign in</button></form>{message}</main></body></html>"""


@router.get("/login", response_class=HTMLResponse)
def login_page() -> HTMLResponse:
    return HTMLResponse(LOGIN_PAGE.format(message=""))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the posted token; on success set it as an HttpOnly, SameSite=Strict cookie."""
    settings: Settings = request.app.state.settings
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    given = (form.get("token") or [""])[0]
    if not settings.token or not hmac.compare_digest(given, settings.token):
        message = f"<p role=alert>{html.escape('That token is not valid.')}</p>"
        return HTMLResponse(LOGIN_PAGE.format(message=message), status_code=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE, given, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response
