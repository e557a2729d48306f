# ruff: noqa: F811 - pytest fixtures imported from the stand-in are parameters here
"""What a tenant can make the service do with a sql-server or postgresql data source, through
the HTTP API with the real drivers: load no library of their choosing, write no file, reach
no address the operator did not allow, and learn nothing about the service's files or
which ports listen where.

Old rows: a data source stored before these rules is modelled by writing its settings or
credentials straight into the store, past the API; `/test` and syncs must refuse it too.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from app.credential_vault import CredentialVault
from app.db.engine import create_engine
from app.db.models import DataSource
from app.main import create_app
from app.settings import Settings
from tests.api.apps import app_with
from tests.conftest import ApiUser, isolated_stack, register, start_process, stop_process
from tests.services import free_port, port_open
from tests.standins.tds.fixtures import (  # noqa: F401 - pytest fixtures
    TdsStandIn,
    sql_server_driver,
    tds_standin,
)

POSTGRES: dict[str, Any] = {
    "server": "127.0.0.1",
    "port": 5432,
    "username": "postgres",
    "password": "any-fake-password",
    "database": "postgres",
}
SQL_SERVER: dict[str, Any] = {
    "server": "db.example.com",
    "username": "reader",
    "password": "fake-password",
}
BY_TYPE = {"sql-server": SQL_SERVER, "postgresql": POSTGRES}
TYPES = pytest.mark.parametrize("source_type", ["sql-server", "postgresql"])
LOOPBACK_REFUSED = (
    "127.0.0.1 is a loopback address (this machine) and may not be reached; an operator can "
    "allow that network with SQL_ALLOWED_NETWORKS"
)


def create(user: ApiUser, source_type: str, credentials: Any, **settings: Any) -> Any:
    return user.post(
        "/api/data-sources",
        json={
            "name": "db",
            "type": source_type,
            "credentials": credentials,
            "settings": settings,
        },
    )


def created(user: ApiUser, source_type: str, credentials: Any, **settings: Any) -> str:
    response = create(user, source_type, credentials, **settings)
    assert response.status_code == 200, response.text
    return str(response.json()["dataSource"]["id"])


def refused_fields(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.text
    return {d["field"]: d["message"] for d in response.json()["details"]}


def store_as_before(
    settings: Settings,
    source_id: str,
    credentials: dict[str, Any] | None = None,
    source_settings: dict[str, Any] | None = None,
) -> None:
    """Writes a data source's credentials or settings past the API, as a row stored before
    the API checked them would hold them."""
    values: dict[str, Any] = {}
    if credentials is not None:
        values["credentials_encrypted"] = CredentialVault(settings.secret_key).seal(credentials)
    if source_settings is not None:
        values["settings"] = source_settings

    async def write() -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(DataSource).where(DataSource.id == uuid.UUID(source_id)).values(**values)
                )
        finally:
            await engine.dispose()

    asyncio.run(write())


# --- settings.driver -------------------------------------------------------------------------


@pytest.fixture
def marker_library(tmp_path: Path) -> tuple[Path, Path]:
    """A shared library whose constructor creates a marker file when it is loaded."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("needs a C compiler")
    marker = tmp_path / "loaded.marker"
    source = tmp_path / "evil.c"
    source.write_text(
        "#include <stdio.h>\n"
        "__attribute__((constructor)) static void on_load(void) {\n"
        f'  FILE *f = fopen("{marker}", "w"); if (f) fclose(f);\n'
        "}\n"
    )
    library = tmp_path / "evil.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    # The marker works: loading the library creates it.
    subprocess.run(
        [sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(library)!r})"], check=True
    )
    assert marker.exists()
    marker.unlink()
    return library, marker


@TYPES
def test_a_driver_path_is_refused_at_create_and_at_update(
    user: ApiUser, source_type: str, marker_library: tuple[Path, Path]
) -> None:
    library, marker = marker_library
    credentials = BY_TYPE[source_type]
    refused = refused_fields(create(user, source_type, credentials, driver=str(library)))
    assert set(refused) == {"settings.driver"}
    assert "not a file path" in refused["settings.driver"]

    source_id = created(user, source_type, credentials)
    response = user.patch(
        f"/api/data-sources/{source_id}", json={"settings": {"driver": str(library)}}
    )
    assert set(refused_fields(response)) == {"settings.driver"}
    assert not marker.exists()


