// The reference page (/work/shared/reference/data-sync-api-schedules.txt) against the OpenAPI
// document: its request bodies are bodies the document accepts, and every field of the
// answers it shows is in the answers the document gives its JavaScript examples. Each
// assignment below compiles only when the document's type fits the page's.

import type { components } from '../../app/dashboard/static/client/datasync-api';
import {
  createHourlySync,
  deleteSchedule,
  getSyncHistory,
  listSyncSchedules,
  manualSync,
} from './reference-examples.generated.js';
import type { Body } from '../../app/dashboard/static/client/datasync.js';

type Resolved<F extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<F>>;

// ---- the page's request bodies -------------------------------------------------------------

export const sheetsSync = {
  name: 'Sales Data Hourly Sync',
  dataSourceId: 'google-sheets-uuid',
  frequency: 'hourly',
  targetFileId: 'csv-file-uuid',
  enabled: true,
  config: { spreadsheetId: '1ABC-DEF', sheetName: 'Sales Data', range: 'A1:L1000' },
} satisfies Body<'createSchedule'>;

export const excelSync = {
  name: 'Customer Database Daily Sync',
  dataSourceId: 'microsoft-excel-uuid',
  frequency: 'daily',
  targetFileId: 'csv-file-uuid',
  enabled: true,
  config: { workbookId: '01AZJL5P...', worksheetName: 'Customers', syncTime: '06:00' },
} satisfies Body<'createSchedule'>;

export const sqlServerSync = {
  name: 'Orders Weekly Sync',
  dataSourceId: 'sql-server-uuid',
  frequency: 'weekly',
  targetFileId: 'csv-file-uuid',
  enabled: true,
  config: {
    databaseName: 'SalesDB',
    query: 'SELECT * FROM dbo.Orders WHERE OrderDate >= DATEADD(day, -7, GETDATE())',
    dayOfWeek: 'monday',
    syncTime: '08:00',
  },
} satisfies Body<'createSchedule'>;

export const update = {
  name: 'Updated Schedule Name',
  frequency: 'daily',
  enabled: true,
  config: { syncTime: '09:00' },
} satisfies Body<'updateSchedule'>;

// ---- the page's answers, as its examples receive them ----------------------------------------

/** "Create Sync Schedule", Response (200 OK). */
interface PageCreated {
  success: true;
  schedule: {
    id: string;
    name: string;
    dataSourceId: string;
    dataSourceType: string;
    targetFileId: string;
    frequency: string;
    enabled: boolean;
    config: { [key: string]: unknown };
    nextSyncAt: string | null;
    createdAt: string;
  };
  message: string;
}

/** "List Sync Schedules", one of `schedules` (the third adds `lastSyncError`). */
interface PageListedSchedule {
  id: string;
  name: string;
  dataSourceType: string;
  frequency: string;
  enabled: boolean;
  lastSyncAt: string | null;
  nextSyncAt: string | null;
  lastSyncStatus: string | null;
  lastSyncRowCount: number | null;
  lastSyncError: string | null;
}

interface PageChanges {
  added: number;
  updated: number;
  deleted: number;
}

/** "Trigger Manual Sync", Response (200 OK). */
interface PageSynced {
  success: true;
  syncResult: {
    scheduleId: string;
    status: string;
    rowCount: number | null;
    columnCount: number | null;
    duration: string | null;
    syncedAt: string | null;
    changes: PageChanges | null;
  };
  message: string;
}

/** "Trigger Manual Sync", Response (500 Internal Server Error) - Failed. */
interface PageSyncFailed {
  success: false;
  error: string;
  message: string;
  retryAfter?: string;
}

/** "Get Sync History", one of `history`. */
interface PageHistoryEntry {
  id: string;
  scheduleId: string;
  status: string;
  startedAt: string | null;
  completedAt: string | null;
  duration: string | null;
  rowCount: number | null;
  columnCount: number | null;
  changes: PageChanges | null;
  error: string | null;
}

/** "Delete Sync Schedule", Response (200 OK). */
interface PageDeleted {
  success: true;
  message: string;
}

declare const created: Resolved<typeof createHourlySync>;
declare const listed: Resolved<typeof listSyncSchedules>;
declare const synced: Resolved<typeof manualSync>;
declare const history: Resolved<typeof getSyncHistory>;
declare const deleted: Resolved<typeof deleteSchedule>;
declare const failed: components['schemas']['ErrorBody'];

export const createdAsOnThePage: PageCreated = created;
export const listedAsOnThePage: PageListedSchedule[] = listed;
export const syncedAsOnThePage: PageSynced = synced;
export const historyAsOnThePage: PageHistoryEntry[] = history;
export const deletedAsOnThePage: PageDeleted = deleted;
export const syncFailureAsOnThePage: PageSyncFailed = failed;
