"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.request_id import request_id_of


class HealthController(Controller):
    tags = ["Operations"]

    @get("/health", operation_id="health", exclude_from_auth=True)
    async def health(self) -> dict[str, Any]:
        return {"success": True, "status": "ok"}

    @get("/ready", operation_id="ready", exclude_from_auth=True)
    async def ready(
        self,
        request: Request[Any, Any, Any],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        redis: NamedDependency[Redis],
    ) -> Response[dict[str, Any]]:
        checks: dict[str, str] = {}
        try:
            async with session_maker() as db:
                await db.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "unreachable"
        try:
            await redis.ping()
            checks["redis"] = "ok"
        except Exception:
            checks["redis"] = "unreachable"
        if all(v == "ok" for v in checks.values()):
            return Response({"success": True, "status": "ready", "checks": checks})
        down = ", ".join(k for k, v in checks.items() if v != "ok")
        return Response(
            {
                "success": False,
                "error": "Service unavailable",
                "message": f"Not ready: {down} unreachable",
                "checks": checks,
                "requestId": request_id_of(request.scope),
            },
            status_code=503,
            headers={"Retry-After": "5"},
        )
