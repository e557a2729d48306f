"""What a sql-server data source's credentials say, read under one set of rules, and the
connection string the service writes from them for the chosen driver.

Credentials are fields, `{server, port?, username, password, encrypt?,
trustServerCertificate?}`, or `{connectionString}`. Both become one SqlServerLogin, at save
time (validate_credentials) and again before every connection, so a data source stored
before a rule existed cannot slip through at sync time. The service writes the whole
connection string itself; nothing of the tenant's text is passed on as it was typed.

`server` (or SERVER=): `host`, `host,port`, `tcp:host[,port]`, `host\\instance`,
`[ipv6]`, `[ipv6],port`; a host is a DNS name or an IP address (connectors/odbc/hosts.py).

Connection-string keywords (any case): SERVER, PORT, DATABASE, UID, PWD; Encrypt (yes, no,
strict; also true, false, mandatory, optional) or FreeTDS's spelling Encryption (require,
request, off, strict); TrustServerCertificate; HostNameInCertificate; ApplicationIntent
(ReadOnly, ReadWrite); MultiSubnetFailover; TDS_Version (FreeTDS); Authentication
(SqlPassword, ActiveDirectoryPassword, ActiveDirectoryServicePrincipal). Every other keyword
is refused by name, among them: DRIVER, DSN, FILEDSN, SAVEFILE (the driver manager loads a
library or reads and writes files), DUMPFILE, DEBUGFLAGS (FreeTDS writes a file),
Address, Addr, ServerName, FailoverPartner (a host other than the checked one),
ServerCertificate, ClientCertificate, KeyStore* (read files), Trusted_Connection and the
other Authentication modes (they log in as the service's own identity), ClientCharset (the
service reads UTF-8 and sets it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from connectors.base import JSON, ConfigError, Problem
from connectors.odbc import connection_string, hosts
from connectors.odbc.drivers import Driver

T = TypeVar("T")

APPLICATION_NAME = "DataSync"
DEFAULT_PORT = 1433
BROWSER_PORT = 1434  # SQL Server Browser, which names a named instance's port

KEYWORDS = {
    k.lower(): k
    for k in (
        "SERVER",
        "PORT",
        "DATABASE",
        "UID",
        "PWD",
        "Encrypt",
        "Encryption",
        "TrustServerCertificate",
        "HostNameInCertificate",
        "ApplicationIntent",
        "MultiSubnetFailover",
        "TDS_Version",
        "Authentication",
    )
}

_ENCRYPT = {
    "yes": "yes",
    "true": "yes",
    "mandatory": "yes",
    "require": "yes",
    "no": "no",
    "false": "no",
    "optional": "no",
    "off": "no",
    "strict": "strict",
    "request": "request",
}
# Microsoft's driver has no "encrypt if the server can": `no` still encrypts the login and
# whatever the server insists on, which is what FreeTDS's `request` means in practice.
_MICROSOFT_ENCRYPT = {"yes": "yes", "no": "no", "strict": "strict", "request": "no"}
_FREETDS_ENCRYPTION = {"yes": "require", "no": "off", "strict": "strict", "request": "request"}
_SWITCH = {"yes": True, "true": True, "no": False, "false": False}
_INTENT = {"readonly": "ReadOnly", "readwrite": "ReadWrite"}
_TDS_VERSIONS = ("7.0", "7.1", "7.2", "7.3", "7.4", "8.0", "auto")
# Modes that log in with what the data source holds; the others (Integrated, Msi,
# ManagedIdentity, Default, Interactive, ...) would use the service's own identity.
_AUTHENTICATION = {
    m.lower(): m
    for m in ("SqlPassword", "ActiveDirectoryPassword", "ActiveDirectoryServicePrincipal")
}
_PROTOCOL = re.compile(r"(tcp|np|lpc|admin):", re.IGNORECASE)
_INSTANCE = re.compile(r"[A-Za-z_][A-Za-z0-9_$#-]{0,31}")
_SERVER_FORMS = "host, host,port, tcp:host,port, host\\instance or [IPv6 address],port"


@dataclass(frozen=True, slots=True)
class SqlServerLogin:
    """`host` as typed (an IPv6 address without brackets); `encrypt` is yes, no, strict,
    request or None for the driver's default."""

    host: str
    port: int | None
    instance: str | None
    username: str
    password: str
    encrypt: str | None = None
    trust_server_certificate: bool | None = None
    host_name_in_certificate: str | None = None
    application_intent: str | None = None
    multi_subnet_failover: bool | None = None
    tds_version: str | None = None
    authentication: str | None = None
    from_connection_string: bool = False

    def field(self, name: str) -> str:
        """Where a problem with credential `name` is reported."""
        return (
            "credentials.connectionString" if self.from_connection_string else f"credentials.{name}"
        )

    @property
    def resolve_port(self) -> int:
        """The port named in the DNS lookup (it does not change the addresses)."""
        return self.port or (BROWSER_PORT if self.instance else DEFAULT_PORT)


