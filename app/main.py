"""The FastAPI application: routes, error handlers, static files, and the dispatcher's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.runs.dispatcher import Dispatcher
from app.runs.executors.local import LocalProcessExecutor
from app.settings import Settings
from app.storage.engine import create_tables, make_engine, make_session_factory
from app.web import pages
from app.web.auth import guard_responses, install_auth
from app.web.error_handlers import install_error_handlers
from app.web.event_stream import EventHub
from app.web.routes import (
    checkpoints,
    evaluation,
    events,
    exports,
    health,
    inspector,
    logs,
    runs,
    uploads,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings | None = None, *, dispatch: bool = True) -> FastAPI:
    """The app for `settings`; `dispatch=False` leaves queued runs alone (for API tests)."""
    settings = settings or Settings()
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    create_tables(engine)
    factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = None
        if dispatch:
            dispatcher = Dispatcher(settings, factory, LocalProcessExecutor(settings))
            dispatcher.start()
        app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            if dispatcher is not None:
                dispatcher.stop()
            engine.dispose()

    app = FastAPI(
        title="torchdash",
        version="0.1.0",
        summary="Launch and watch PyTorch training runs.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.session_factory = factory
    app.state.dispatcher = None
    app.state.event_hub = EventHub(factory, settings.event_poll_interval)
    install_error_handlers(app)
    install_auth(app, settings)
    routers = (health, runs, inspector, events, checkpoints, uploads, exports, logs, evaluation)
    for module in routers:
        # The guard's 401/403 are documented here, once, for every route of every router.
        app.include_router(module.router, responses=guard_responses(module.router))
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
