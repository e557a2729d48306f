"""Configuration, read once: environment variables over an optional `datasync.yaml`.

Nothing else in the project reads `os.environ`. A missing or malformed setting stops start-up
with one line naming it (`SettingsError`), never a traceback.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from app.storage.location import (
    StorageLocation,
    StorageUrlError,
    open_object_store,
    parse_storage_url,
)


class SettingsError(Exception):
    """One clear line about one setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("./data")
    database_url: str = ""  # default: SQLite file under data_dir
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Deployments (or test runs) sharing one Redis keep their jobs apart by queue name.
    queue_name: str = "datasync:queue"
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    cors_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = 600
    max_retries: int = 3
    retry_base_seconds: float = 30.0
    job_timeout_seconds: int = 3600
    manual_sync_wait_seconds: float = 60.0
    file_versions_kept: int = 10
    # Where target files live (app/storage/location.py): a local folder (default
    # DATA_DIR/files) or s3://bucket/prefix, gs://bucket/prefix, az://container/prefix.
    storage_url: str = ""
    # Lifetime of the URLs a download with ?redirect=true sends clients to (object stores).
    storage_presign_seconds: int = 300
    max_body_bytes: int = 1_048_576
    session_token_minutes: int = 60
    # Lifetime of the access tokens OAuth clients get from POST /oauth/token (at most an hour).
    oauth_token_minutes: int = 60
    # Who may create an account through POST /api/auth/register: anyone ("open"), only the
    # first account on an empty store, which becomes the admin ("first-user"), or nobody
    # ("closed"; accounts come from the admin or `datasync create-user`).
    registration: str = "first-user"
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # addresses or networks, or "*"). None by default: a client cannot pick its own address.
    forwarded_allow_ips: tuple[str, ...] = ()
    # The interactive API docs under /schema (the OpenAPI document itself is always served).
    api_docs: bool = True
    # Hosts (beyond each connector's own vendor's) that endpoint overrides may name; these
    # alone may be reached over plain http. `*.example.com` admits subdomains.
    endpoint_allowlist: frozenset[str] = frozenset()
    # Networks a SQL data source may reach although they are loopback, link-local or
    # otherwise special (CIDRs). Private ranges need no entry: internal databases are the
    # product's job; this machine and the cloud metadata service are not.
    sql_allowed_networks: tuple[str, ...] = ()
    # ODBC driver names, registered with the driver manager, that data sources may name on
    # top of the ones the service detects itself.
    odbc_drivers: tuple[str, ...] = ()
    # Upper bound of a schedule's `queryTimeoutSeconds`.
    max_query_timeout_seconds: int = 3600
    # Hard deadline of `POST /api/data-sources/{id}/test` (the test process is killed then).
    connection_test_timeout_seconds: float = 60.0
    # Each data source's credentials are checked this often (0: never on a timer).
    credential_check_hours: int = 24
    # `GET /metrics` needs `Authorization: Bearer <token>` when set.
    metrics_token: str = ""
    # The store's metrics are recomputed at most this often across all API processes.
    metrics_cache_seconds: float = 15.0
    # Runs of one user executing at once, across all workers; the rest wait in order.
    max_concurrent_runs_per_user: int = 2
    # Tokens issued by the host web app: HS256 with a shared secret, or RS256/ES256 via JWKS.
    jwt_secret: str = ""
    jwt_jwks_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    scheduler_interval_seconds: int = 30
    webhook_timeout_seconds: float = 30.0
    # Webhook URLs may resolve to loopback/private addresses only when the operator says so.
    webhook_allow_private: bool = False
    # Ports webhook URLs may name ("any" lifts the restriction).
    webhook_allowed_ports: tuple[str, ...] = ("80", "443")
    # Waits before each retry of a failed delivery: 7 tries over about 8.6 hours.
    webhook_retry_seconds: tuple[int, ...] = (10, 60, 300, 1800, 7200, 21600)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def storage_location(self) -> StorageLocation:
        return parse_storage_url(self.storage_url, self.data_dir)

    @property
    def sqlalchemy_url(self) -> str:
        """Async driver URL for SQLAlchemy; plain `postgresql://` URLs are accepted too."""
        url = (
            self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'datasync.db').resolve()}"
        )
        scheme, _, rest = url.partition("://")
        async_schemes = {
            "postgres": "postgresql+asyncpg",
            "postgresql": "postgresql+asyncpg",
            "sqlite": "sqlite+aiosqlite",
        }
        return f"{async_schemes.get(scheme, scheme)}://{rest}"

    @property
    def sql_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.sql_allowed_networks)

    @property
    def webhook_ports(self) -> frozenset[int] | None:
        """The ports webhook URLs may use; None when any port is allowed."""
        if tuple(p.lower() for p in self.webhook_allowed_ports) == ("any",):
            return None
        return frozenset(int(p) for p in self.webhook_allowed_ports)

    @property
    def host_jwt_enabled(self) -> bool:
        return bool(self.jwt_secret or self.jwt_jwks_url)


