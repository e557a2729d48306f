// Types for datasync.js, the DataSync API client.
//
// Every shape the API sends or takes comes from datasync-api.d.ts beside this file, which
// openapi-typescript generates from the service's OpenAPI document (/schema/openapi.json):
// what a method resolves to is the document's success body of its operation, so these
// types say what the server sends (camelCase JSON, ISO 8601 UTC timestamps with `Z`, UUID
// string ids). Download both files to use them outside this service.

import type { components, operations } from './datasync-api.js';

type OperationId = keyof operations;

type JsonContent<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;

/** The JSON body of an operation's successful answers (its 2xx statuses), by operationId:
 * `Answer<'listSchedules'>` is `{success, schedules, totalCount, pagination}`. */
export type Answer<Op extends OperationId> = {
  [Status in keyof operations[Op]['responses']]: `${Status & number}` extends `2${string}`
    ? JsonContent<operations[Op]['responses'][Status]>
    : never;
}[keyof operations[Op]['responses']];

/** The JSON request body of an operation, by operationId. */
export type Body<Op extends OperationId> = JsonContent<NonNullable<operations[Op]['requestBody']>>;

/** The query parameters of an operation, by operationId. */
export type Query<Op extends OperationId> = NonNullable<operations[Op]['parameters']['query']>;

/** The body of every 4xx/5xx answer. */
export type ErrorBody = components['schemas']['ErrorBody'];
export type ErrorDetail = NonNullable<ErrorBody['details']>[number];

export type Pagination = Answer<'listSchedules'>['pagination'];
/** What every list answer has besides its items. */
export type Page = Pick<Answer<'listSchedules'>, 'success' | 'totalCount' | 'pagination'>;
/** The answer to an action with nothing to return but that it happened. */
export type Written = Answer<'deleteSchedule'>;

export type User = Answer<'me'>['user'];
/** An API key as listed: without the key itself. */
export type ApiKey = Answer<'listApiKeys'>['apiKeys'][number];
/** A new API key: `key` (`ds_live_…`) is in `createApiKey`'s answer only. */
export type NewApiKey = Answer<'createApiKey'>['apiKey'];

export type DataSource = Answer<'getDataSource'>['dataSource'];
export type DataSourceType = DataSource['type'];
/** Credentials are never returned by any endpoint. */
export type DataSourceCreate = Body<'createDataSource'>;
/** `settings` is merged key by key; a key set to null is removed. */
export type DataSourceUpdate = Body<'updateDataSource'>;

export type TargetFile = Answer<'getFile'>['file'];
export type TargetFileCreate = Body<'createFile'>;
export type TargetFileUpdate = Body<'updateFile'>;
export type FileVersion = Answer<'listFileVersions'>['versions'][number];

export type Schedule = Answer<'getSchedule'>['schedule'];
export type ScheduleCreate = Body<'createSchedule'>;
/** Partial update: omitted fields keep their values; `config` is merged key by key (a key
 * set to null is removed). */
export type ScheduleUpdate = Body<'updateSchedule'>;
/** Timing, sync options and the source's selection (spreadsheetId/sheetName/range,
 * workbookId/worksheetName/range, databaseName/query/queryTimeoutSeconds, …). */
export type ScheduleConfig = NonNullable<ScheduleCreate['config']>;
export type Frequency = Schedule['frequency'];
export type DayOfWeek = NonNullable<ScheduleConfig['dayOfWeek']>;
export type SyncStatus = NonNullable<Schedule['lastSyncStatus']>;
export type ScheduleQuery = Query<'listSchedules'>;

export type Run = Answer<'getRun'>['run'];
export type RunStatus = Run['status'];
export type Changes = NonNullable<Run['changes']>;
/** A queued or running run's progress. */
export type Progress = NonNullable<Run['progress']>;
export type Phase = Progress['phase'];
export type SyncResult = Answer<'manualSync'>['syncResult'];
export type RunQuery = Query<'getSyncHistory'>;
/** A schedule not yet saved, as `preview` takes it. */
export type PreviewDraft = Body<'previewSync'>;
export type Preview = Answer<'previewSync'>['preview'];
export type PreviewWarning = Preview['warnings'][number];

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

