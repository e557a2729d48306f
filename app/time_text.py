"""Times and durations as the API and webhook payloads write them (the reference page's
style), for every layer: the API, the engine and webhooks alike."""

from __future__ import annotations

from datetime import datetime


def isoformat(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with `Z`, as every timestamp in the API."""
    if moment is None:
        return None
    text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # Whole seconds read like the reference page ("2026-02-12T11:00:00Z").
    return text.replace(".000Z", "Z")


def duration_text(duration_ms: int | None) -> str | None:
    """The page's duration style: "1.2s", "15s"."""
    if duration_ms is None:
        return None
    seconds = duration_ms / 1000
    if seconds >= 10:
        return f"{round(seconds)}s"
    return (f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.2f}").rstrip("0").rstrip(".") + "s"
