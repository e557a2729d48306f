"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.request_id import request_id_of
from app.schema import CamelStruct

NOT_READY_RETRY_SECONDS = 5

Reach = Literal["ok", "unreachable"]


class Health(CamelStruct):
    success: Literal[True]
    status: Literal["ok"]


class ReadinessChecks(CamelStruct):
    database: Reach
    redis: Reach

    def down(self) -> list[str]:
        return [name for name in self.__struct_fields__ if getattr(self, name) != "ok"]


class Ready(CamelStruct):
    success: Literal[True]
    status: Literal["ready"]
    checks: ReadinessChecks


class NotReady(CamelStruct):
    """The error envelope, plus what each dependency answered."""

    success: Literal[False]
    error: str
    message: str
    checks: ReadinessChecks
    request_id: str


class DependencyDown(Exception):
    def __init__(self, checks: ReadinessChecks) -> None:
        super().__init__(f"Not ready: {', '.join(checks.down())} unreachable")
        self.checks = checks


def answer_not_ready(request: Request[Any, Any, Any], exc: DependencyDown) -> Response[NotReady]:
    body = NotReady(
        success=False,
        error="Service unavailable",
        message=str(exc),
        checks=exc.checks,
        request_id=request_id_of(request.scope),
    )
    return Response(body, status_code=503, headers={"Retry-After": str(NOT_READY_RETRY_SECONDS)})


async def _database_reach(session_maker: async_sessionmaker[AsyncSession]) -> Reach:
    try:
        async with session_maker() as db:
            await db.execute(text("SELECT 1"))
    except Exception:
        return "unreachable"
    return "ok"


async def _redis_reach(redis: Redis) -> Reach:
    try:
        await redis.ping()
    except Exception:
        return "unreachable"
    return "ok"


class HealthController(Controller):
    tags = ["Operations"]
    # A readiness failure answers with the checks, which the shared error envelope lacks.
    exception_handlers = {DependencyDown: answer_not_ready}

    @get("/health", operation_id="health", exclude_from_auth=True)
    async def health(self) -> Health:
        return Health(success=True, status="ok")

    @get(
        "/ready",
        operation_id="ready",
        exclude_from_auth=True,
        responses={
            503: ResponseSpec(
                data_container=NotReady,
                description="The database or Redis is unreachable: `checks` says which; "
                "retry after `Retry-After` seconds",
                generate_examples=False,
            )
        },
    )
    async def ready(
        self,
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        redis: NamedDependency[Redis],
    ) -> Ready:
        checks = ReadinessChecks(
            database=await _database_reach(session_maker), redis=await _redis_reach(redis)
        )
        if checks.down():
            raise DependencyDown(checks)
        return Ready(success=True, status="ready", checks=checks)