def _split_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _convert(name: str, raw: Any, default: Any) -> Any:
    env_name = name.upper()
    try:
        if isinstance(default, bool):
            return str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(str(raw))
        if isinstance(default, tuple):
            items = _split_list(raw)
            return (
                tuple(int(item) for item in items)
                if default and isinstance(default[0], int)
                else tuple(items)
            )
        if isinstance(default, frozenset):
            return frozenset(h.lower().rstrip(".") for h in _split_list(raw))
    except ValueError:
        kind = {
            "int": "whole number",
            "float": "number",
            "tuple": "comma-separated list of whole numbers",
        }.get(type(default).__name__, "comma-separated list of host names")
        raise SettingsError(f"{env_name} must be a {kind}, got {raw!r}") from None
    return str(raw)


def _check(settings: Settings) -> None:
    if not settings.secret_key:
        raise SettingsError(
            "SECRET_KEY is not set: set it to a long random string "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    if len(settings.secret_key) < 32:
        raise SettingsError("SECRET_KEY is too short: use at least 32 characters")
    if urlsplit(settings.redis_url).scheme not in {"redis", "rediss", "unix"}:
        raise SettingsError(f"REDIS_URL must be a redis:// URL, got {settings.redis_url!r}")
    if settings.database_url and urlsplit(settings.database_url).scheme.split("+")[0] not in {
        "sqlite",
        "postgres",
        "postgresql",
    }:
        raise SettingsError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise SettingsError(
            f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {settings.log_level!r}"
        )
    if settings.jwt_secret and settings.jwt_jwks_url:
        raise SettingsError("set either JWT_SECRET or JWT_JWKS_URL for host-app tokens, not both")
    if not 1 <= settings.oauth_token_minutes <= 60:
        raise SettingsError("OAUTH_TOKEN_MINUTES must be from 1 to 60")
    if settings.rate_limit_per_minute < 1:
        raise SettingsError("RATE_LIMIT_PER_MINUTE must be at least 1")
    if not 1 <= settings.connection_test_timeout_seconds <= 600:
        raise SettingsError("CONNECTION_TEST_TIMEOUT_SECONDS must be from 1 to 600")
    if not 0 <= settings.credential_check_hours <= 720:
        raise SettingsError("CREDENTIAL_CHECK_HOURS must be from 0 (off) to 720")
    if settings.registration not in {"open", "first-user", "closed"}:
        raise SettingsError(
            f"REGISTRATION must be open, first-user or closed, got {settings.registration!r}"
        )
    for entry in settings.forwarded_allow_ips:
        if entry != "*":
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(
                    "FORWARDED_ALLOW_IPS must be comma-separated proxy addresses or networks "
                    f"(or *), got {entry!r}"
                ) from None
    if not 0 <= settings.metrics_cache_seconds <= 3600:
        raise SettingsError("METRICS_CACHE_SECONDS must be from 0 (no cache) to 3600")
    if settings.max_concurrent_runs_per_user < 1:
        raise SettingsError("MAX_CONCURRENT_RUNS_PER_USER must be at least 1")
    if not 1 <= settings.max_query_timeout_seconds <= 86_400:
        raise SettingsError("MAX_QUERY_TIMEOUT_SECONDS must be from 1 to 86400 (one day)")
    for entry in settings.sql_allowed_networks:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"SQL_ALLOWED_NETWORKS must be comma-separated networks such as "
                f"127.0.0.0/8,::1/128, got {entry!r}"
            ) from None
    for name in settings.odbc_drivers:
        if any(c in name for c in "/\\;{}=\r\n\0"):
            raise SettingsError(
                f"ODBC_DRIVERS must name drivers registered in odbcinst.ini (no paths), got {name!r}"
            )
    try:
        # Opening an object store's client checks its settings, without a request yet.
        open_object_store(settings.storage_location, settings.data_dir / "cache")
    except StorageUrlError as error:
        raise SettingsError(str(error)) from None
    if not 1 <= settings.storage_presign_seconds <= 3600:
        raise SettingsError(
            "STORAGE_PRESIGN_SECONDS must be from 1 to 3600: presigned download URLs are "
            "meant to be short-lived"
        )
    ports = [p.lower() for p in settings.webhook_allowed_ports]
    if ports != ["any"] and not all(p.isdigit() and 1 <= int(p) <= 65535 for p in ports):
        raise SettingsError(
            "WEBHOOK_ALLOWED_PORTS must be comma-separated ports from 1 to 65535, or any; "
            f"got {','.join(ports)!r}"
        )


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Builds settings from `datasync.yaml` (or DATASYNC_CONFIG) overridden by environment."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    config_path = Path(environ.get("DATASYNC_CONFIG", "datasync.yaml"))
    if config_path.is_file():
        try:
            loaded = yaml.safe_load(config_path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"{config_path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise SettingsError(f"{config_path} must hold a mapping of setting: value")
        values.update({str(k).lower(): v for k, v in loaded.items()})
    values.update({k.lower(): v for k, v in environ.items()})
    defaults = Settings()
    kwargs: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name in values:
            kwargs[f.name] = _convert(f.name, values[f.name], getattr(defaults, f.name))
    settings = Settings(**kwargs)
    _check(settings)
    return settings


@cache
def get_settings() -> Settings:
    return load_settings()
