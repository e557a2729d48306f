// The reference page's JavaScript usage examples, run with Node's fetch against a live
// DataSync server. The five functions are the page's text; the only changes: the
// template-literal backticks the page's text lost are restored, and the page's base URL
// (https://app.datapublisher.io) is `baseUrl`, the server under test.
//
// Input (environment): DATASYNC_URL, DATASYNC_TOKEN (a session JWT), DATA_SOURCE_ID (a data
// source whose settings hold the default selection), TARGET_FILE_ID.
// Output (stdout): one JSON object with every function's result, for the Python test to check.

const baseUrl = process.env.DATASYNC_URL;
const jwtToken = process.env.DATASYNC_TOKEN;

// Create hourly sync
async function createHourlySync(dataSourceId, targetFileId) {
  const response = await fetch(`${baseUrl}/api/sync/schedules`, {
    method: 'POST',
    headers: {
      'Authorization': `Bearer ${jwtToken}`,
      'Content-Type': 'application/json'
    },
    body: JSON.stringify({
      name: 'Hourly Data Sync',
      dataSourceId: dataSourceId,
      targetFileId: targetFileId,
      frequency: 'hourly',
      enabled: true
    })
  });
  return await response.json();
}

// List all schedules
async function listSyncSchedules() {
  const response = await fetch(`${baseUrl}/api/sync/schedules`, {
    headers: { 'Authorization': `Bearer ${jwtToken}` }
  });
  const { schedules } = await response.json();
  return schedules;
}

// Trigger manual sync
async function manualSync(scheduleId) {
  const response = await fetch(`${baseUrl}/api/sync/schedules/${scheduleId}/sync`, {
    method: 'POST',
    headers: { 'Authorization': `Bearer ${jwtToken}` }
  });
  return await response.json();
}

// Get sync history
async function getSyncHistory(scheduleId) {
  const response = await fetch(`${baseUrl}/api/sync/schedules/${scheduleId}/history`, {
    headers: { 'Authorization': `Bearer ${jwtToken}` }
  });
  const { history } = await response.json();
  return history;
}

// Delete schedule
async function deleteSchedule(scheduleId) {
  const response = await fetch(`${baseUrl}/api/sync/schedules/${scheduleId}`, {
    method: 'DELETE',
    headers: { 'Authorization': `Bearer ${jwtToken}` }
  });
  return await response.json();
}

// The page's flow: create, list, sync now, read the history, delete.
const created = await createHourlySync(process.env.DATA_SOURCE_ID, process.env.TARGET_FILE_ID);
const scheduleId = created.schedule?.id;
const listed = await listSyncSchedules();
const synced = scheduleId ? await manualSync(scheduleId) : null;
const history = scheduleId ? await getSyncHistory(scheduleId) : null;
const deleted = scheduleId ? await deleteSchedule(scheduleId) : null;
const listedAfterDelete = await listSyncSchedules();

process.stdout.write(JSON.stringify({ created, listed, synced, history, deleted, listedAfterDelete }));
