"""`GET /metrics` in Prometheus text format, correct across any number of processes.

Nothing is counted in process memory: run, row, lag and webhook figures are read from the
SQL store, queue depth from Redis, and HTTP requests are counted in one Redis hash by every
API process. Any replica answers the same.

The store's figures are aggregate queries over the run history. They are rendered at most
once per METRICS_CACHE_SECONDS across all replicas: the rendering is kept in Redis with the
time it was made, and only the replica that wins a short Redis lock refreshes an expired one
(the others serve the previous rendering meanwhile). Scrapes cost Redis reads, not SQL.
With METRICS_TOKEN set, a scrape must present it as a Bearer token.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.types import Message
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import RunStatus, Schedule, SyncRun, Trigger, WebhookDelivery, utcnow
from app.errors import ApiError
from app.openapi import error_response
from app.settings import Settings
from app.sync.worker_liveness import LIVE_FOR, count_live_workers

log = logging.getLogger("datasync.api")

HTTP_REQUESTS_KEY = "datasync:metrics:http-requests:{queue}"  # one per deployment
STORE_METRICS_KEY = "datasync:metrics:store:{queue}"
STORE_REFRESH_LOCK_KEY = "datasync:metrics:store-refresh:{queue}"
DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 3600)  # seconds
FINISHED = (RunStatus.SUCCESS, RunStatus.ERROR)


async def count_request(message: Message, scope: Any) -> None:
    """`before_send` hook: one count per response, by method, route template and status."""
    if message["type"] != "http.response.start" or scope.get("type") != "http":
        return
    state = scope["litestar_app"].state
    redis: Redis | None = getattr(state, "redis", None)
    if redis is None:
        return
    route = scope.get("path_template") or "unmatched"
    key = HTTP_REQUESTS_KEY.format(queue=state.settings.queue_name)
    try:
        await redis.hincrby(key, f"{scope['method']} {route} {message['status']}", 1)  # type: ignore[misc]
    except Exception:  # counting must never fail a request
        log.debug("could not count the request", exc_info=True)


class _Snapshot(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


def _histogram(
    name: str, doc: str, label: str, rows: Iterable[Any], buckets: tuple[int, ...]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=[label] if label else [])
    for row in rows:
        cumulative = [(str(float(b)), getattr(row, f"le_{b}") or 0) for b in buckets]
        family.add_metric(
            [row.label] if label else [],
            [*cumulative, ("+Inf", row.count)],
            sum_value=float(row.total or 0),
        )
    return family


def _seconds_between(later: Any, earlier: Any, db: AsyncSession) -> Any:
    """`later - earlier` in seconds, computed by the store (SQL has no portable spelling)."""
    if db.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _bucket_columns(seconds: Any, buckets: tuple[int, ...]) -> list[Any]:
    return [func.sum(case((seconds <= b, 1), else_=0)).label(f"le_{b}") for b in buckets]


async def _store_metrics(db: AsyncSession) -> list[Metric]:
    runs = CounterMetricFamily(
        "datasync_sync_runs", "Finished sync runs", labels=["status", "source_type"]
    )
    active = GaugeMetricFamily(
        "datasync_sync_runs_active", "Queued or running sync runs", labels=["status", "source_type"]
    )
    rows = CounterMetricFamily(
        "datasync_rows_synced", "Rows written by successful runs", labels=["source_type"]
    )
    for status, source_type, count, row_sum in await db.execute(
        select(
            SyncRun.status, SyncRun.data_source_type, func.count(), func.sum(SyncRun.row_count)
        ).group_by(SyncRun.status, SyncRun.data_source_type)
    ):
        if status in FINISHED:
            runs.add_metric([status, source_type], count)
        else:
            active.add_metric([status, source_type], count)
        if status == RunStatus.SUCCESS:
            rows.add_metric([source_type], row_sum or 0)

    duration = SyncRun.duration_ms / 1000.0
    duration_rows = await db.execute(
        select(
            SyncRun.data_source_type.label("label"),
            func.count().label("count"),
            func.sum(duration).label("total"),
            *_bucket_columns(duration, DURATION_BUCKETS),
        )
        .where(SyncRun.status.in_(FINISHED), SyncRun.duration_ms.is_not(None))
        .group_by(SyncRun.data_source_type)
    )
    durations = _histogram(
        "datasync_sync_run_duration_seconds",
        "Sync run duration",
        "source_type",
        duration_rows,
        DURATION_BUCKETS,
    )

    # The scheduler's lag is live: how long the oldest slot that is due but not yet claimed
    # has waited. Claimed slots have moved on, so it is 0 once the scheduler has caught up,
    # and it keeps growing while no scheduler ticks. (A rendering is up to
    # METRICS_CACHE_SECONDS old, like every store figure.)
    now = utcnow()
    oldest_due = await db.scalar(
        select(func.min(Schedule.next_sync_at)).where(
            Schedule.enabled.is_(True), Schedule.next_sync_at <= now
        )
    )
    waited = (now - oldest_due).total_seconds() if oldest_due else 0.0
    lag = GaugeMetricFamily(
        "datasync_scheduler_lag_seconds",
        "How long the oldest due slot has waited to be claimed; 0 when the scheduler is caught up",
    )
    lag.add_metric([], waited)
    overdue = GaugeMetricFamily(
        "datasync_schedules_overdue_seconds",
        "How long the most overdue schedule has waited (the same figure as the scheduler lag)",
    )
    overdue.add_metric([], waited)
    # The history: how late scheduled runs of the last hour were created after their slot. A
    # catch-up after downtime counts its whole wait here, for an hour.
    worst_delay = await db.scalar(
        select(func.max(_seconds_between(SyncRun.created_at, SyncRun.slot_at, db))).where(
            SyncRun.trigger == Trigger.SCHEDULE,
            SyncRun.slot_at.is_not(None),
            SyncRun.created_at >= now - timedelta(hours=1),
        )
    )
    worst = GaugeMetricFamily(
        "datasync_scheduler_lag_max_seconds",
        "Largest slot to run creation delay of the scheduled runs created in the last hour",
    )
    worst.add_metric([], max(0.0, float(worst_delay or 0.0)))

    webhooks = CounterMetricFamily(
        "datasync_webhook_deliveries", "Webhook delivery attempts", labels=["outcome"]
    )
    for outcome, count in await db.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    ):
        webhooks.add_metric([outcome], count)
    skipped = CounterMetricFamily(
        "datasync_sync_fetches_skipped",
        "Successful runs that fetched nothing: the source reported no change",
        labels=["source_type"],
    )
    for source_type, count in await db.execute(
        select(SyncRun.data_source_type, func.count())
        .where(SyncRun.status == RunStatus.SUCCESS, SyncRun.fetch_skipped.is_(True))
        .group_by(SyncRun.data_source_type)
    ):
        skipped.add_metric([source_type], count)
    return [runs, active, rows, skipped, durations, lag, worst, overdue, webhooks]


async def _redis_metrics(redis: Redis, queue_name: str) -> list[Metric]:
    depth = GaugeMetricFamily("datasync_queue_depth", "Jobs waiting in the queue (due or deferred)")
    depth.add_metric([], await redis.zcard(queue_name))
    workers = GaugeMetricFamily(
        "datasync_workers_live", f"Worker processes of this queue alive in the last {LIVE_FOR} s"
    )
    workers.add_metric([], await count_live_workers(redis, queue_name))
    requests = CounterMetricFamily(
        "datasync_http_requests", "HTTP requests answered", labels=["method", "route", "status"]
    )
    counts: dict[bytes, bytes] = await redis.hgetall(HTTP_REQUESTS_KEY.format(queue=queue_name))  # type: ignore[misc]
    for field, count in counts.items():
        method, route, status = field.decode().split(" ", 2)
        requests.add_metric([method, route, status], int(count))
    return [depth, workers, requests]


def _render(families: list[Metric]) -> bytes:
    registry = CollectorRegistry()
    registry.register(_Snapshot(families))
    return generate_latest(registry)


async def _rendered_store_metrics(
    redis: Redis,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> bytes:
    """The store's figures, rendered by whichever replica refreshed them last (see the
    module docstring); computed here only when expired and this replica wins the lock."""
    key = STORE_METRICS_KEY.format(queue=settings.queue_name)
    max_age = settings.metrics_cache_seconds
    cached = await redis.get(key)
    kept = json.loads(cached) if cached else None
    if kept is not None and time.time() - kept["at"] < max_age:
        return str(kept["text"]).encode()
    lock = STORE_REFRESH_LOCK_KEY.format(queue=settings.queue_name)
    won = max_age == 0 or await redis.set(lock, "1", nx=True, ex=max(1, int(max_age)))
    if not won and kept is not None:
        return str(kept["text"]).encode()
    async with session_maker() as db:
        text = _render(await _store_metrics(db))
    if max_age > 0:
        await redis.set(key, json.dumps({"at": time.time(), "text": text.decode()}))
    return text


PROMETHEUS_TEXT = "text/plain; version=0.0.4"


class MetricsController(Controller):
    tags = ["Operations"]

    @get(
        "/metrics",
        operation_id="metrics",
        exclude_from_auth=True,
        media_type=PROMETHEUS_TEXT,
        response_description="Prometheus text exposition format 0.0.4",
        responses={
            401: error_response(
                "METRICS_TOKEN is set and the scrape did not send it as a Bearer token",
                title="Unauthorized",
                example="Metrics need the operator's token: send Authorization: Bearer "
                "<METRICS_TOKEN>",
            )
        },
    )
    async def metrics(
        self,
        request: Request[Any, Any, Any],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        redis: NamedDependency[Redis],
        app_settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        expected = app_settings.metrics_token
        if expected:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
                raise ApiError(
                    401,
                    "Metrics need the operator's token: send Authorization: Bearer <METRICS_TOKEN>",
                    title="Unauthorized",
                )
        store = await _rendered_store_metrics(redis, session_maker, app_settings)
        live = _render(await _redis_metrics(redis, app_settings.queue_name))
        return Response(store + live, media_type=PROMETHEUS_TEXT)
