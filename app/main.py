"""The FastAPI application: routes, error handlers, static files, and the dispatcher's lifetime."""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic.warnings import UnsupportedFieldAttributeWarning

from app.files import RunFiles
from app.hardware.inventory import gpu_inventory
from app.runs.dispatcher import Dispatcher
from app.runs.executors.local import LocalProcessExecutor
from app.runs.executors.ray_jobs import RayJobExecutor
from app.runs.queue import Lanes
from app.settings import Settings
from app.storage.engine import create_tables, make_engine, make_session_factory
from app.storage.notifications import RunListener
from app.studies.scheduler import StudyScheduler
from app.web import api_docs, pages
from app.web.auth import guard_responses, install_auth
from app.web.error_handlers import install_error_handlers
from app.web.event_stream import EventHub
from app.web.finite_json import install_finite_json
from app.web.openapi_document import install_openapi
from app.web.routes import (
    checkpoints,
    cost,
    devices,
    evaluation,
    events,
    exports,
    external,
    health,
    inspector,
    logs,
    plugins,
    preflight,
    runs,
    scripts,
    studies,
    system,
    uploads,
)

logger = logging.getLogger("torchdash")
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def make_ray_executor(settings: Settings) -> RayJobExecutor:
    """The Ray executor (it imports ray itself, when it first submits or looks at a job)."""
    if not settings.uses_postgresql:
        logger.warning(
            "TORCHDASH_EXECUTOR=ray with SQLite: only workers on this machine can reach the "
            "database; set TORCHDASH_DATABASE_URL to a PostgreSQL server for a real cluster"
        )
    return RayJobExecutor(settings)


def create_app(settings: Settings | None = None, *, dispatch: bool = True) -> FastAPI:
    """The app for `settings`; `dispatch=False` leaves queued runs alone (for API tests)."""
    settings = settings or Settings()
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url, **settings.pool_options())
    create_tables(engine)
    factory = make_session_factory(engine)
    # The GPU set is read once: runs are placed on it and checked against it at submit. On the
    # Ray executor the cluster's nodes take its place, read as they change.
    cluster = make_ray_executor(settings) if settings.executor == "ray" else None
    gpus = gpu_inventory(settings.gpus) if cluster is None else []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = None
        scheduler = None
        if dispatch:
            executor = cluster or LocalProcessExecutor(settings)
            # On PostgreSQL notifications wake it (the listener below): its own looks can be slow.
            interval = settings.notified_dispatch_interval if settings.uses_postgresql else None
            dispatcher = Dispatcher(settings, factory, executor, gpus, interval)
            dispatcher.start()
            # Studies keep their trials queued; Optuna is imported once a study exists.
            scheduler = StudyScheduler(
                settings, factory, [gpu.index for gpu in gpus], dispatcher.wake
            )
            scheduler.start()
        app.state.dispatcher = dispatcher
        app.state.study_scheduler = scheduler
        listener = None
        if settings.uses_postgresql:  # one LISTEN connection wakes the pollers and the dispatcher
            hub = app.state.event_hub
            wake_dispatcher = dispatcher.wake if dispatcher is not None else lambda: None

            def reconnected() -> None:  # what was missed meanwhile is looked for at once
                hub.wake_all()
                wake_dispatcher()

            listener = RunListener(
                engine, on_run=hub.wake, on_reconnect=reconnected, on_dispatch=wake_dispatcher
            )
            listener.start()
        try:
            yield
        finally:
            if listener is not None:
                listener.stop()
            if scheduler is not None:
                scheduler.stop()
            if dispatcher is not None:
                dispatcher.stop()
            engine.dispose()

    app = FastAPI(
        title="torchdash",
        version="0.1.0",
        summary="Launch and watch PyTorch training runs.",
        lifespan=lifespan,
        # /docs is served from vendored files (app/web/api_docs.py); ReDoc would need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.files = RunFiles(settings)
    app.state.session_factory = factory
    app.state.dispatcher = None
    app.state.study_scheduler = None
    app.state.gpus = gpus
    app.state.cluster = cluster
    poll_interval = settings.event_poll_interval
    if settings.uses_postgresql:  # notifications wake the pollers: their own look can be slow
        poll_interval = settings.notified_poll_interval
    # What a queued run's estimated start is reckoned on; a cluster's nodes place runs there.
    gpu_lanes = () if cluster is not None else tuple(gpu.index for gpu in gpus)
    app.state.queue_lanes = Lanes(settings.max_concurrent_runs, gpu_lanes, cluster)
    app.state.event_hub = EventHub(factory, poll_interval, app.state.queue_lanes)
    # The API's shapes are built on first use (app/web/shape_base.py), the routes' adapters of
    # a body too: FastAPI names such a body with an `alias` that pydantic warns has no effect,
    # and silences that warning while it builds them, but only then. Silenced here for good.
    warnings.filterwarnings(
        "ignore", message="The 'alias' attribute", category=UnsupportedFieldAttributeWarning
    )
    install_error_handlers(app)
    install_finite_json(app)  # added first: it runs after the guard, on allowed requests only
    install_auth(app, settings)
    routers: tuple[ModuleType, ...] = (health, runs, inspector, events, checkpoints, uploads)
    routers += (exports, logs, evaluation, system, preflight, devices, plugins, studies)
    routers += (external, scripts, cost)
    for module in routers:
        # The guard's 401/403 are documented here, once, for every route of every router.
        app.include_router(module.router, responses=guard_responses(module.router))
    app.include_router(pages.router)
    app.include_router(api_docs.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_openapi(app)
    return app