def parse_server(text: str) -> tuple[str, int | None, str | None]:
    """(host, port, instance) of a SQL Server `server`; ValueError saying what is wrong."""
    rest = text.strip()
    protocol = _PROTOCOL.match(rest)
    if protocol:
        if protocol.group(1).lower() != "tcp":
            raise ValueError(f"must reach the server over TCP: {_SERVER_FORMS}")
        rest = rest[protocol.end() :]
    port_text = ""
    if rest.startswith("["):
        close = rest.find("]")
        host, after = rest[1:close], rest[close + 1 :]
        if close < 0 or hosts.ip_literal(host) is None or ":" not in host:
            raise ValueError("brackets must enclose an IPv6 address")
        if after and not after.startswith(","):
            raise ValueError(f"must be one of: {_SERVER_FORMS}")
        port_text = after[1:]
    elif "," in rest:
        host, _, port_text = rest.rpartition(",")
    else:
        host = rest
    instance = None
    if "\\" in host:
        host, _, instance = host.partition("\\")
        if not _INSTANCE.fullmatch(instance):
            raise ValueError("the instance name after '\\' must be letters, digits, '_' or '$'")
    problem = hosts.host_problem(host.strip())
    if problem:
        raise ValueError(f"{problem}: {_SERVER_FORMS}")
    return hosts.unbracketed(host.strip()), _port(port_text) if port_text else None, instance


