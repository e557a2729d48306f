// The JS client (app/dashboard/static/client/datasync.js) under Node's own test runner,
// against the API as its own process with a real worker and the `test-table` source.
//
// Input (environment): DATASYNC_URL (the live server), DATASYNC_TMP (a directory for tables).
// Run by tests/js/test_client.py.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

import { DataSyncClient, DataSyncError, createClient } from '../../app/dashboard/static/client/datasync.js';

const baseUrl = process.env.DATASYNC_URL;
const tmp = process.env.DATASYNC_TMP;
const password = 'correct horse battery';
const email = `node-${randomBytes(6).toString('hex')}@example.com`;

/** Writes a CSV table the `test-table` source reads. */
function table(name, rows) {
  const path = join(tmp, name);
  writeFileSync(path, `${rows.map((r) => r.join(',')).join('\n')}\n`);
  return path;
}

/** The rejection of `promise`, which must be a DataSyncError. */
async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DataSyncError, `not a DataSyncError: ${error}`);
    assert.ok(error instanceof Error);
    return error;
  }
  assert.fail('expected a DataSyncError');
}

const ds = createClient({ baseUrl });

before(async () => {
  const registered = await ds.register({ email, password, name: 'Node Client' });
  assert.equal(registered.user.email, email);
  const login = await ds.login(email, password);
  assert.match(login.expiry, /Z$/);
  assert.equal(ds.token, login.token);
});

test('me answers for the session token login keeps on the client', async () => {
  const { success, user } = await ds.me();
  assert.equal(success, true);
  assert.deepEqual([user.email, user.name], [email, 'Node Client']);
});

test('a wrong password rejects with a typed 401 carrying the request id', async () => {
  const anonymous = new DataSyncClient({ baseUrl });
  const error = await rejection(anonymous.login(email, 'not the password'));
  assert.equal(error.name, 'DataSyncError');
  assert.equal(error.status, 401);
  assert.equal(error.error, 'Unauthorized');
  assert.equal(error.message, 'Wrong email or password');
  assert.match(error.requestId, /^[0-9a-f-]{36}$/);
  assert.equal(anonymous.token, null);
});

test('registration problems come back as details naming each field', async () => {
  const error = await rejection(new DataSyncClient({ baseUrl }).register({ email: 'nope', password: 'short' }));
  assert.equal(error.status, 400);
  assert.deepEqual(error.details.map((d) => d.field).sort(), ['email', 'password']);
  assert.match(error.fieldMessage('password'), /at least 12 characters/);
});

test('an API key works as the token until it is revoked; then onUnauthorized hears the 401', async () => {
  const { apiKey } = await ds.createApiKey('node script');
  assert.match(apiKey.key, /^ds_live_/);
  const heard = [];
  const script = new DataSyncClient({ baseUrl, token: apiKey.key, onUnauthorized: (e) => heard.push(e.status) });
  assert.equal((await script.me()).user.email, email);
  const { apiKeys } = await ds.listApiKeys();
  assert.ok(apiKeys.some((k) => k.id === apiKey.id && !k.key));
  assert.equal((await ds.revokeApiKey(apiKey.id)).message, 'API key revoked');
  const error = await rejection(script.listSchedules());
  assert.equal(error.status, 401);
  assert.deepEqual(heard, [401]);
});

test('data sources: create, list, get, rename, test the connection, refuse bad credentials, delete', async () => {
  const path = table('sources.csv', [['id'], ['1']]);
  const { dataSource, message } = await ds.createDataSource({ name: 'Tables', type: 'test-table', credentials: { token: 't' }, settings: { path } });
  assert.equal(message, 'Data source created successfully');
  assert.deepEqual([dataSource.type, dataSource.hasCredentials, dataSource.settings.path], ['test-table', true, path]);
  assert.equal(JSON.stringify(dataSource).includes('"token"'), false);
  assert.ok((await ds.listDataSources({ type: 'test-table' })).dataSources.some((s) => s.id === dataSource.id));
  assert.equal((await ds.getDataSource(dataSource.id)).dataSource.name, 'Tables');
  assert.equal((await ds.updateDataSource(dataSource.id, { name: 'Renamed' })).dataSource.name, 'Renamed');
  const tested = await ds.testDataSource(dataSource.id);
  assert.equal(tested.message, 'Connection OK');

  const bad = await rejection(ds.createDataSource({ name: 'Bad', type: 'test-table', credentials: {} }));
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.details.map((d) => d.field), ['credentials.token']);

  assert.equal((await ds.deleteDataSource(dataSource.id)).message, 'Data source deleted successfully');
  const gone = await rejection(ds.getDataSource(dataSource.id));
  assert.equal(gone.status, 404);
});