/** A failed request: the API's error body, or no answer at all (`status` 0). */
export declare class DataSyncError extends Error {
  name: 'DataSyncError';
  /** HTTP status; 0 when the request got no answer (network error, timeout). */
  status: number;
  /** Short title: "Invalid schedule configuration", "Sync failed", "Unauthorized", … */
  error: ErrorBody['error'];
  /** What went wrong and how to fix it. */
  message: ErrorBody['message'];
  /** One entry per bad field, e.g. `config.syncTime`; empty when the error names none. */
  details: ErrorDetail[];
  requestId: ErrorBody['requestId'] | null;
  /** ISO 8601 time (a failed sync) or seconds (a 429/503 `Retry-After` header). */
  retryAfter: NonNullable<ErrorBody['retryAfter']> | null;
  /** The run concerned: a failed manual sync, or the one already running (409). */
  runId: NonNullable<ErrorBody['runId']> | null;
  /** The whole error body (text when it was not JSON), for fields this class does not name. */
  body: unknown;
  fieldMessage(field: string): string | undefined;
}

export declare class DataSyncClient {
  constructor(options?: ClientOptions);
  baseUrl: string;
  token: string | null;
  setToken(token: string | null): void;

  fetchRaw(method: string, path: string, options?: RequestOptions & { body?: unknown; auth?: boolean }): Promise<Response>;
  request<T = any>(method: string, path: string, options?: RequestOptions & { body?: unknown; auth?: boolean }): Promise<T>;

  register(account: Body<'register'>, options?: RequestOptions): Promise<Answer<'register'>>;
  /** Keeps the token on the client for the following calls. */
  login(email: Body<'login'>['email'], password: Body<'login'>['password'], options?: RequestOptions): Promise<Answer<'login'>>;
  /** Ends the session token on the server, then forgets it. */
  logout(options?: RequestOptions): Promise<void>;
  /** Ends every session of the account; keeps the fresh token of the answer. */
  changePassword(
    currentPassword: Body<'changePassword'>['currentPassword'],
    newPassword: Body<'changePassword'>['newPassword'],
    options?: RequestOptions,
  ): Promise<Answer<'changePassword'>>;
  me(options?: RequestOptions): Promise<Answer<'me'>>;
  createApiKey(name: Body<'createApiKey'>['name'], options?: RequestOptions): Promise<Answer<'createApiKey'>>;
  listApiKeys(options?: RequestOptions): Promise<Answer<'listApiKeys'>>;
  revokeApiKey(keyId: string, options?: RequestOptions): Promise<Answer<'revokeApiKey'>>;

  createDataSource(source: DataSourceCreate, options?: RequestOptions): Promise<Answer<'createDataSource'>>;
  listDataSources(query?: Query<'listDataSources'>, options?: RequestOptions): Promise<Answer<'listDataSources'>>;
  getDataSource(dataSourceId: string, options?: RequestOptions): Promise<Answer<'getDataSource'>>;
  updateDataSource(dataSourceId: string, changes: DataSourceUpdate, options?: RequestOptions): Promise<Answer<'updateDataSource'>>;
  deleteDataSource(dataSourceId: string, options?: RequestOptions): Promise<Answer<'deleteDataSource'>>;
  /** Connects with the stored credentials: `{message: "Connection OK", details}`. */
  testDataSource(dataSourceId: string, options?: RequestOptions): Promise<Answer<'testDataSource'>>;
  /** Checks the stored credentials now on a worker (reads no data) and records the result;
   * `credentialStatus.status` stays null for a type without a check. */
  checkDataSourceCredentials(dataSourceId: string, options?: RequestOptions): Promise<Answer<'checkDataSourceCredentials'>>;
  /** Every installed source type, plugins included: its display name, the fields its
   * credentials, settings and selection take (and as JSON Schema), whether it loads here. */
  listSourceTypes(options?: RequestOptions): Promise<Answer<'listSourceTypes'>>;

