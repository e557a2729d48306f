"""Configuration, read once: environment variables over an optional `datasync.yaml`.

Nothing else in the project reads `os.environ`. A missing or malformed setting stops start-up
with one line naming it (`SettingsError`), never a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

# Hosts a data source may aim a connector at without the operator's say-so: Google's and
# Microsoft's public and national-cloud endpoints.
DEFAULT_ENDPOINT_HOSTS = frozenset(
    {
        "sheets.googleapis.com",
        "oauth2.googleapis.com",
        "www.googleapis.com",
        "accounts.google.com",
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    }
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
    max_body_bytes: int = 1_048_576
    session_token_minutes: int = 60
    endpoint_allowlist: frozenset[str] = DEFAULT_ENDPOINT_HOSTS
    # Tokens issued by the host web app: HS256 with a shared secret, or RS256/ES256 via JWKS.
    jwt_secret: str = ""
    jwt_jwks_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    scheduler_interval_seconds: int = 30
    webhook_timeout_seconds: float = 30.0
    # Webhook URLs may resolve to loopback/private addresses only when the operator says so.
    webhook_allow_private: bool = False
    # Waits before each retry of a failed delivery: 7 tries over about 8.6 hours.
    webhook_retry_seconds: tuple[int, ...] = (10, 60, 300, 1800, 7200, 21600)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

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
            return DEFAULT_ENDPOINT_HOSTS | frozenset(h.lower() for h in _split_list(raw))
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
    if settings.rate_limit_per_minute < 1:
        raise SettingsError("RATE_LIMIT_PER_MINUTE must be at least 1")


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
