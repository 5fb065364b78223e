"""The OpenAPI document at /openapi.json: FastAPI's, plus what its route signatures cannot say.

- `POST /api/runs` reads a plain dict (app/web/run_create.py picks a loop or a script run by the
  `script` key, so a bad body's 422 names the fields of the kind it is), so FastAPI would document
  it as any object; the document says what it takes: a RunCreate or a ScriptRunCreate.
- `POST /api/runs/{id}/report` reads its raw body (to bound its size before parsing it), so
  FastAPI cannot see its model; the document names it: a ReportRequest.
- Event streams say they are: their 200 is `text/event-stream`.
- Links (OpenAPI `links`) from every response that creates a run or a study to the operations
  that act on it by id, so a client generator or a stateful fuzzer can chain them: create a run,
  then read, edit, cancel, resume, fork or delete it. Event streams are left out: they never end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, get_type_hints

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sse_starlette import EventSourceResponse
from starlette.routing import BaseRoute

from app.web.external_shapes import ReportRequest
from app.web.run_create import RunCreate, ScriptRunCreate

REF = "#/components/schemas/{model}"
# The id a created resource's answer carries, and the path parameter that takes it.
LINKED: dict[str, str] = {"RunPublic": "run_id", "StudyPublic": "study_id"}
RUN_BODIES: tuple[type[BaseModel], ...] = (RunCreate, ScriptRunCreate)
# Operations that read their raw body, and the model they validate it with.
RAW_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("/api/runs/{run_id}/report", "post"): ReportRequest,
}


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document (built once, on the first request for it)."""

    build = app.openapi  # FastAPI's own: it caches its document in app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_raw_bodies(app)  # before FastAPI's build, which renders it as its own
            document = build()
            document_event_streams(document, app)
            document_run_bodies(document)
            add_links(document)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def document_event_streams(document: dict[str, Any], app: FastAPI) -> None:
    """A route that answers an EventSourceResponse says so: its 200 is `text/event-stream`."""
    for path, route in _api_routes(app.routes, ""):
        if get_type_hints(route.endpoint).get("return") is not EventSourceResponse:
            continue
        for method in route.methods or ():
            ok = document["paths"][path][method.lower()]["responses"]["200"]
            ok["content"] = {"text/event-stream": {"schema": {"type": "string"}}}


def _api_routes(routes: Sequence[BaseRoute], prefix: str) -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, also inside routers FastAPI keeps as included."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path_format, route
        router = getattr(route, "original_router", None)
        if router is not None:
            context = getattr(route, "include_context", None)
            yield from _api_routes(router.routes, prefix + getattr(context, "prefix", ""))


def document_run_bodies(document: dict[str, Any]) -> None:
    """`POST /api/runs` takes either kind of run: its body schema is `anyOf` the two models."""
    operation = document["paths"]["/api/runs"]["post"]
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    refs, definitions = models_json_schema(
        [(model, "validation") for model in RUN_BODIES], ref_template=REF
    )
    # FastAPI's own rendering of a shared model (another route's body) wins over pydantic's.
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    description = body.get("description")
    body.clear()
    body["anyOf"] = [refs[(model, "validation")] for model in RUN_BODIES]
    if description:
        body["description"] = description


def document_raw_bodies(app: FastAPI) -> None:
    """An operation that parses its raw body itself documents the model it validates it with,
    in its `openapi_extra`."""
    for path, route in _api_routes(app.routes, ""):
        for method in route.methods or ():
            model = RAW_BODIES.get((path, method.lower()))
            if model is not None and route.openapi_extra is not None:
                content = {"application/json": {"schema": model.model_json_schema()}}
                route.openapi_extra["requestBody"]["content"] = content


def add_links(document: dict[str, Any]) -> None:
    """Link each 201 answer that creates a run or a study to every operation on it by id."""
    consumers: dict[str, dict[str, str]] = {parameter: {} for parameter in LINKED.values()}
    for operation in _operations(document):
        path_parameters = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        if len(path_parameters) != 1 or path_parameters[0] not in consumers:
            continue
        if _streams_events(operation):
            continue
        name = _link_name(operation["operationId"])
        consumers[path_parameters[0]][name] = operation["operationId"]
    for operation in _operations(document):
        created = operation["responses"].get("201", {})
        ref = created.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        model = ref.rsplit("/", 1)[-1] if ref else None
        if model not in LINKED:
            continue
        parameter = LINKED[model]
        created["links"] = {
            name: {
                "operationId": operation_id,
                "parameters": {parameter: "$response.body#/id"},
            }
            for name, operation_id in sorted(consumers[parameter].items())
        }


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    methods = ("get", "post", "put", "patch", "delete")
    return [
        operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in methods
    ]


def _streams_events(operation: dict[str, Any]) -> bool:
    ok = operation["responses"].get("200", {})
    return "text/event-stream" in ok.get("content", {})


def _link_name(operation_id: str) -> str:
    """`read_run_api_runs__run_id__get` -> `read_run`: the route function's name, unique per
    router because FastAPI builds the id from it."""
    return operation_id.split("_api_", 1)[0]
