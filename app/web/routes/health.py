"""The health check."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from app.web.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="200 when the server and the database answer")
def read_health(session: SessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
