"""Which ODBC driver to load.

SQL Server: Microsoft's "ODBC Driver 18/17 for SQL Server" when registered with the
driver manager (odbcinst.ini); else the same Microsoft driver shipped on PyPI in
`mssql-python-odbc`, loaded by path (unixODBC accepts `DRIVER={/path/lib.so}`); else
FreeTDS. A data source may name one in `settings.driver` (a registered name or a path).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyodbc

from connectors.base import ConfigError

MICROSOFT_NAMES = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server")
FREETDS_NAMES = ("FreeTDS",)
POSTGRES_NAMES = ("PostgreSQL Unicode", "PostgreSQL Unicode(x64)", "PostgreSQL ANSI")

# Folder names inside mssql_python_odbc's libs/linux/, most compatible first for Debian.
_BUNDLED_DISTROS = ("debian_ubuntu", "rhel", "suse")


@dataclass(frozen=True, slots=True)
class Driver:
    """A driver as written after DRIVER=, and the connection-string dialect it speaks."""

    name: str
    is_freetds: bool = False


def registered() -> list[str]:
    """Driver names the ODBC driver manager knows (odbcinst.ini)."""
    return list(pyodbc.drivers())


@cache
def bundled_microsoft_driver() -> str | None:
    """Path of libmsodbcsql from the `mssql-python-odbc` wheel, if installed."""
    try:
        import mssql_python_odbc
    except ImportError:
        return None
    machine = platform.machine().lower()
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    root = Path(mssql_python_odbc.get_libs_dir())
    for distro in _BUNDLED_DISTROS:
        found = sorted((root / "linux" / distro / arch / "lib").glob("libmsodbcsql-1*.so*"))
        if found:
            return str(found[-1])
    return None


def _describe(name: str) -> Driver:
    lowered = name.lower()
    return Driver(name, is_freetds="freetds" in lowered or "libtdsodbc" in lowered)


def sql_server_driver(named: str | None = None) -> Driver:
    """The driver for a SQL Server data source (see module docstring for the order)."""
    if named:
        return _describe(named)
    installed = registered()
    for name in MICROSOFT_NAMES:
        if name in installed:
            return Driver(name)
    bundled = bundled_microsoft_driver()
    if bundled:
        return Driver(bundled)
    for name in FREETDS_NAMES:
        if name in installed:
            return Driver(name, is_freetds=True)
    raise ConfigError(
        "no SQL Server ODBC driver is installed: install Microsoft's "
        "'ODBC Driver 18 for SQL Server', the PyPI package mssql-python-odbc, or FreeTDS "
        "(tdsodbc), or name one in settings.driver",
        field="settings.driver",
    )


def postgres_driver(named: str | None = None) -> Driver:
    if named:
        return Driver(named)
    installed = registered()
    for name in POSTGRES_NAMES:
        if name in installed:
            return Driver(name)
    raise ConfigError(
        "no PostgreSQL ODBC driver is installed: install psqlODBC (odbc-postgresql) or "
        "name one in settings.driver",
        field="settings.driver",
    )
