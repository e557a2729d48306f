"""The JavaScript clients against the OpenAPI document, checked by tsc.

openapi-typescript turns the document the app serves into TypeScript types; tsc (strict,
checkJs: tests/ts/tsconfig.json) then checks against them the reference page's JavaScript
examples (tests/js/reference_examples.mjs, each function where `fetch` and `JSON.stringify`
are its route's), the JS client's types (datasync.d.ts takes every API shape from the
generated datasync-api.d.ts beside it) and the dashboard's modules. A field renamed or
removed on the server fails the check where a client reads or sends it; any change at all,
an added field included, fails the comparison of the served datasync-api.d.ts with a fresh
generation.

The tools come from tests/ts/package-lock.json; `./dev setup` installs them.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.conftest import ROOT

TS_DIR = ROOT / "tests" / "ts"
TOOLS = TS_DIR / "node_modules" / ".bin"
STATIC = ROOT / "app" / "dashboard" / "static"
API_TYPES = STATIC / "client" / "datasync-api.d.ts"
EXAMPLES = ROOT / "tests" / "js" / "reference_examples.mjs"
EXAMPLES_MODULE = "reference-examples.generated.js"

# The route each of the reference page's functions calls.
EXAMPLE_ROUTES = {
    "createHourlySync": ("/api/sync/schedules", "post"),
    "listSyncSchedules": ("/api/sync/schedules", "get"),
    "manualSync": ("/api/sync/schedules/{schedule_id}/sync", "post"),
    "getSyncHistory": ("/api/sync/schedules/{schedule_id}/history", "get"),
    "deleteSchedule": ("/api/sync/schedules/{schedule_id}", "delete"),
}
# A top-level function of the examples file, up to its closing brace at the start of a line.
EXAMPLE_FUNCTION = re.compile(
    r"^async function (?P<name>\w+)\((?P<params>[^)]*)\) \{\n.*?^\}$", re.MULTILINE | re.DOTALL
)

# The document is the same on every store: check it once.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Tools:
    openapi_typescript: Path
    tsc: Path


@dataclass(frozen=True)
class Drift:
    """A change of the server's document, and the files of its clients that tsc then fails."""

    operation_id: str
    body: str  # "answer" (the 200 body) or "request" (the JSON request body)
    path: tuple[str, ...]  # properties from that body down to the object that changes
    field: str
    renamed_to: str | None  # None: removed
    fails_in: tuple[str, ...]


DRIFTS = {
    "the schedule list renamed": Drift(
        "listSchedules",
        "answer",
        (),
        "schedules",
        "items",
        (
            "tests/ts/reference-examples.generated.js",
            "app/dashboard/static/dashboard/schedules.js",
            "app/dashboard/static/dashboard/runs.js",
        ),
    ),
    "a schedule without nextRetryAt": Drift(
        "getSchedule",
        "answer",
        ("schedule",),
        "nextRetryAt",
        None,
        ("app/dashboard/static/dashboard/schedules.js",),
    ),
    "the sync result renamed": Drift(
        "manualSync",
        "answer",
        (),
        "syncResult",
        "result",
        ("tests/ts/reference-page.ts", "app/dashboard/static/dashboard/sync-now.js"),
    ),
    "the source type list renamed": Drift(
        "listSourceTypes",
        "answer",
        (),
        "sourceTypes",
        "types",
        ("app/dashboard/static/dashboard/source-types.js",),
    ),
    "a create body with dataSourceId renamed": Drift(
        "createSchedule",
        "request",
        (),
        "dataSourceId",
        "sourceId",
        (
            "tests/ts/reference-examples.generated.js",
            "tests/ts/reference-page.ts",
            "app/dashboard/static/dashboard/schedules.js",
        ),
    ),
}
AS_SERVED = "as served"


