"""The operator's decisions every connector runs under (allowed hosts and networks, ODBC
drivers, query time), for the API's checks and connection tests and for the engine's runs."""

from __future__ import annotations

from collections.abc import Callable

from app.settings import Settings
from connectors.base import JSON, Environment
from connectors.network_policy import NetworkPolicy


def connector_environment(
    settings: Settings, save_credentials: Callable[[JSON], None] = lambda _credentials: None
) -> Environment:
    """What the operator decides for every connector, plus where rotated credentials go."""
    return Environment(
        allowed_hosts=settings.endpoint_allowlist,
        database_network=NetworkPolicy(
            allowed_networks=settings.sql_networks,
            allow_private=True,
            operator_hint="an operator can allow that network with SQL_ALLOWED_NETWORKS",
        ),
        odbc_drivers=settings.odbc_drivers,
        max_query_timeout_seconds=settings.max_query_timeout_seconds,
        save_credentials=save_credentials,
    )
