"""Swagger UI as a Litestar OpenAPI render plugin, its assets served under /schema/assets/.

Litestar's own `SwaggerRenderPlugin` loads Swagger UI from a CDN (another origin, no
integrity) and starts it with an inline `<script>` that embeds the whole OpenAPI document,
so no fixed CSP hash could admit it. This page loads the pinned `swagger-ui-py` package's
copy of Swagger UI's dist files and a start-up script file, and Swagger UI fetches the
document from /schema/openapi.json itself.

Only Swagger UI is offered: Scalar's standalone bundle injects its styles as `<style>`
elements at run time and loads fonts from its own CDN, so it needs `style-src
'unsafe-inline'` and another origin, which the page's CSP refuses.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File
from litestar.router import Router

ASSETS_PATH = "/assets"
# Revalidate on every load (cheap: ETag/Last-Modified), so an upgraded package is seen at once.
REVALIDATE = CacheControlHeader(no_cache=True)
JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"


def _swagger_ui_dist() -> Path:
    # Located without importing `swagger_ui`: its __init__ wires up web-framework handlers
    # this service does not use; only the files in its `static/` are needed.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (it is a dependency in pyproject.toml)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _assets() -> dict[str, tuple[Path, str]]:
    """Name → (file, media type). Types are stated, not guessed: under `nosniff` a script
    served as anything but JavaScript is refused."""
    dist = _swagger_ui_dist()
    own = Path(__file__).with_name("static")
    return {
        "swagger-ui-bundle.js": (dist / "swagger-ui-bundle.js", JAVASCRIPT),
        "swagger-ui.css": (dist / "swagger-ui.css", CSS),
        "swagger-init.js": (own / "swagger-init.js", JAVASCRIPT),
        "api-docs.css": (own / "api-docs.css", CSS),
    }


class SelfHostedSwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI with every script and stylesheet from this service and nothing inline."""

    def __init__(self, *, path: str | Sequence[str] = ("/", "/swagger"), **kwargs: Any) -> None:
        self.assets = _assets()
        missing = [str(path) for path, _ in self.assets.values() if not path.is_file()]
        if missing:
            raise RuntimeError(f"API docs assets are missing: {', '.join(missing)}")
        # Known once the router exists (receive_router); /schema unless configured otherwise.
        self.assets_url = f"/schema{ASSETS_PATH}"
        super().__init__(path=path, **kwargs)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        assets = escape(self.assets_url)
        spec_url = escape(self.get_openapi_json_route(request))
        title = escape(str(openapi_schema["info"]["title"]))
        return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <link rel="stylesheet" href="{assets}/api-docs.css">
  <script src="{assets}/swagger-ui-bundle.js" defer></script>
  <script src="{assets}/swagger-init.js" defer></script>
</head>
<body>
  <noscript><p>The API docs need JavaScript. The OpenAPI document is at
    <a href="{spec_url}">{spec_url}</a>.</p></noscript>
  <div id="swagger-ui" data-spec-url="{spec_url}"></div>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        self.assets_url = f"{router.path.rstrip('/')}{ASSETS_PATH}"
        assets = self.assets

        @get(
            f"{ASSETS_PATH}/{{name:str}}",
            name="api_docs_asset",
            include_in_schema=False,
            cache_control=REVALIDATE,
            sync_to_thread=False,
        )
        def api_docs_asset(name: FromPath[str]) -> File:
            if name not in assets:
                raise NotFoundException(f"No API docs asset named {name!r}")
            path, media_type = assets[name]
            return File(path, media_type=media_type, content_disposition_type="inline")

        router.register(api_docs_asset)


def render_plugins(api_docs: bool) -> list[OpenAPIRenderPlugin]:
    """Swagger UI at /schema and /schema/swagger, or (API_DOCS=false) the document alone.

    Litestar adds /schema/openapi.json to any list; an empty list would instead bring back
    all its CDN-loaded UIs, so "off" is the JSON plugin alone (which /schema then answers)."""
    if api_docs:
        return [SelfHostedSwaggerUI()]
    return [JsonRenderPlugin()]