def _port(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")
    return int(text)


def read_login(credentials: JSON) -> tuple[SqlServerLogin | None, list[Problem]]:
    """The login the credentials describe, or None and what is wrong (at least one
    problem then)."""
    given = credentials.get("connectionString")
    if given is not None:
        return _from_connection_string(given)
    return _from_fields(credentials)


def _from_fields(credentials: JSON) -> tuple[SqlServerLogin | None, list[Problem]]:
    problems: list[Problem] = []
    for key in ("server", "username", "password"):
        value = credentials.get(key)
        if not isinstance(value, str) or not value:
            problems.append(Problem(f"credentials.{key}", "is required (a non-empty string)"))
    port = credentials.get("port")
    if port is not None and not (
        isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
    ):
        problems.append(Problem("credentials.port", "must be an integer from 1 to 65535"))
    for key in ("encrypt", "trustServerCertificate"):
        if key in credentials and not isinstance(credentials[key], bool):
            problems.append(Problem(f"credentials.{key}", "must be true or false"))
    server = credentials.get("server")
    parsed: tuple[str, int | None, str | None] | None = None
    if isinstance(server, str) and server:
        try:
            parsed = parse_server(server)
        except ValueError as exc:
            problems.append(Problem("credentials.server", str(exc)))
    if parsed and parsed[1] and port is not None and parsed[1] != port:
        problems.append(
            Problem("credentials.port", "differs from the port in credentials.server; give one")
        )
    if problems or parsed is None:
        return None, problems or [Problem("credentials.server", "is required")]
    host, server_port, instance = parsed
    encrypt = credentials.get("encrypt")
    return SqlServerLogin(
        host=host,
        port=server_port or port,
        instance=instance,
        username=credentials["username"],
        password=credentials["password"],
        encrypt=None if encrypt is None else ("yes" if encrypt else "no"),
        trust_server_certificate=credentials.get("trustServerCertificate"),
    ), []


def _from_connection_string(given: Any) -> tuple[SqlServerLogin | None, list[Problem]]:
    def refused(message: str) -> tuple[None, list[Problem]]:
        return None, [Problem("credentials.connectionString", message)]

    pairs, problem = connection_string.tenant_pairs(given, KEYWORDS)
    if problem or pairs is None:
        return refused(problem or "must be a non-empty string")
    if "Encrypt" in pairs and "Encryption" in pairs:
        return refused("give Encrypt or Encryption, not both")
    try:
        host, port, instance = parse_server(pairs["SERVER"])
        if "PORT" in pairs:
            if port is not None:
                raise ValueError("the port is given in both SERVER and PORT")
            port = _port(pairs["PORT"])
        encrypt_keyword = "Encrypt" if "Encrypt" in pairs else "Encryption"
        login = SqlServerLogin(
            host=host,
            port=port,
            instance=instance,
            username=pairs["UID"],
            password=pairs["PWD"],
            encrypt=_one_of(pairs, encrypt_keyword, _ENCRYPT),
            trust_server_certificate=_one_of(pairs, "TrustServerCertificate", _SWITCH),
            host_name_in_certificate=_host_name(pairs.get("HostNameInCertificate")),
            application_intent=_one_of(pairs, "ApplicationIntent", _INTENT),
            multi_subnet_failover=_one_of(pairs, "MultiSubnetFailover", _SWITCH),
            tds_version=_one_of(pairs, "TDS_Version", {v: v for v in _TDS_VERSIONS}),
            authentication=_one_of(pairs, "Authentication", _AUTHENTICATION),
            from_connection_string=True,
        )
    except ValueError as exc:
        return refused(str(exc))
    return login, []


def _one_of(pairs: dict[str, str], keyword: str, values: dict[str, T]) -> T | None:
    if keyword not in pairs:
        return None
    value = values.get(pairs[keyword].strip().lower())
    if value is None:
        raise ValueError(f"{keyword} must be one of: {', '.join(values)}")
    return value


def _host_name(value: str | None) -> str | None:
    if value is None:
        return None
    problem = hosts.host_problem(value)
    if problem:
        raise ValueError(f"HostNameInCertificate {problem}")
    return value


def driver_problems(login: SqlServerLogin, driver: Driver) -> list[Problem]:
    """What `driver` cannot pass. FreeTDS 1.3 ends a braced value at the first '}' followed
    by ';' and ignores the '}}' escape: a password is cut short (measured: login fails),
    and a user name `u};DUMPFILE=/path;X={` adds a keyword of its own (measured: FreeTDS
    wrote its dump file there)."""
    if not driver.is_freetds:
        return []
    values = {"username": login.username, "password": login.password}
    return [
        Problem(
            login.field(name),
            "cannot contain '}' with FreeTDS; use Microsoft's ODBC driver (settings.driver) "
            "or change it",
        )
        for name, value in values.items()
        if value and "}" in value
    ]


def connection_pairs(
    login: SqlServerLogin, driver: Driver, database: str | None, address: str | None
) -> dict[str, str | None]:
    """The connection string's pairs for `driver`, connecting to `address` (the checked
    address of login.host; None only to show or test the string, never to connect). A
    DATABASE in the tenant's connection string is replaced: `database` is the schedule's
    databaseName, or None to log in to the login's default database."""
    if driver.is_freetds and database and "}" in database:
        raise ConfigError(
            "config.databaseName cannot contain '}' with FreeTDS; use Microsoft's ODBC "
            "driver (settings.driver)",
            field="config.databaseName",
        )
    target = address or login.host
    # A named instance's port comes from the SQL Server Browser on the same address.
    named_instance = f"{target}\\{login.instance}" if login.instance and not login.port else None
    pairs: dict[str, str | None] = {"DRIVER": driver.target}
    if driver.is_freetds:
        # FreeTDS does not validate certificates, so the host name has no use beyond DNS,
        # and it must not be used to look up a freetds.conf section either.
        pairs |= {
            "SERVER": named_instance or target,
            "PORT": None if named_instance else str(login.port or DEFAULT_PORT),
            "TDS_Version": login.tds_version or "7.4",
            "ClientCharset": "UTF-8",
            "Encryption": _FREETDS_ENCRYPTION.get(login.encrypt or ""),
            "ApplicationIntent": login.application_intent,
        }
    else:
        server = named_instance or (f"{target},{login.port}" if login.port else target)
        # Connected by address, the driver would check the certificate against the
        # address; HostNameInCertificate makes it check the name the tenant typed
        # (measured with Driver 18.6: validation passes for that name, fails for another).
        typed_name = None if hosts.ip_literal(login.host) else login.host
        pairs |= {
            "SERVER": server,
            "Encrypt": _MICROSOFT_ENCRYPT.get(login.encrypt or ""),
            "TrustServerCertificate": _yes_no(login.trust_server_certificate),
            "HostNameInCertificate": login.host_name_in_certificate or typed_name,
            "ApplicationIntent": login.application_intent,
            "MultiSubnetFailover": _yes_no(login.multi_subnet_failover),
            "Authentication": login.authentication,
        }
    return pairs | {
        "DATABASE": database,
        "UID": login.username,
        "PWD": login.password,
        "APP": APPLICATION_NAME,
    }


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")