def test_an_unknown_driver_name_is_refused_listing_the_accepted_names(user: ApiUser) -> None:
    refused = refused_fields(create(user, "postgresql", POSTGRES, driver="Oracle in OraClient"))
    assert '"PostgreSQL Unicode"' in refused["settings.driver"]
    refused = refused_fields(create(user, "sql-server", SQL_SERVER, driver="PostgreSQL Unicode"))
    assert '"FreeTDS"' in refused["settings.driver"]


@TYPES
def test_a_stored_driver_path_is_not_loaded_by_the_connection_test(
    user: ApiUser, settings: Settings, source_type: str, marker_library: tuple[Path, Path]
) -> None:
    library, marker = marker_library
    source_id = created(user, source_type, BY_TYPE[source_type])
    store_as_before(settings, source_id, source_settings={"driver": str(library)})

    answer = user.post(f"/api/data-sources/{source_id}/test")

    assert answer.status_code == 400, answer.text
    assert answer.json()["message"].startswith("settings.driver must be the name of one of")
    assert not marker.exists()


# --- connectionString keywords -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_type", "keyword", "pair"),
    [
        ("sql-server", "DUMPFILE", "DUMPFILE=/tmp/datasync-dump.log"),
        ("sql-server", "DRIVER", "DRIVER={FreeTDS}"),
        ("sql-server", "DSN", "DSN=prod"),
        ("sql-server", "FILEDSN", "FILEDSN=/tmp/x.dsn"),
        ("sql-server", "SAVEFILE", "SAVEFILE=/tmp/x.dsn"),
        ("sql-server", "Trusted_Connection", "Trusted_Connection=yes"),
        ("sql-server", "Bogus", "Bogus=1"),
        ("postgresql", "pqopt", "pqopt={hostaddr=169.254.169.254}"),
        ("postgresql", "ConnSettings", "ConnSettings={SET default_transaction_read_only=off}"),
        ("postgresql", "CommLog", "CommLog=1"),
        ("postgresql", "DRIVER", "DRIVER={PostgreSQL Unicode}"),
        ("postgresql", "Bogus", "Bogus=1"),
    ],
)
def test_a_connection_string_keyword_off_the_list_is_refused_by_name(
    user: ApiUser, source_type: str, keyword: str, pair: str
) -> None:
    given = f"SERVER=db.example.com;UID=u;PWD=p;DATABASE=sales;{pair}"
    refused = refused_fields(create(user, source_type, {"connectionString": given}))
    assert set(refused) == {"credentials.connectionString"}
    assert f"'{keyword}'" in refused["credentials.connectionString"]


@TYPES
@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r"], ids=["CRLF", "LF", "CR"])
def test_a_line_break_in_a_braced_uid_is_refused(
    user: ApiUser, source_type: str, line_break: str
) -> None:
    given = f"SERVER=db.example.com;UID={{u{line_break}import os; os.system('id')}};PWD=p"
    refused = refused_fields(create(user, source_type, {"connectionString": given}))
    assert set(refused) == {"credentials.connectionString"}