  createFile(file: TargetFileCreate, options?: RequestOptions): Promise<Answer<'createFile'>>;
  updateFile(fileId: string, changes: TargetFileUpdate, options?: RequestOptions): Promise<Answer<'updateFile'>>;
  listFiles(query?: Query<'listFiles'>, options?: RequestOptions): Promise<Answer<'listFiles'>>;
  getFile(fileId: string, options?: RequestOptions): Promise<Answer<'getFile'>>;
  deleteFile(fileId: string, options?: RequestOptions): Promise<Answer<'deleteFile'>>;
  /** 200 with the CSV, or 304 when `ifNoneMatch` matches the current ETag. */
  getFileContent(fileId: string, options?: RequestOptions & { ifNoneMatch?: string }): Promise<Response>;
  listFileVersions(fileId: string, options?: RequestOptions): Promise<Answer<'listFileVersions'>>;
  getFileVersionContent(fileId: string, version: number, options?: RequestOptions & { ifNoneMatch?: string }): Promise<Response>;

  createSchedule(schedule: ScheduleCreate, options?: RequestOptions): Promise<Answer<'createSchedule'>>;
  listSchedules(query?: ScheduleQuery, options?: RequestOptions): Promise<Answer<'listSchedules'>>;
  getSchedule(scheduleId: string, options?: RequestOptions): Promise<Answer<'getSchedule'>>;
  updateSchedule(scheduleId: string, changes: ScheduleUpdate, options?: RequestOptions): Promise<Answer<'updateSchedule'>>;
  /** Removes the schedule and its history, never the target file. */
  deleteSchedule(scheduleId: string, options?: RequestOptions): Promise<Answer<'deleteSchedule'>>;
  /** 200 with the result, or 202 (`syncResult.status: "running"`, `runId`) when the run
   * outlasts `wait` seconds. A failed sync rejects: DataSyncError status 500 "Sync failed". */
  manualSync(
    scheduleId: string,
    options?: RequestOptions & Pick<Query<'manualSync'>, 'wait' | 'force'>,
  ): Promise<Answer<'manualSync'>>;
  /** A dry run of a saved schedule (its id) or of one not yet saved: the first `limit` rows,
   * the counts against the target file's current version and the warnings; nothing written.
   * A failing source rejects as a failed sync (500 "Sync failed"); a slow one with 504. */
  preview(
    scheduleId: string,
    options?: RequestOptions & Pick<Query<'previewScheduleSync'>, 'limit'>,
  ): Promise<Answer<'previewScheduleSync'>>;
  preview(
    draft: PreviewDraft,
    options?: RequestOptions & Pick<Query<'previewSync'>, 'limit'>,
  ): Promise<Answer<'previewSync'>>;
  getSyncHistory(scheduleId: string, query?: RunQuery, options?: RequestOptions): Promise<Answer<'getSyncHistory'>>;

  /** Runs across all schedules, newest first. */
  listRuns(query?: Query<'listRuns'>, options?: RequestOptions): Promise<Answer<'listRuns'>>;
  /** One run; while it runs, `run.progress` is `{rowsFetched, phase}`. */
  getRun(runId: string, options?: RequestOptions): Promise<Answer<'getRun'>>;
  /** CSV with a leading `_change` column (added | updated | deleted). */
  getRunChanges(runId: string, options?: RequestOptions): Promise<Response>;
  /** Polls until the run ends; resolves to the final run, failed runs included. */
  waitForRun(
    runId: string,
    options?: { intervalMs?: number; timeoutMs?: number; onProgress?: (run: Run) => void; signal?: AbortSignal },
  ): Promise<Run>;
}

export declare function createClient(options?: ClientOptions): DataSyncClient;