@pytest.fixture(scope="module")
def tools() -> Tools:
    found = Tools(TOOLS / "openapi-typescript", TOOLS / "tsc")
    missing = [str(tool) for tool in (found.openapi_typescript, found.tsc) if not tool.exists()]
    if shutil.which("node") is None:
        missing.insert(0, "node")
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: run ./dev setup (it installs Node and the npm "
            "packages of tests/ts/package-lock.json)",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def document(client: TestClient[Any]) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    served: dict[str, Any] = response.json()
    return served


@pytest.fixture(scope="module")
def api_types(
    tools: Tools, document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> str:
    return generate_types(tools, document, tmp_path_factory.mktemp("generated"))


@pytest.fixture(scope="module")
def verdicts(
    tools: Tools,
    document: dict[str, Any],
    api_types: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """tsc's verdict on the clients against the document as served and against each drifted
    copy of it. The checks run side by side: each is a node process of its own."""
    workdirs = {name: tmp_path_factory.mktemp("types") for name in [AS_SERVED, *DRIFTS]}
    with ThreadPoolExecutor() as pool:
        running = {
            AS_SERVED: pool.submit(check_types, tools, api_types, workdirs[AS_SERVED]),
            **{
                name: pool.submit(check_against, tools, drifted(document, drift), workdirs[name])
                for name, drift in DRIFTS.items()
            },
        }
        return {name: future.result() for name, future in running.items()}


def test_the_served_api_types_are_a_fresh_generation_of_the_document(
    api_types: str, tmp_path: Path
) -> None:
    served = API_TYPES.read_text(encoding="utf-8")
    if served != api_types:
        fresh = tmp_path / API_TYPES.name
        fresh.write_text(api_types, encoding="utf-8")
        diff = difflib.unified_diff(
            served.splitlines(), api_types.splitlines(), "served", "generated", lineterm="", n=2
        )
        pytest.fail(
            f"{API_TYPES.relative_to(ROOT)} is not the OpenAPI document's. Regenerate it:\n"
            f"  cp {fresh} {API_TYPES.relative_to(ROOT)}\n" + "\n".join(list(diff)[:80]),
            pytrace=False,
        )


def test_the_examples_the_client_and_the_dashboard_type_check_against_the_document(
    verdicts: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    checked = verdicts[AS_SERVED]

    assert checked.returncode == 0, f"tsc found errors:\n{checked.stdout}{checked.stderr}"


@pytest.mark.parametrize("drift", DRIFTS)
def test_a_server_field_the_clients_use_renamed_or_removed_fails_the_type_check(
    verdicts: dict[str, subprocess.CompletedProcess[str]], drift: str
) -> None:
    checked = verdicts[drift]

    assert checked.returncode != 0, "tsc accepted the clients against the drifted document"
    failing = {
        line.split("(", 1)[0] for line in checked.stdout.splitlines() if ": error TS" in line
    }
    assert set(DRIFTS[drift].fails_in) <= failing, checked.stdout


def generate_types(tools: Tools, document: dict[str, Any], workdir: Path) -> str:
    """openapi-typescript's types for `document`, as datasync-api.d.ts holds them."""
    source = workdir / "openapi.json"
    source.write_text(json.dumps(with_headers_sorted(document)), encoding="utf-8")
    output = workdir / API_TYPES.name
    # `--default-non-nullable false`: a field with a default stays optional in a request
    # body (the server fills it in). The working directory has no redocly.yaml to change
    # the output.
    done = subprocess.run(
        [
            str(tools.openapi_typescript),
            str(source),
            "--output",
            str(output),
            "--default-non-nullable",
            "false",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"openapi-typescript failed:\n{done.stdout}{done.stderr}"
    return output.read_text(encoding="utf-8")


def with_headers_sorted(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with each answer's headers in name order. Litestar hands a route's own
    response headers over as a frozenset, so where a route has two (ETag and
    Content-Disposition) their order changes from one process to the next."""
    stable = copy.deepcopy(document)
    for item in stable["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                if "headers" in response:
                    response["headers"] = dict(sorted(response["headers"].items()))
    return stable


def checked_tree(api_types: str, root: Path) -> Path:
    """A copy of what tsc checks, laid out as in the repository, with `api_types` as the
    client's datasync-api.d.ts and the reference examples' module built."""
    client = root / "app" / "dashboard" / "static" / "client"
    dashboard = root / "app" / "dashboard" / "static" / "dashboard"
    checks = root / "tests" / "ts"
    for folder in (client, dashboard, checks):
        folder.mkdir(parents=True)
    shutil.copy(STATIC / "client" / "datasync.d.ts", client)
    (client / API_TYPES.name).write_text(api_types, encoding="utf-8")
    for module in (STATIC / "dashboard").glob("*.js"):
        shutil.copy(module, dashboard)
    for check in [TS_DIR / "tsconfig.json", *TS_DIR.glob("*.ts")]:
        shutil.copy(check, checks)
    (checks / EXAMPLES_MODULE).write_text(
        examples_module(EXAMPLES.read_text(encoding="utf-8")), encoding="utf-8"
    )
    return root


def examples_module(examples: str) -> str:
    """The reference page's functions, each verbatim where `fetch` and `JSON` are its
    route's (tests/ts/routes.ts), exported for tests/ts/reference-page.ts."""
    found = {match["name"]: match for match in EXAMPLE_FUNCTION.finditer(examples)}
    missing = set(EXAMPLE_ROUTES) - set(found)
    assert not missing, f"{EXAMPLES.name} no longer has {sorted(missing)}"
    lines = [
        "// @ts-check",
        f"// Built by tests/js/test_types.py from tests/js/{EXAMPLES.name}, for tsc only.",
        "import { route } from './routes.js';",
        "",
        "const baseUrl = 'https://app.datapublisher.io';",
        "const jwtToken = 'a session token';",
    ]
    for name, (path, method) in EXAMPLE_ROUTES.items():
        function = found[name]
        # Every parameter of the page's functions is an id.
        params = [param.strip() for param in function["params"].split(",") if param.strip()]
        lines += [
            "",
            f"export const {name} = (() => {{",
            f"  const {{ fetch, JSON }} = route('{path}', '{method}');",
            *([f"  /** {' '.join(f'@param {{string}} {p}' for p in params)} */"] if params else []),
            function.group(0),
            f"  return {name};",
            "})();",
        ]
    return "\n".join(lines) + "\n"


def type_check(tools: Tools, tree: Path) -> subprocess.CompletedProcess[str]:
    # From the tree's root, tsc names the files as they are named in the repository.
    return subprocess.run(
        [str(tools.tsc), "--project", "tests/ts", "--pretty", "false"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
    )


def check_types(tools: Tools, api_types: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    return type_check(tools, checked_tree(api_types, workdir / "tree"))


def check_against(
    tools: Tools, document: dict[str, Any], workdir: Path
) -> subprocess.CompletedProcess[str]:
    return check_types(tools, generate_types(tools, document, workdir), workdir)


def drifted(document: dict[str, Any], drift: Drift) -> dict[str, Any]:
    """A copy of `document` with the drift made to the schema it names; every `$ref` to
    that schema sees it, as every route answering that struct would."""
    changed = copy.deepcopy(document)
    operation = next(
        op
        for item in changed["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and op.get("operationId") == drift.operation_id
    )
    body = operation["responses"]["200"] if drift.body == "answer" else operation["requestBody"]
    schema = resolve(changed, body["content"]["application/json"]["schema"])
    for name in drift.path:
        schema = resolve(changed, schema["properties"][name])
    properties: dict[str, Any] = schema["properties"]
    required: list[str] = schema.get("required", [])
    moved = properties.pop(drift.field)
    if drift.renamed_to is not None:
        properties[drift.renamed_to] = moved
    if drift.field in required:
        required.remove(drift.field)
        if drift.renamed_to is not None:
            required.append(drift.renamed_to)
    return changed


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The object schema `schema` stands for, through `$ref`s and the one-part `allOf` that
    Litestar wraps a request body in when it has examples."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        elif len(schema.get("allOf", [])) == 1:
            schema = schema["allOf"][0]
        else:
            return schema
