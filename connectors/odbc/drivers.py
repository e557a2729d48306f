"""Which ODBC driver a data source uses: chosen by name among the ones the service offers.

A tenant names a driver in `settings.driver`; the service maps the name to what it writes
after DRIVER=. The tenant's text never stands there itself: unixODBC loads whatever library
path follows DRIVER= (its constructor runs on load), and its "Can't open lib" answers tell
which files exist.

Names offered, in the order the default is chosen when `settings.driver` is absent:
- sql-server: Microsoft's "ODBC Driver 18 for SQL Server" and "ODBC Driver 17 for SQL Server"
  when registered with the driver manager (odbcinst.ini); "ODBC Driver 18 for SQL Server"
  also names the copy of that driver in the PyPI package `mssql-python-odbc` when no
  registered one has the name (the service loads it by path); "FreeTDS" when registered.
- postgresql: "PostgreSQL Unicode", "PostgreSQL Unicode(x64)", "PostgreSQL ANSI" when
  registered.
- both: the names the operator lists in ODBC_DRIVERS (never defaults).
Names match case-insensitively, as the driver manager reads them.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
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
    """`name` is what a data source says and is shown; `target` is what follows DRIVER=
    (a registered name, or the path of the bundled library); `is_freetds` says which
    connection-string dialect it speaks."""

    name: str
    target: str
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


def _operator_drivers(names: Iterable[str], known: list[Driver]) -> list[Driver]:
    taken = {d.name.lower() for d in known}
    return [
        Driver(name, name, is_freetds="freetds" in name.lower())
        for name in names
        if name.lower() not in taken
    ]


def sql_server_drivers(operator_names: Iterable[str] = ()) -> list[Driver]:
    """The SQL Server drivers a data source may name, the default first."""
    installed = registered()
    offered = [Driver(name, name) for name in MICROSOFT_NAMES if name in installed]
    bundled = bundled_microsoft_driver()
    if bundled and MICROSOFT_NAMES[0] not in installed:
        offered.append(Driver(MICROSOFT_NAMES[0], bundled))
    offered += [Driver(name, name, is_freetds=True) for name in FREETDS_NAMES if name in installed]
    return offered + _operator_drivers(operator_names, offered)


def postgres_drivers(operator_names: Iterable[str] = ()) -> list[Driver]:
    """The PostgreSQL drivers a data source may name, the default first."""
    installed = registered()
    offered = [Driver(name, name) for name in POSTGRES_NAMES if name in installed]
    return offered + _operator_drivers(operator_names, offered)


def driver_problem(named: object, offered: list[Driver]) -> str | None:
    """Why `named` (a `settings.driver` value; None for the default) cannot be used."""
    if named is None:
        return None if offered else "no driver for this source type is installed on this service"
    if isinstance(named, str) and any(d.name.lower() == named.lower() for d in offered):
        return None
    if not offered:
        return "no driver for this source type is installed on this service"
    names = ", ".join(f'"{d.name}"' for d in offered)
    return f"must be the name of one of this service's drivers (not a file path): {names}"


def choose(named: object, offered: list[Driver]) -> Driver:
    """The driver `settings.driver` names, or the default; ConfigError otherwise."""
    problem = driver_problem(named, offered)
    if problem:
        raise ConfigError(f"settings.driver {problem}", field="settings.driver")
    if named is None:
        return offered[0]
    assert isinstance(named, str)
    return next(d for d in offered if d.name.lower() == named.lower())
