// Types for datasync.js, the DataSync API client. Shapes follow the HTTP contract:
// camelCase JSON, ISO 8601 UTC timestamps with `Z`, UUID string ids.

export interface ClientOptions {
  /** The service root, e.g. "https://datasync.example.com". Default: the page's origin. */
  baseUrl?: string;
  /** Bearer token: a session JWT (from `login`), an API key (`ds_live_…`) or a host-app JWT. */
  token?: string | null;
  /** A `fetch` implementation; default `globalThis.fetch`. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** Called when an authenticated request answers 401 (expired or revoked token). */
  onUnauthorized?: (error: DataSyncError) => void;
}

export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined | null>;
}

export interface ErrorDetail {
  /** The field the problem is about, e.g. "config.syncTime" or "credentials.token". */
  field: string;
  message: string;
}

export declare class DataSyncError extends Error {
  name: 'DataSyncError';
  /** HTTP status; 0 when the request got no answer (network error, timeout). */
  status: number;
  /** Short title: "Invalid schedule configuration", "Sync failed", "Unauthorized", … */
  error: string;
  /** What went wrong and how to fix it. */
  message: string;
  details: ErrorDetail[];
  requestId: string | null;
  /** ISO 8601 time (a failed sync) or seconds (a 429/503 `Retry-After` header). */
  retryAfter: string | null;
  runId: string | null;
  body: unknown;
  fieldMessage(field: string): string | undefined;
}

export interface Pagination {
  limit: number;
  offset: number;
  hasMore: boolean;
}

export interface Page {
  success: true;
  totalCount: number;
  pagination: Pagination;
}

export interface Written {
  success: true;
  message: string;
}

export interface User {
  id: string;
  email: string;
  name: string | null;
  createdAt: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  /** Present only in `createApiKey`'s answer. */
  key?: string | null;
}

export type DataSourceType = 'google-sheets' | 'microsoft-excel' | 'sql-server' | (string & {});

