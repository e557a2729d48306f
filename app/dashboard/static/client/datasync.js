// DataSync API client: one ES module, no dependencies, `fetch` only (browsers, Node 18+).
//
//   import { DataSyncClient } from 'https://datasync.example.com/client/datasync.js';
//   const ds = new DataSyncClient({ baseUrl: 'https://datasync.example.com', token });
//   const { schedules } = await ds.listSchedules();
//
// Every JSON method resolves to the response body as the API sends it (`success`, the named
// payload, `message`, `totalCount`, `pagination`), so it reads like the reference page's
// `await response.json()`. Every 4xx/5xx rejects with a `DataSyncError`. Types: datasync.d.ts.

/** @typedef {import('./datasync').ClientOptions} ClientOptions */
/** @typedef {import('./datasync').RequestOptions} RequestOptions */
/** @typedef {import('./datasync').ErrorDetail} ErrorDetail */

/**
 * An error answer from the API (or no answer at all: `status` 0).
 * Carries the error envelope's fields: `error` (short title), `message` (what went wrong and
 * how to fix it), `details` (one entry per bad field, e.g. `config.syncTime`), `requestId`,
 * and `retryAfter` (the body's ISO time when a sync failed, else the `Retry-After` header).
 */
export class DataSyncError extends Error {
  /**
   * @param {object} init
   * @param {number} init.status
   * @param {string} init.error
   * @param {string} init.message
   * @param {ErrorDetail[]} [init.details]
   * @param {string|null} [init.requestId]
   * @param {string|null} [init.retryAfter]
   * @param {string|null} [init.runId]
   * @param {any} [init.body]
   * @param {unknown} [init.cause]
   */
  constructor({ status, error, message, details = [], requestId = null, retryAfter = null, runId = null, body = null, cause }) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DataSyncError';
    /** HTTP status; 0 when the request never got an answer. */
    this.status = status;
    /** The short title, e.g. "Invalid schedule configuration" or "Sync failed". */
    this.error = error;
    /** @type {ErrorDetail[]} */
    this.details = details;
    /** The server's `X-Request-ID` for this request (quote it when reporting a problem). */
    this.requestId = requestId;
    /** When to try again: ISO 8601 time (failed syncs) or seconds (429/503 `Retry-After`). */
    this.retryAfter = retryAfter;
    /** The run concerned, when the error is about one (a failed or already running sync). */
    this.runId = runId;
    /** The whole error body, for fields this class does not name. */
    this.body = body;
  }

  /** The message for one field, e.g. `err.fieldMessage('config.syncTime')`. */
  fieldMessage(field) {
    const found = this.details.find((d) => d.field === field);
    return found ? found.message : undefined;
  }
}

const JSON_TYPE = 'application/json';

