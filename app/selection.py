"""What a run reads: a schedule's config over its data source's settings.

Shared by the API, which checks a config before storing it, and the engine, which runs it.
"""

from __future__ import annotations

from connectors.base import JSON

TIMING_KEYS = frozenset({"minute", "syncTime", "dayOfWeek", "timezone"})
SYNC_OPTION_KEYS = frozenset(
    {"primaryKey", "headerRow", "maxRowDropPercent", "changeDetection", "fullRefreshHours"}
)


def merged_selection(source_settings: JSON, config: JSON, selection_keys: frozenset[str]) -> JSON:
    """Data source settings give defaults for selection keys; the schedule overrides them."""
    defaults = {
        k: v for k, v in source_settings.items() if k in selection_keys or k in SYNC_OPTION_KEYS
    }
    return {**defaults, **config}