export interface DataSource {
  id: string;
  name: string;
  type: DataSourceType;
  settings: Record<string, unknown>;
  hasCredentials: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface DataSourceCreate {
  name: string;
  type: DataSourceType;
  /** google-sheets: {serviceAccountInfo} or {oauth}; microsoft-excel: {tenantId, clientId,
   * clientSecret | refreshToken}; sql-server: {server, port?, username, password, …} or
   * {connectionString}. Never returned by any endpoint. */
  credentials: Record<string, unknown>;
  settings?: Record<string, unknown>;
}

export interface DataSourceUpdate {
  name?: string;
  credentials?: Record<string, unknown>;
  /** Merged key by key; a key set to null is removed. */
  settings?: Record<string, unknown | null>;
}

export interface TargetFile {
  id: string;
  name: string;
  delimiter: string;
  encoding: 'utf-8' | 'utf-8-sig';
  header: boolean;
  /** Text that would start a spreadsheet formula gets a leading `'`; null: by source type. */
  escapeFormulas: boolean | null;
  sizeBytes: number;
  rowCount: number;
  columnCount: number;
  checksum: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface TargetFileCreate {
  name: string;
  delimiter?: ',' | ';' | '\t' | '|';
  encoding?: 'utf-8' | 'utf-8-sig';
  header?: boolean;
  escapeFormulas?: boolean | null;
}

export interface FileVersion {
  version: number;
  sizeBytes: number;
  rowCount: number;
  columnCount: number;
  checksum: string;
  runId: string | null;
  createdAt: string;
}

export type Frequency = 'hourly' | 'daily' | 'weekly';
export type DayOfWeek = 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday' | 'sunday';

/** Timing, sync options and the source's selection (spreadsheetId/sheetName/range,
 * workbookId/worksheetName/range, databaseName/query/queryTimeoutSeconds, …). */
export interface ScheduleConfig {
  minute?: number;
  /** "HH:MM", 24 h. */
  syncTime?: string;
  dayOfWeek?: DayOfWeek;
  /** IANA time zone name; default "UTC". */
  timezone?: string;
  primaryKey?: string | string[];
  headerRow?: number;
  maxRowDropPercent?: number;
  [selection: string]: unknown;
}

export type SyncStatus = 'success' | 'error' | 'running';

export interface Schedule {
  id: string;
  name: string;
  dataSourceId: string;
  dataSourceType: DataSourceType;
  dataSourceName: string;
  targetFileId: string;
  targetFileName: string;
  frequency: Frequency;
  enabled: boolean;
  config: ScheduleConfig;
  lastSyncAt: string | null;
  /** Always UTC; null while disabled. */
  nextSyncAt: string | null;
  lastSyncStatus: SyncStatus | null;
  lastSyncRowCount: number | null;
  lastSyncError: string | null;
  lastSyncDuration: string | null;
  lastSyncDurationMs: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface ScheduleCreate {
  name: string;
  dataSourceId: string;
  targetFileId: string;
  frequency: Frequency;
  enabled?: boolean;
  config?: ScheduleConfig;
}

export interface ScheduleUpdate {
  name?: string;
  dataSourceId?: string;
  targetFileId?: string;
  frequency?: Frequency;
  enabled?: boolean;
  /** Merged key by key; a key set to null is removed. */
  config?: { [key: string]: unknown | null };
}

export interface Changes {
  added: number;
  updated: number;
  deleted: number;
  columnsAdded?: string[];
  columnsRemoved?: string[];
}

export type RunStatus = 'queued' | 'running' | 'success' | 'error';
export type Phase = 'queued' | 'fetching' | 'diffing' | 'writing' | 'done';

export interface Run {
  id: string;
  scheduleId: string;
  status: RunStatus;
  trigger: 'schedule' | 'manual' | 'retry';
  attempt: number;
  dataSourceType: DataSourceType;
  startedAt: string | null;
  completedAt: string | null;
  duration: string | null;
  durationMs: number | null;
  rowCount: number | null;
  columnCount: number | null;
  changes: Changes | null;
  error: string | null;
  retryAfter: string | null;
  fileVersion: number | null;
  bytesWritten: number | null;
  createdAt: string;
  /** While queued or running. */
  progress?: { rowsFetched: number; phase: Phase } | null;
}

export interface SyncResult {
  scheduleId: string;
  runId: string;
  status: RunStatus;
  rowCount: number | null;
  columnCount: number | null;
  duration: string | null;
  durationMs: number | null;
  syncedAt: string | null;
  changes: Changes | null;
  fileVersion: number | null;
}

export interface ScheduleQuery {
  enabled?: boolean;
  dataSourceType?: string;
  status?: 'success' | 'error' | 'running' | 'never';
  search?: string;
  limit?: number;
  offset?: number;
}

export interface RunQuery {
  status?: RunStatus;
  /** ISO 8601. */
  from?: string;
  to?: string;
  limit?: number;
  offset?: number;
}

export declare class DataSyncClient {
  constructor(options?: ClientOptions);
  baseUrl: string;
  token: string | null;
  setToken(token: string | null): void;

  fetchRaw(method: string, path: string, options?: RequestOptions & { body?: unknown; auth?: boolean }): Promise<Response>;
  request<T = any>(method: string, path: string, options?: RequestOptions & { body?: unknown; auth?: boolean }): Promise<T>;

  register(account: { email: string; password: string; name?: string }, options?: RequestOptions): Promise<Written & { user: User }>;
  /** Keeps the token on the client for the following calls. */
  login(email: string, password: string, options?: RequestOptions): Promise<{ success: true; token: string; expiry: string }>;
  /** Ends the session token on the server, then forgets it. */
  logout(options?: RequestOptions): Promise<void>;
  /** Ends every session of the account; keeps the fresh token of the answer. */
  changePassword(currentPassword: string, newPassword: string, options?: RequestOptions): Promise<Written & { token: string; expiry: string }>;
  me(options?: RequestOptions): Promise<{ success: true; user: User }>;
  createApiKey(name: string, options?: RequestOptions): Promise<Written & { apiKey: ApiKey & { key: string } }>;
  listApiKeys(options?: RequestOptions): Promise<{ success: true; apiKeys: ApiKey[]; totalCount: number }>;
  revokeApiKey(keyId: string, options?: RequestOptions): Promise<Written>;

