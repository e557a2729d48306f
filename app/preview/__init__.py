"""Previewing a sync (a dry run on a worker): `/api/sync/preview`, `/api/sync/schedules/{id}/preview`."""
