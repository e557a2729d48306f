"""Static routes: `/` (the dashboard page), `/static/dashboard/` (its modules and styles) and
`/client/` (the API client). All three sit under the auth middleware's public paths."""

from __future__ import annotations

from pathlib import Path

from litestar import get
from litestar.datastructures import CacheControlHeader
from litestar.response import File
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

STATIC = Path(__file__).with_name("static")
# Revalidate on every load (cheap: ETag/Last-Modified), so a deploy is seen at once.
REVALIDATE = CacheControlHeader(no_cache=True)


@get("/", include_in_schema=False, cache_control=REVALIDATE)
async def dashboard_page() -> File:
    return File(STATIC / "index.html", media_type="text/html", content_disposition_type="inline")


DASHBOARD_ROUTES: list[ControllerRouterHandler] = [
    dashboard_page,
    create_static_files_router(
        "/static/dashboard", [STATIC / "dashboard"], name="dashboard", cache_control=REVALIDATE
    ),
    create_static_files_router(
        "/client", [STATIC / "client"], name="client", cache_control=REVALIDATE
    ),
]