  createDataSource(source: DataSourceCreate, options?: RequestOptions): Promise<Written & { dataSource: DataSource }>;
  listDataSources(query?: { type?: string; limit?: number; offset?: number }, options?: RequestOptions): Promise<Page & { dataSources: DataSource[] }>;
  getDataSource(dataSourceId: string, options?: RequestOptions): Promise<{ success: true; dataSource: DataSource }>;
  updateDataSource(dataSourceId: string, changes: DataSourceUpdate, options?: RequestOptions): Promise<Written & { dataSource: DataSource }>;
  deleteDataSource(dataSourceId: string, options?: RequestOptions): Promise<Written>;
  testDataSource(dataSourceId: string, options?: RequestOptions): Promise<Written & { details: Record<string, unknown> }>;

  createFile(file: TargetFileCreate, options?: RequestOptions): Promise<Written & { file: TargetFile }>;
  updateFile(fileId: string, changes: { name?: string; escapeFormulas?: boolean | null }, options?: RequestOptions): Promise<Written & { file: TargetFile }>;
  listFiles(query?: { limit?: number; offset?: number }, options?: RequestOptions): Promise<Page & { files: TargetFile[] }>;
  getFile(fileId: string, options?: RequestOptions): Promise<{ success: true; file: TargetFile }>;
  deleteFile(fileId: string, options?: RequestOptions): Promise<Written>;
  /** 200 with the CSV, or 304 when `ifNoneMatch` matches the current ETag. */
  getFileContent(fileId: string, options?: RequestOptions & { ifNoneMatch?: string }): Promise<Response>;
  listFileVersions(fileId: string, options?: RequestOptions): Promise<{ success: true; versions: FileVersion[]; totalCount: number }>;
  getFileVersionContent(fileId: string, version: number, options?: RequestOptions & { ifNoneMatch?: string }): Promise<Response>;

  createSchedule(schedule: ScheduleCreate, options?: RequestOptions): Promise<Written & { schedule: Schedule }>;
  listSchedules(query?: ScheduleQuery, options?: RequestOptions): Promise<Page & { schedules: Schedule[] }>;
  getSchedule(scheduleId: string, options?: RequestOptions): Promise<{ success: true; schedule: Schedule }>;
  updateSchedule(scheduleId: string, changes: ScheduleUpdate, options?: RequestOptions): Promise<Written & { schedule: Schedule }>;
  deleteSchedule(scheduleId: string, options?: RequestOptions): Promise<Written>;
  /** 200 with the result, or 202 (`syncResult.status: "running"`, `runId`) when the run
   * outlasts `wait` seconds. A failed sync rejects: DataSyncError status 500 "Sync failed". */
  manualSync(
    scheduleId: string,
    options?: RequestOptions & { wait?: number; force?: boolean },
  ): Promise<Written & { syncResult: SyncResult; runId?: string }>;
  getSyncHistory(scheduleId: string, query?: RunQuery, options?: RequestOptions): Promise<Page & { history: Run[] }>;

  listRuns(query?: RunQuery & { dataSourceType?: string }, options?: RequestOptions): Promise<Page & { runs: Run[] }>;
  getRun(runId: string, options?: RequestOptions): Promise<{ success: true; run: Run }>;
  /** CSV with a leading `_change` column (added | updated | deleted). */
  getRunChanges(runId: string, options?: RequestOptions): Promise<Response>;
  /** Polls until the run ends; resolves to the final run, failed runs included. */
  waitForRun(
    runId: string,
    options?: { intervalMs?: number; timeoutMs?: number; onProgress?: (run: Run) => void; signal?: AbortSignal },
  ): Promise<Run>;
}

export declare function createClient(options?: ClientOptions): DataSyncClient;