def test_a_stored_dumpfile_is_refused_by_the_connection_test_and_nothing_is_written(
    user: ApiUser, settings: Settings, tds_standin: TdsStandIn, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.log"
    source_id = created(user, "sql-server", tds_standin.credentials(), driver="FreeTDS")
    stored = (
        f"SERVER=127.0.0.1,{tds_standin.port};UID={tds_standin.username};"
        f"PWD={{{tds_standin.password}}};DUMPFILE={dump}"
    )
    store_as_before(settings, source_id, credentials={"connectionString": stored})

    answer = user.post(f"/api/data-sources/{source_id}/test")

    assert answer.status_code == 400, answer.text
    assert "'DUMPFILE' is not allowed" in answer.json()["message"]
    assert not dump.exists()


# --- control characters ------------------------------------------------------------------------


@TYPES
@pytest.mark.parametrize("field", ["username", "password", "server", "database"])
@pytest.mark.parametrize("char", ["\r", "\n", "\x00"], ids=["CR", "LF", "NUL"])
def test_a_control_character_in_a_credential_is_refused_naming_the_field(
    user: ApiUser, source_type: str, field: str, char: str
) -> None:
    credentials = BY_TYPE[source_type] | {field: f"value{char}DUMPFILE=/tmp/x"}
    assert f"credentials.{field}" in refused_fields(create(user, source_type, credentials))


# --- numeric settings --------------------------------------------------------------------------


@TYPES
@pytest.mark.parametrize(
    ("key", "highest", "too_big"),
    [
        ("loginTimeoutSeconds", 60, 1e9),
        ("batchRows", 100_000, 10**12),
        ("maxTextSize", 16 * 1024 * 1024, 2**40),
        ("maxBinarySize", 16 * 1024 * 1024, 2**40),
    ],
)
def test_numeric_settings_are_accepted_at_their_bound_and_refused_past_it(
    user: ApiUser, source_type: str, key: str, highest: int, too_big: float
) -> None:
    credentials = BY_TYPE[source_type]
    created(user, source_type, credentials, **{key: highest})
    for wrong in (highest + 1, too_big, 0, True):
        refused = refused_fields(create(user, source_type, credentials, **{key: wrong}))
        assert set(refused) == {f"settings.{key}"}, wrong
        assert str(highest) in refused[f"settings.{key}"]


# --- database hosts: the network policy ----------------------------------------------------------


@pytest.fixture(scope="module")
def closed_service(
    database_url: str, service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient[Any]]:
    """The API and a worker process of an operator who listed no special network
    (SQL_ALLOWED_NETWORKS empty): loopback is this machine, and refused."""
    directory = tmp_path_factory.mktemp("closed-network")
    with isolated_stack(database_url, service_env, directory, SQL_ALLOWED_NETWORKS="") as (
        settings,
        env,
    ):
        worker = start_process(["worker"], env, directory / "worker.log")
        try:
            with TestClient(create_app(settings), raise_server_exceptions=False) as client:
                yield client
        finally:
            stop_process(worker)


def test_loopback_postgres_is_refused_alike_whatever_listens_at_test_and_at_sync(
    closed_service: TestClient[Any],
) -> None:
    """The machine's PostgreSQL trusts `postgres` on 127.0.0.1:5432: with loopback allowed
    this login works with any password (see below). Refused, the answer is one sentence
    for PostgreSQL's port, MariaDB's and a closed one."""
    user = register(closed_service)
    closed = free_port()
    assert port_open(5432) and port_open(3306) and not port_open(closed)
    tested, synced = [], []
    for port in (5432, 3306, closed):
        source_id = created(user, "postgresql", POSTGRES | {"port": port})
        answer = user.post(f"/api/data-sources/{source_id}/test")
        assert answer.status_code == 400, answer.text
        tested.append(answer.json()["message"])
        schedule_id = user.schedule(source_id, user.target_file(), "daily", query="SELECT 1 AS one")
        sync = user.post(f"/api/sync/schedules/{schedule_id}/sync")
        assert sync.status_code == 500, sync.text
        synced.append(sync.json()["message"])
    assert tested == [LOOPBACK_REFUSED] * 3
    assert len(set(synced)) == 1 and LOOPBACK_REFUSED in synced[0]


@pytest.mark.parametrize(
    ("server", "says"),
    [
        ("localhost", "'localhost' resolves to"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is a loopback address"),
        ("::1", "::1 is a loopback address"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
    ],
)
def test_other_names_and_forms_of_this_machine_are_refused_too(
    closed_service: TestClient[Any], server: str, says: str
) -> None:
    user = register(closed_service)
    for source_type in ("postgresql", "sql-server"):
        source_id = created(user, source_type, BY_TYPE[source_type] | {"server": server})
        answer = user.post(f"/api/data-sources/{source_id}/test")
        assert answer.status_code == 400, answer.text
        assert says in answer.json()["message"] and "may not be reached" in answer.json()["message"]


def test_loopback_postgres_is_reached_when_the_operator_lists_it(
    service_env: dict[str, str],
) -> None:
    with app_with(service_env, SQL_ALLOWED_NETWORKS="127.0.0.0/8") as client:
        user = register(client)
        source_id = created(user, "postgresql", POSTGRES)
        details = user.ok("POST", f"/api/data-sources/{source_id}/test")["details"]
    assert details["serverVersion"].startswith("PostgreSQL")


# --- error texts ---------------------------------------------------------------------------------


def test_a_wrong_password_answers_a_clear_auth_message_without_paths_or_the_password(
    user: ApiUser, tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    wrong = "fake-wrong;Pa55{word"
    source_id = created(
        user, "sql-server", tds_standin.credentials(password=wrong), driver=sql_server_driver
    )

    answer = user.post(f"/api/data-sources/{source_id}/test")

    assert answer.status_code == 400, answer.text
    message = answer.json()["message"]
    assert message.startswith("the database refused the credentials or access: ")
    assert f"Login failed for user '{tds_standin.username}'" in message
    assert "Pa55" not in answer.text and "/" not in message and ".so" not in message
    assert "[FreeTDS]" not in message and "[Microsoft]" not in message
