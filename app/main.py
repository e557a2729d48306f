"""The Litestar application: wiring only; behaviour lives in the domain packages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig

from app.access_log import log_response
from app.auth.controllers import AuthController
from app.auth.middleware import PUBLIC_PATHS, UNMETERED_PATHS, BearerAuthMiddleware, Principal
from app.auth.oauth.controllers import ClientController, TokenController
from app.auth.scopes import require_scope
from app.auth.tokens import HostTokenVerifier
from app.dashboard.routes import DASHBOARD_ROUTES
from app.db.engine import create_engine, session_factory
from app.error_responses import EXCEPTION_HANDLERS, envelope_refused_preflight
from app.files.controllers import TargetFileController
from app.health import HealthController
from app.metrics import MetricsController, count_request
from app.openapi import document_responses, openapi_config
from app.preview.controllers import PreviewController
from app.rate_limit import RedisRateLimitMiddleware
from app.request_id import stamp_request_id
from app.request_limits import screen_request
from app.runs.controllers import ManualSyncController, RunController
from app.schedules.controllers import ScheduleController
from app.security_headers import stamp_security_headers
from app.settings import Settings, get_settings
from app.source_types.controllers import SourceTypeController, described_types
from app.sources.controllers import DataSourceController
from app.storage.sweep import keep_cache_aged
from app.sync.csv_store import csv_store_for
from app.sync.queue import queue_client
from app.webhooks.controllers import WebhookController

CONTROLLERS = [
    AuthController,
    ClientController,
    TokenController,
    DataSourceController,
    SourceTypeController,
    TargetFileController,
    ScheduleController,
    ManualSyncController,
    PreviewController,
    RunController,
    WebhookController,
    HealthController,
    MetricsController,
]


def _rate_limit_identity(request: Request[Any, Any, Any]) -> str:
    user = request.scope.get("user")
    if isinstance(user, Principal):
        return f"user:{user.user_id}"
    client = request.client.host if request.client else "unknown"
    return f"ip:{client}"


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    engine = create_engine(settings)
    sessions = session_factory(engine)
    # One lazy client: it serves the job queue, the shared rate-limit budget and /ready.
    redis = queue_client(settings)
    csv_store = csv_store_for(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.session_maker = sessions
        app.state.host_token_verifier = HostTokenVerifier(settings)
        app.state.redis = redis
        # Importing every connector takes seconds: done here, not on the event loop of the
        # first request for /api/source-types.
        described_types()
        aging = asyncio.create_task(keep_cache_aged(csv_store, settings))
        try:
            yield
        finally:
            aging.cancel()
            await redis.aclose()
            await engine.dispose()

    rate_limit = RateLimitConfig(
        rate_limit=("minute", settings.rate_limit_per_minute),
        identifier_for_request=_rate_limit_identity,
        exclude=UNMETERED_PATHS,
        rate_limit_limit_header_key="X-RateLimit-Limit",
        rate_limit_remaining_header_key="X-RateLimit-Remaining",
        rate_limit_reset_header_key="X-RateLimit-Reset",
        rate_limit_policy_header_key="X-RateLimit-Policy",
    )
    app = Litestar(
        route_handlers=[*CONTROLLERS, *DASHBOARD_ROUTES],
        lifespan=[lifespan],
        plugins=[
            SQLAlchemyPlugin(
                SQLAlchemyAsyncConfig(
                    engine_instance=engine,
                    session_maker=sessions,
                    before_send_handler="autocommit",
                    set_default_exception_handler=False,
                )
            )
        ],
        dependencies={
            "app_settings": Provide(lambda: settings, sync_to_thread=False),
            "csv_store": Provide(lambda: csv_store, sync_to_thread=False),
            "session_maker": Provide(lambda: sessions, sync_to_thread=False),
            "redis": Provide(lambda: redis, sync_to_thread=False),
            "queue": Provide(lambda: redis, sync_to_thread=False),
        },
        before_send=[
            stamp_request_id,
            stamp_security_headers,
            envelope_refused_preflight,
            count_request,
            log_response,
        ],
        before_request=screen_request,
        guards=[require_scope],
        middleware=[
            DefineMiddleware(BearerAuthMiddleware, exclude=PUBLIC_PATHS),
            DefineMiddleware(
                RedisRateLimitMiddleware,
                config=rate_limit,
                redis=redis,
                namespace=f"datasync:rate-limit:{settings.queue_name}",
            ),
        ],
        cors_config=CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "If-None-Match"],
            expose_headers=[
                "X-Request-ID",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "Retry-After",
                "ETag",
            ],
        )
        if settings.cors_origins
        else None,
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(settings),
        debug=False,
        # Logging is configured once by app.logs (JSON lines); Litestar's own config would
        # replace it, and its request logging can include bodies.
        logging_config=None,
    )
    document_responses(app)
    return app
