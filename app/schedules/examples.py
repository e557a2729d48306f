"""The reference page's examples for the schedule and sync routes, shown in the OpenAPI
document exactly as the page prints them (its ids are placeholders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import Example


@dataclass
class PageExample(Example):
    """An example kept as written: Litestar drops null values from the document, but the
    page's `"nextSyncAt": null` is part of what it shows."""

    def to_schema(self) -> dict[str, Any]:
        return {**super().to_schema(), "value": self.value}


CREATE_REQUESTS = [
    PageExample(
        summary="Google Sheets, hourly",
        value={
            "name": "Sales Data Hourly Sync",
            "dataSourceId": "google-sheets-uuid",
            "frequency": "hourly",
            "targetFileId": "csv-file-uuid",
            "enabled": True,
            "config": {"spreadsheetId": "1ABC-DEF", "sheetName": "Sales Data", "range": "A1:L1000"},
        },
    ),
    PageExample(
        summary="Excel, daily",
        value={
            "name": "Customer Database Daily Sync",
            "dataSourceId": "microsoft-excel-uuid",
            "frequency": "daily",
            "targetFileId": "csv-file-uuid",
            "enabled": True,
            "config": {
                "workbookId": "01AZJL5P...",
                "worksheetName": "Customers",
                "syncTime": "06:00",
            },
        },
    ),
    PageExample(
        summary="SQL Server, weekly",
        value={
            "name": "Orders Weekly Sync",
            "dataSourceId": "sql-server-uuid",
            "frequency": "weekly",
            "targetFileId": "csv-file-uuid",
            "enabled": True,
            "config": {
                "databaseName": "SalesDB",
                "query": "SELECT * FROM dbo.Orders WHERE OrderDate >= DATEADD(day, -7, GETDATE())",
                "dayOfWeek": "monday",
                "syncTime": "08:00",
            },
        },
    ),
]

CREATED = PageExample(
    summary="Created",
    value={
        "success": True,
        "schedule": {
            "id": "schedule-uuid",
            "name": "Sales Data Hourly Sync",
            "dataSourceId": "google-sheets-uuid",
            "dataSourceType": "google-sheets",
            "targetFileId": "csv-file-uuid",
            "frequency": "hourly",
            "enabled": True,
            "config": {"spreadsheetId": "1ABC-DEF", "sheetName": "Sales Data", "range": "A1:L1000"},
            "nextSyncAt": "2026-02-12T11:00:00Z",
            "createdAt": "2026-02-12T10:30:00Z",
        },
        "message": "Sync schedule created successfully",
    },
)

LISTED = PageExample(
    summary="Three schedules",
    value={
        "success": True,
        "schedules": [
            {
                "id": "schedule-uuid-1",
                "name": "Sales Data Hourly Sync",
                "dataSourceType": "google-sheets",
                "frequency": "hourly",
                "enabled": True,
                "lastSyncAt": "2026-02-12T10:00:00Z",
                "nextSyncAt": "2026-02-12T11:00:00Z",
                "lastSyncStatus": "success",
                "lastSyncRowCount": 150,
            },
            {
                "id": "schedule-uuid-2",
                "name": "Customer Database Daily Sync",
                "dataSourceType": "microsoft-excel",
                "frequency": "daily",
                "enabled": True,
                "lastSyncAt": "2026-02-12T06:00:00Z",
                "nextSyncAt": "2026-02-13T06:00:00Z",
                "lastSyncStatus": "success",
                "lastSyncRowCount": 500,
            },
            {
                "id": "schedule-uuid-3",
                "name": "Orders Weekly Sync",
                "dataSourceType": "sql-server",
                "frequency": "weekly",
                "enabled": False,
                "lastSyncAt": "2026-02-05T08:00:00Z",
                "nextSyncAt": None,
                "lastSyncStatus": "error",
                "lastSyncError": "SQL Server connection timeout",
            },
        ],
        "totalCount": 3,
    },
)

DETAIL = PageExample(
    summary="One schedule",
    value={
        "success": True,
        "schedule": {
            "id": "schedule-uuid-1",
            "name": "Sales Data Hourly Sync",
            "dataSourceId": "google-sheets-uuid",
            "dataSourceType": "google-sheets",
            "dataSourceName": "Sales Tracking Spreadsheet",
            "targetFileId": "csv-file-uuid",
            "targetFileName": "sales-data.csv",
            "frequency": "hourly",
            "enabled": True,
            "config": {"spreadsheetId": "1ABC-DEF", "sheetName": "Sales Data", "range": "A1:L1000"},
            "lastSyncAt": "2026-02-12T10:00:00Z",
            "nextSyncAt": "2026-02-12T11:00:00Z",
            "lastSyncStatus": "success",
            "lastSyncRowCount": 150,
            "lastSyncDuration": "1.2s",
            "createdAt": "2026-01-15T10:00:00Z",
            "updatedAt": "2026-02-12T10:00:00Z",
        },
    },
)

UPDATE_REQUEST = PageExample(
    summary="Daily at 09:00",
    value={
        "name": "Updated Schedule Name",
        "frequency": "daily",
        "enabled": True,
        "config": {"syncTime": "09:00"},
    },
)

UPDATED = PageExample(
    summary="Updated",
    value={
        "success": True,
        "schedule": {
            "id": "schedule-uuid",
            "name": "Updated Schedule Name",
            "frequency": "daily",
            "enabled": True,
            "nextSyncAt": "2026-02-13T09:00:00Z",
        },
        "message": "Sync schedule updated successfully",
    },
)

DELETED = PageExample(
    summary="Deleted",
    value={"success": True, "message": "Sync schedule deleted successfully"},
)

SYNCED = PageExample(
    summary="Completed",
    value={
        "success": True,
        "syncResult": {
            "scheduleId": "schedule-uuid",
            "status": "success",
            "rowCount": 150,
            "columnCount": 12,
            "duration": "1.2s",
            "syncedAt": "2026-02-12T10:45:00Z",
            "changes": {"added": 5, "updated": 10, "deleted": 2},
        },
        "message": "Manual sync completed successfully",
    },
)

SYNC_FAILED = PageExample(
    summary="Failed",
    value={
        "success": False,
        "error": "Sync failed",
        "message": "Google Sheets API quota exceeded",
        "retryAfter": "2026-02-12T11:00:00Z",
    },
)

HISTORY = PageExample(
    summary="A success and a failure",
    value={
        "success": True,
        "history": [
            {
                "id": "sync-log-uuid-1",
                "scheduleId": "schedule-uuid",
                "status": "success",
                "startedAt": "2026-02-12T10:00:00Z",
                "completedAt": "2026-02-12T10:00:01.2Z",
                "duration": "1.2s",
                "rowCount": 150,
                "columnCount": 12,
                "changes": {"added": 5, "updated": 10, "deleted": 2},
            },
            {
                "id": "sync-log-uuid-2",
                "scheduleId": "schedule-uuid",
                "status": "error",
                "startedAt": "2026-02-12T09:00:00Z",
                "completedAt": "2026-02-12T09:00:15Z",
                "duration": "15s",
                "error": "Token expired - re-authentication required",
            },
        ],
        "totalCount": 2,
        "pagination": {"limit": 50, "offset": 0, "hasMore": False},
    },
)
