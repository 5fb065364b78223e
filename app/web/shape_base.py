"""The base of every request and response shape of the API.

Its validator and serializer are built when a request first uses the shape, not when the server
starts: building all of them (and the routes' adapters, which follow the shape's config) would be
most of the server's start beyond FastAPI's own. `/openapi.json` builds them when asked for.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Shape(BaseModel):
    model_config = ConfigDict(defer_build=True)
