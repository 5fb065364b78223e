"""The FastAPI application: routes, error handlers, static files, and the dispatcher's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.files import RunFiles
from app.hardware.inventory import gpu_inventory
from app.runs.dispatcher import Dispatcher
from app.runs.executors.local import LocalProcessExecutor
from app.settings import Settings
from app.storage.engine import create_tables, make_engine, make_session_factory
from app.storage.notifications import RunListener
from app.web import pages
from app.web.auth import guard_responses, install_auth
from app.web.error_handlers import install_error_handlers
from app.web.event_stream import EventHub
from app.web.routes import (
    checkpoints,
    devices,
    evaluation,
    events,
    exports,
    health,
    inspector,
    logs,
    preflight,
    runs,
    system,
    uploads,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings | None = None, *, dispatch: bool = True) -> FastAPI:
    """The app for `settings`; `dispatch=False` leaves queued runs alone (for API tests)."""
    settings = settings or Settings()
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url, **settings.pool_options())
    create_tables(engine)
    factory = make_session_factory(engine)
    # The GPU set is read once: runs are placed on it and checked against it at submit.
    gpus = gpu_inventory(settings.gpus)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = None
        if dispatch:
            dispatcher = Dispatcher(settings, factory, LocalProcessExecutor(settings), gpus)
            dispatcher.start()
        app.state.dispatcher = dispatcher
        listener = None
        if settings.uses_postgresql:  # one LISTEN connection wakes the event streams' pollers
            hub = app.state.event_hub
            listener = RunListener(engine, on_run=hub.wake, on_reconnect=hub.wake_all)
            listener.start()
        try:
            yield
        finally:
            if listener is not None:
                listener.stop()
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
    app.state.files = RunFiles(settings)
    app.state.session_factory = factory
    app.state.dispatcher = None
    app.state.gpus = gpus
    poll_interval = settings.event_poll_interval
    if settings.uses_postgresql:  # notifications wake the pollers: their own look can be slow
        poll_interval = settings.notified_poll_interval
    app.state.event_hub = EventHub(factory, poll_interval)
    install_error_handlers(app)
    install_auth(app, settings)
    routers = (health, runs, inspector, events, checkpoints, uploads, exports, logs, evaluation)
    routers += (system, preflight, devices)
    for module in routers:
        # The guard's 401/403 are documented here, once, for every route of every router.
        app.include_router(module.router, responses=guard_responses(module.router))
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