test('the reference page flow: createSchedule, listSchedules, updateSchedule, manualSync, getSyncHistory, deleteSchedule', async () => {
  const path = table('sales.csv', [['id', 'region', 'amount'], ['1', 'North', '10.50'], ['2', 'South', '7']]);
  const sourceId = (await ds.createDataSource({ name: 'Sales', type: 'test-table', credentials: { token: 't' }, settings: { path } })).dataSource.id;
  const { file } = await ds.createFile({ name: 'sales-data.csv' });

  const created = await ds.createSchedule({ name: 'Hourly Data Sync', dataSourceId: sourceId, targetFileId: file.id, frequency: 'hourly', enabled: true });
  assert.equal(created.message, 'Sync schedule created successfully');
  const id = created.schedule.id;
  assert.match(created.schedule.nextSyncAt, /:00:00Z$/);

  const { schedules, totalCount } = await ds.listSchedules({ search: 'Hourly' });
  assert.deepEqual([schedules.map((s) => s.id), totalCount], [[id], 1]);
  assert.equal((await ds.getSchedule(id)).schedule.dataSourceName, 'Sales');

  const updated = await ds.updateSchedule(id, { frequency: 'daily', config: { syncTime: '09:00' } });
  assert.match(updated.schedule.nextSyncAt, /T09:00:00Z$/);
  const invalid = await rejection(ds.updateSchedule(id, { config: { syncTime: '25:00' } }));
  assert.equal(invalid.status, 400);
  assert.equal(invalid.error, 'Invalid schedule configuration');
  assert.match(invalid.fieldMessage('config.syncTime'), /HH:MM/);

  const synced = await ds.manualSync(id);
  assert.equal(synced.message, 'Manual sync completed successfully');
  const result = synced.syncResult;
  assert.deepEqual([result.status, result.rowCount, result.columnCount], ['success', 2, 3]);
  assert.deepEqual(result.changes, { added: 2, updated: 0, deleted: 0 });

  const content = await ds.getFileContent(file.id);
  assert.equal(content.status, 200);
  assert.equal(await content.text(), 'id,region,amount\n1,North,10.50\n2,South,7\n');
  const unchanged = await ds.getFileContent(file.id, { ifNoneMatch: content.headers.get('ETag') });
  assert.equal(unchanged.status, 304);
  const { versions } = await ds.listFileVersions(file.id);
  assert.deepEqual(versions.map((v) => v.version), [1]);
  assert.equal(await (await ds.getFileVersionContent(file.id, 1)).text(), await (await ds.getFileContent(file.id)).text());

  const { history } = await ds.getSyncHistory(id, { status: 'success' });
  assert.deepEqual(history.map((r) => r.id), [result.runId]);
  const { run } = await ds.getRun(result.runId);
  assert.deepEqual([run.status, run.trigger, run.fileVersion], ['success', 'manual', 1]);
  assert.ok((await ds.listRuns({ status: 'success' })).runs.some((r) => r.id === result.runId));
  const changes = await (await ds.getRunChanges(result.runId)).text();
  assert.match(changes, /^_change,id,region,amount\n/);
  assert.equal(changes.trim().split('\n').length, 3);

  assert.deepEqual(await ds.deleteSchedule(id), { success: true, message: 'Sync schedule deleted successfully' });
  assert.equal((await rejection(ds.getSchedule(id))).status, 404);
  assert.equal((await ds.getFile(file.id)).file.rowCount, 2, 'the target file stays');
  assert.equal((await ds.deleteFile(file.id)).message, 'File deleted successfully');
});

