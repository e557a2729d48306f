"""The architecture's boundaries, read from the import statements of the code itself:
connectors know nothing of the service, and the worker (the engine, the scheduler, webhook
delivery) needs nothing from the HTTP API or from Litestar."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("app", "connectors")
API_MODULES = {"app.main", "app.openapi", "app.error_responses", "app.schema", "app.access_log"}


def source_of(module: str) -> Path | None:
    base = ROOT / module.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imports_of(module: str) -> set[str]:
    path = source_of(module)
    assert path is not None, module
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {
                f"{node.module}.{alias.name}"
                for alias in node.names
                if source_of(f"{node.module}.{alias.name}")
            }
    return found


def closure(start: str) -> dict[str, set[str]]:
    """Every module of ours that `start` loads, with what each imports."""
    seen: dict[str, set[str]] = {}
    pending = [start]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen[module] = imports_of(module)
        pending += [
            name
            for name in seen[module]
            if name.split(".")[0] in OURS and source_of(name) and name not in seen
        ]
    return seen


def test_the_worker_loads_no_api_module_and_nothing_of_litestar() -> None:
    loaded = closure("app.worker")
    assert "app.sync.engine" in loaded and "app.sync.scheduler" in loaded
    api = sorted(m for m in loaded if m in API_MODULES or m.endswith((".controllers", ".schemas")))
    assert api == []
    litestar = sorted(
        f"{m} imports {name}"
        for m, names in loaded.items()
        for name in names
        if name.split(".")[0] == "litestar"
    )
    assert litestar == []


def test_connectors_import_nothing_of_the_service() -> None:
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "connectors").rglob("*.py")
    ]
    assert len(modules) > 20
    leaks = sorted(
        f"{m} imports {name}"
        for m in modules
        for name in imports_of(m)
        if name.split(".")[0] == "app"
    )
    assert leaks == []