export class DataSyncClient {
  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    const { baseUrl = defaultBaseUrl(), token = null, fetch: fetchImpl, headers = {}, onUnauthorized } = options;
    /** The service root, e.g. "https://datasync.example.com" (no trailing slash). */
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    /** The bearer token sent with every request: a session JWT, an API key or a host-app JWT. */
    this.token = token;
    this.headers = headers;
    this.onUnauthorized = onUnauthorized;
    // Bound once: a bare `fetch` reference called as a method throws "Illegal invocation".
    this._fetch = fetchImpl || ((input, init) => globalThis.fetch(input, init));
  }

  /** @param {string|null} token */
  setToken(token) {
    this.token = token;
  }

  // ---- transport ---------------------------------------------------------------------

  /**
   * Sends one request and returns the raw `Response` when it succeeded (2xx, or 304).
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions & {body?: unknown, auth?: boolean}} [options]
   * @returns {Promise<Response>}
   */
  async fetchRaw(method, path, options = {}) {
    const { query, body, signal, headers = {}, auth = true } = options;
    // A relative baseUrl ("" or "/datasync") resolves against the page, in a browser.
    const url = new URL(this.baseUrl + path, globalThis.location?.href);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
    }
    /** @type {Record<string, string>} */
    const sent = { Accept: `${JSON_TYPE}, text/csv;q=0.9`, ...this.headers, ...headers };
    const authorized = auth && Boolean(this.token);
    if (authorized) sent.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) sent['Content-Type'] = JSON_TYPE;
    let response;
    try {
      response = await this._fetch(url.toString(), {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (cause) {
      if (cause && /** @type {any} */ (cause).name === 'AbortError') throw cause;
      throw new DataSyncError({
        status: 0,
        error: 'Network error',
        message: `Could not reach DataSync at ${this.baseUrl || 'this site'}: ${cause instanceof Error ? cause.message : cause}`,
        cause,
      });
    }
    if (response.ok || response.status === 304) return response;
    const error = await errorFrom(response);
    if (response.status === 401 && authorized && this.onUnauthorized) this.onUnauthorized(error);
    throw error;
  }

  /**
   * Sends one request and returns its JSON body.
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions & {body?: unknown, auth?: boolean}} [options]
   * @returns {Promise<any>}
   */
  async request(method, path, options = {}) {
    const response = await this.fetchRaw(method, path, options);
    return response.json();
  }

  // ---- authentication: /api/auth -----------------------------------------------------

  /** Creates an account. @param {{email: string, password: string, name?: string}} account */
  register(account, options = {}) {
    return this.request('POST', '/api/auth/register', { ...options, body: account, auth: false });
  }

  /**
   * Logs in and keeps the session token on this client for the following calls.
   * @param {string} email @param {string} password
   */
  async login(email, password, options = {}) {
    const body = await this.request('POST', '/api/auth/login', { ...options, body: { email, password }, auth: false });
    this.token = body.token;
    return body;
  }

  /** Ends the session token on the server (API keys are revoked with revokeApiKey
   * instead), then forgets the token. */
  async logout(options = {}) {
    if (this.token && !this.token.startsWith('ds_live_')) {
      await this.request('POST', '/api/auth/logout', options);
    }
    this.token = null;
  }

  /** Ends every session of the account and keeps the fresh token the answer carries. */
  async changePassword(currentPassword, newPassword, options = {}) {
    const body = await this.request('POST', '/api/auth/password', {
      ...options,
      body: { currentPassword, newPassword },
    });
    if (body.token) this.token = body.token;
    return body;
  }

  me(options = {}) {
    return this.request('GET', '/api/auth/me', options);
  }

  /** The key itself (`apiKey.key`, `ds_live_…`) is in this answer only. @param {string} name */
  createApiKey(name, options = {}) {
    return this.request('POST', '/api/auth/api-keys', { ...options, body: { name } });
  }

  listApiKeys(options = {}) {
    return this.request('GET', '/api/auth/api-keys', options);
  }

  /** @param {string} keyId */
  revokeApiKey(keyId, options = {}) {
    return this.request('DELETE', `/api/auth/api-keys/${enc(keyId)}`, options);
  }

  // ---- data sources: /api/data-sources -----------------------------------------------

  /** @param {{name: string, type: string, credentials: object, settings?: object}} source */
  createDataSource(source, options = {}) {
    return this.request('POST', '/api/data-sources', { ...options, body: source });
  }

  /** @param {{type?: string, limit?: number, offset?: number}} [query] */
  listDataSources(query = {}, options = {}) {
    return this.request('GET', '/api/data-sources', { ...options, query });
  }

  /** @param {string} dataSourceId */
  getDataSource(dataSourceId, options = {}) {
    return this.request('GET', `/api/data-sources/${enc(dataSourceId)}`, options);
  }

  /** Rename, rotate credentials, or change settings (merged key by key; null removes a key). */
  updateDataSource(dataSourceId, changes, options = {}) {
    return this.request('PATCH', `/api/data-sources/${enc(dataSourceId)}`, { ...options, body: changes });
  }

  deleteDataSource(dataSourceId, options = {}) {
    return this.request('DELETE', `/api/data-sources/${enc(dataSourceId)}`, options);
  }

  /** Connects with the stored credentials: resolves to `{message: "Connection OK", details}`. */
  testDataSource(dataSourceId, options = {}) {
    return this.request('POST', `/api/data-sources/${enc(dataSourceId)}/test`, options);
  }

  /** Checks the stored credentials now on a worker (reads no data) and records the result:
   * resolves to `{success, credentialStatus}`; `status` stays null for a type without a check. */
  checkDataSourceCredentials(dataSourceId, options = {}) {
    return this.request('POST', `/api/data-sources/${enc(dataSourceId)}/check-credentials`, options);
  }

  /** What each installed source type asks for (credentials, settings, selection) and whether it loads here. */
  listSourceTypes(options = {}) {
    return this.request('GET', '/api/source-types', options);
  }

  // ---- target files: /api/files --------------------------------------------------------

  /** @param {{name: string, delimiter?: string, encoding?: string, header?: boolean, escapeFormulas?: boolean | null}} file */
  createFile(file, options = {}) {
    return this.request('POST', '/api/files', { ...options, body: file });
  }

  /** @param {{name?: string, escapeFormulas?: boolean | null}} changes */
  updateFile(fileId, changes, options = {}) {
    return this.request('PATCH', `/api/files/${enc(fileId)}`, { ...options, body: changes });
  }

  listFiles(query = {}, options = {}) {
    return this.request('GET', '/api/files', { ...options, query });
  }

  getFile(fileId, options = {}) {
    return this.request('GET', `/api/files/${enc(fileId)}`, options);
  }

  deleteFile(fileId, options = {}) {
    return this.request('DELETE', `/api/files/${enc(fileId)}`, options);
  }

  /**
   * The current CSV as a `Response` (stream it, or `.text()` / `.blob()` it). Pass
   * `ifNoneMatch` (an earlier `ETag`) to get a 304 with no body when nothing changed.
   * @param {string} fileId
   * @param {RequestOptions & {ifNoneMatch?: string}} [options]
   */
  getFileContent(fileId, options = {}) {
    return this.fetchRaw('GET', `/api/files/${enc(fileId)}/content`, withIfNoneMatch(options));
  }

  listFileVersions(fileId, options = {}) {
    return this.request('GET', `/api/files/${enc(fileId)}/versions`, options);
  }

  /** One kept version's CSV as a `Response`. @param {string} fileId @param {number} version */
  getFileVersionContent(fileId, version, options = {}) {
    return this.fetchRaw('GET', `/api/files/${enc(fileId)}/versions/${enc(version)}/content`, withIfNoneMatch(options));
  }

  // ---- schedules: /api/sync/schedules (the reference page) ----------------------------

  /**
   * @param {{name: string, dataSourceId: string, targetFileId: string, frequency: 'hourly'|'daily'|'weekly', enabled?: boolean, config?: object}} schedule
   */
  createSchedule(schedule, options = {}) {
    return this.request('POST', '/api/sync/schedules', { ...options, body: schedule });
  }

  /** @param {{enabled?: boolean, dataSourceType?: string, status?: string, search?: string, limit?: number, offset?: number}} [query] */
  listSchedules(query = {}, options = {}) {
    return this.request('GET', '/api/sync/schedules', { ...options, query });
  }

  getSchedule(scheduleId, options = {}) {
    return this.request('GET', `/api/sync/schedules/${enc(scheduleId)}`, options);
  }

  /** Partial update: omitted fields keep their values, `config` is merged key by key. */
  updateSchedule(scheduleId, changes, options = {}) {
    return this.request('PUT', `/api/sync/schedules/${enc(scheduleId)}`, { ...options, body: changes });
  }

  /** Removes the schedule and its history, never the target file. */
  deleteSchedule(scheduleId, options = {}) {
    return this.request('DELETE', `/api/sync/schedules/${enc(scheduleId)}`, options);
  }

  /**
   * Runs the schedule now. Resolves to `{syncResult}` when it finished within `wait` seconds
   * (default: the server's, 60), else to the 202 body with `syncResult.status: "running"` and
   * `runId` (follow it with `getRun` or `waitForRun`). A failed sync rejects with a
   * `DataSyncError` (status 500, `error: "Sync failed"`, `retryAfter`, `runId`).
   * @param {string} scheduleId
   * @param {RequestOptions & {wait?: number, force?: boolean}} [options]
   */
  manualSync(scheduleId, options = {}) {
    const { wait, force, ...rest } = options;
    const query = { ...(rest.query || {}), wait, force: force ? 'true' : undefined };
    return this.request('POST', `/api/sync/schedules/${enc(scheduleId)}/sync`, { ...rest, query });
  }

  /**
   * A dry run: what a sync would write now, written nowhere. Pass a saved schedule's id, or
   * a schedule not yet saved (`{dataSourceId, config, targetFileId?, frequency?}`, validated
   * as creating it would be). Resolves to `{preview: {columns, rows, rowCount, changes,
   * columnsAdded, columnsRemoved, warnings}}` with the first `limit` rows (default 50, at
   * most 500). A source that fails rejects as a failed sync does (500 "Sync failed"); one
   * that outlasts the server's wait rejects with status 504.
   * @param {string | {dataSourceId: string, config?: object, targetFileId?: string, frequency?: string}} scheduleOrDraft
   * @param {RequestOptions & {limit?: number}} [options]
   */
  preview(scheduleOrDraft, options = {}) {
    const { limit, ...rest } = options;
    const query = { ...(rest.query || {}), limit };
    if (typeof scheduleOrDraft === 'string') {
      return this.request('POST', `/api/sync/schedules/${enc(scheduleOrDraft)}/preview`, { ...rest, query });
    }
    return this.request('POST', '/api/sync/preview', { ...rest, query, body: scheduleOrDraft });
  }

  /** @param {{status?: string, from?: string, to?: string, limit?: number, offset?: number}} [query] */
  getSyncHistory(scheduleId, query = {}, options = {}) {
    return this.request('GET', `/api/sync/schedules/${enc(scheduleId)}/history`, { ...options, query });
  }

  // ---- runs: /api/sync/runs ------------------------------------------------------------

  /** Runs across all schedules, newest first. @param {{status?: string, from?: string, to?: string, dataSourceType?: string, limit?: number, offset?: number}} [query] */
  listRuns(query = {}, options = {}) {
    return this.request('GET', '/api/sync/runs', { ...options, query });
  }

  /** One run; while it runs, `run.progress` is `{rowsFetched, phase}`. */
  getRun(runId, options = {}) {
    return this.request('GET', `/api/sync/runs/${enc(runId)}`, options);
  }

  /** The run's change set as a CSV `Response` (a leading `_change` column). */
  getRunChanges(runId, options = {}) {
    return this.fetchRaw('GET', `/api/sync/runs/${enc(runId)}/changes`, options);
  }

  /**
   * Polls a run until it ends; calls `onProgress(run)` on every poll. Resolves to the final
   * run (its `status` is "success" or "error": a failed run resolves, it does not reject).
   * @param {string} runId
   * @param {{intervalMs?: number, timeoutMs?: number, onProgress?: (run: any) => void, signal?: AbortSignal}} [options]
   */
  async waitForRun(runId, options = {}) {
    const { intervalMs = 500, timeoutMs = 10 * 60_000, onProgress, signal } = options;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { run } = await this.getRun(runId, { signal });
      if (onProgress) onProgress(run);
      if (run.status === 'success' || run.status === 'error') return run;
      if (Date.now() >= deadline) {
        throw new DataSyncError({ status: 0, error: 'Timeout', message: `Run ${runId} was still ${run.status} after ${timeoutMs} ms`, runId });
      }
      await sleep(intervalMs, signal);
    }
  }
}