test('manualSync with wait 0 answers 202 at once; waitForRun follows the progress; a second sync is a 409 naming the run', async () => {
  const path = table('slow.csv', [['id'], ...Array.from({ length: 6 }, (_, i) => [String(i)])]);
  const sourceId = (await ds.createDataSource({ name: 'Slow', type: 'test-table', credentials: { token: 't' } })).dataSource.id;
  const fileId = (await ds.createFile({ name: 'slow.csv' })).file.id;
  const id = (await ds.createSchedule({
    name: 'Slow', dataSourceId: sourceId, targetFileId: fileId, frequency: 'hourly', enabled: false,
    config: { path, batchRows: 2, batchDelaySeconds: 0.5 },
  })).schedule.id;

  const started = await ds.manualSync(id, { wait: 0 });
  // API.md says "running"; the service reports the run's own status, "queued" until a
  // worker picks it up. Either way it has not finished and names the run to follow.
  assert.ok(['queued', 'running'].includes(started.syncResult.status), started.syncResult.status);
  assert.match(started.message, /still running/);
  assert.ok(started.runId);
  const busy = await rejection(ds.manualSync(id, { wait: 0 }));
  assert.equal(busy.status, 409);
  assert.equal(busy.runId, started.runId);

  const phases = [];
  const finished = await ds.waitForRun(started.runId, { intervalMs: 200, onProgress: (r) => r.progress && phases.push(r.progress.phase) });
  assert.equal(finished.status, 'success');
  assert.equal(finished.rowCount, 6);
  assert.ok(phases.length > 0 && phases.every((p) => ['queued', 'fetching', 'diffing', 'writing', 'done'].includes(p)), String(phases));
});

test('a failed sync rejects with status 500 "Sync failed", the source reason, retryAfter and the run id', async () => {
  const path = table('throttled.csv', [['id'], ['1']]);
  const sourceId = (await ds.createDataSource({ name: 'Throttled', type: 'test-table', credentials: { token: 't' } })).dataSource.id;
  const fileId = (await ds.createFile({ name: 'throttled.csv' })).file.id;
  const id = (await ds.createSchedule({
    name: 'Throttled', dataSourceId: sourceId, targetFileId: fileId, frequency: 'hourly', enabled: false,
    config: { path, failTimes: 10, failKind: 'transient', retryAfter: 120 },
  })).schedule.id;

  const error = await rejection(ds.manualSync(id));
  assert.equal(error.status, 500);
  assert.equal(error.error, 'Sync failed');
  assert.match(error.message, /^Google Sheets API quota exceeded/);
  assert.match(error.retryAfter, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(error.runId);
  const { runs } = await ds.listRuns({ status: 'error' });
  assert.ok(runs.some((r) => r.id === error.runId));
});

test('no answer at all is a DataSyncError with status 0', async () => {
  const offline = new DataSyncClient({ baseUrl: 'http://127.0.0.1:9', token: 't' });
  const error = await rejection(offline.listSchedules());
  assert.equal(error.status, 0);
  assert.equal(error.error, 'Network error');
});

test('an unknown route still rejects with the API error envelope', async () => {
  const error = await rejection(ds.request('GET', '/api/nothing-here'));
  assert.equal(error.status, 404);
  assert.match(error.message, /No such endpoint/);
});

test('logout ends the session token on the server, not only on the client', async () => {
  const other = createClient({ baseUrl });
  await other.login(email, password);
  const stolen = createClient({ baseUrl, token: other.token });

  await other.logout();

  assert.equal(other.token, null);
  const error = await rejection(stolen.me());
  assert.equal(error.status, 401);
  assert.ok((await ds.me()).user, 'another session of the same account is untouched');
});

test('updateFile turns formula escaping on, and the file says so', async () => {
  const { file } = await ds.createFile({ name: 'escaped.csv' });
  assert.equal(file.escapeFormulas, null);

  const updated = await ds.updateFile(file.id, { escapeFormulas: true });

  assert.equal(updated.file.escapeFormulas, true);
  await ds.deleteFile(file.id);
});

test('changePassword ends the other sessions and keeps a fresh token on this client', async () => {
  const account = `node-pw-${randomBytes(6).toString('hex')}@example.com`;
  const mine = createClient({ baseUrl });
  await mine.register({ email: account, password });
  await mine.login(account, password);
  const elsewhere = createClient({ baseUrl });
  await elsewhere.login(account, password);
  const before = mine.token;

  await mine.changePassword(password, 'a brand new passphrase');

  assert.notEqual(mine.token, before);
  assert.equal((await mine.me()).user.email, account);
  assert.equal((await rejection(elsewhere.me())).status, 401);
});
