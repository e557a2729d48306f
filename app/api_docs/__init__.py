"""The interactive API docs under /schema: Swagger UI from a pinned package, served by this
service itself (no CDN), started by a script file so the page runs under the dashboard's
Content-Security-Policy. `swagger_ui.py` is the render plugin; `static/` holds the page's own
start-up script and stylesheet."""