/** Shorthand for `new DataSyncClient(options)`. @param {ClientOptions} [options] */
export function createClient(options) {
  return new DataSyncClient(options);
}

// ---- internals -------------------------------------------------------------------------

function defaultBaseUrl() {
  // In a page served by DataSync itself, the API is on the same origin.
  return globalThis.location ? globalThis.location.origin : '';
}

/** @param {string|number} part */
function enc(part) {
  return encodeURIComponent(String(part));
}

/** @param {RequestOptions & {ifNoneMatch?: string}} options */
function withIfNoneMatch(options) {
  const { ifNoneMatch, ...rest } = options;
  if (!ifNoneMatch) return rest;
  return { ...rest, headers: { ...(rest.headers || {}), 'If-None-Match': ifNoneMatch } };
}

/** @param {number} ms @param {AbortSignal} [signal] */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

/** @param {Response} response */
async function errorFrom(response) {
  const requestId = response.headers.get('X-Request-ID');
  const text = await response.text().catch(() => '');
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    return new DataSyncError({
      status: response.status,
      error: body.error || response.statusText || `HTTP ${response.status}`,
      message: body.message || body.error || `HTTP ${response.status}`,
      details: Array.isArray(body.details) ? body.details : [],
      requestId: body.requestId || requestId,
      retryAfter: body.retryAfter ?? response.headers.get('Retry-After'),
      runId: body.runId ?? null,
      body,
    });
  }
  // Not our envelope (a proxy's HTML page, say): keep the first line as the message.
  return new DataSyncError({
    status: response.status,
    error: response.statusText || `HTTP ${response.status}`,
    message: (text.split('\n')[0] || `HTTP ${response.status}`).slice(0, 300),
    requestId,
    retryAfter: response.headers.get('Retry-After'),
    body: text,
  });
}
