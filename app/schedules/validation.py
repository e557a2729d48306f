"""What a schedule's `config` may hold, checked before anything is stored.

A config mixes timing (`syncTime`…), sync options (`primaryKey`…) and the source selection
(`spreadsheetId`…). The selection is merged over the data source's settings and checked by
the source type's connector; every problem is reported at once, each naming its field.
"""

from __future__ import annotations

from typing import Any

from app.errors import InvalidInput
from app.scheduling import Cadence, parse_cadence
from app.selection import SYNC_OPTION_KEYS, TIMING_KEYS, merged_selection
from app.sync.change_detection import option_problems as change_detection_problems
from connectors.base import JSON, Environment
from connectors.declaration import field_problems, with_connector_problems
from connectors.registry import connector_class, declaration_of, source_types

Problems = list[dict[str, str]]


def _sync_option_problems(config: JSON) -> Problems:
    problems: Problems = []
    key = config.get("primaryKey")
    if key is not None and not (
        (isinstance(key, str) and key.strip())
        or (isinstance(key, list) and key and all(isinstance(k, str) and k.strip() for k in key))
    ):
        problems.append(
            {
                "field": "config.primaryKey",
                "message": "must be a column name or a non-empty list of column names",
            }
        )
    header_row = config.get("headerRow", 1)
    if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
        problems.append(
            {"field": "config.headerRow", "message": "must be a whole number, 1 or more"}
        )
    drop = config.get("maxRowDropPercent", 50)
    if isinstance(drop, bool) or not isinstance(drop, int | float) or not 0 <= drop <= 100:
        problems.append(
            {"field": "config.maxRowDropPercent", "message": "must be a number from 0 to 100"}
        )
    return problems + change_detection_problems(config)


def _foreign_keys(source_type: str, config: JSON, own_keys: frozenset[str]) -> Problems:
    problems: Problems = []
    for key in config:
        if key in own_keys or key in TIMING_KEYS or key in SYNC_OPTION_KEYS:
            continue
        owners = [t for t in source_types() if t != source_type and key in _selection_keys_of(t)]
        hint = f"it belongs to {', '.join(owners)} sources" if owners else "unknown setting"
        problems.append(
            {
                "field": f"config.{key}",
                "message": f"not a setting of {source_type} schedules ({hint}); "
                f"allowed: {', '.join(sorted(own_keys | TIMING_KEYS | SYNC_OPTION_KEYS))}",
            }
        )
    return problems


def _selection_keys_of(source_type: str) -> frozenset[str]:
    try:
        return connector_class(source_type).selection_keys
    except LookupError:  # a type that cannot load (connectors.registry) claims no keys
        return frozenset()


def check_config(
    frequency: Any, config: Any, source_type: str, source_settings: JSON, env: Environment
) -> Cadence:
    """Validates a whole schedule config; raises InvalidInput listing every problem."""
    if not isinstance(config, dict):
        raise InvalidInput([{"field": "config", "message": "must be an object"}])
    cadence, problems = parse_cadence(frequency, config)
    problems += _sync_option_problems(config)
    connector = connector_class(source_type)
    problems += _foreign_keys(source_type, config, connector.selection_keys)
    selection = merged_selection(source_settings, config, connector.selection_keys)
    declared = field_problems(
        declaration_of(connector).selection,
        selection,
        "config",
        missing="required (in the schedule's config or the data source's settings)",
    )
    # The connector's checks of meaning assume its required keys are there.
    if not any(selection.get(k) in (None, "") for k in connector.required_selection_keys):
        declared = with_connector_problems(declared, connector.validate_selection(selection, env))
    problems += [{"field": p.field, "message": p.message} for p in declared]
    if problems or cadence is None:
        raise InvalidInput(problems)
    return cadence
