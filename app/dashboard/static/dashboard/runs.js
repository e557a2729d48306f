// @ts-check
// Runs across all schedules: by default the failed ones, newest first (an operations view).

import { h, notice, timeEl, num, statusBadge } from './dom.js';
import { field } from './forms.js';
import { typeNames } from './source-types.js';

/** @import { RunQuery } from '../../client/datasync.js' */
/** @import { ViewContext } from './app.js' */

/** @param {ViewContext} ctx */
export async function runsView(ctx) {
  const query = new URLSearchParams(location.hash.split('?')[1] || '');
  const status = query.has('status') ? query.get('status') : 'error';
  const [{ runs, totalCount }, { schedules }] = await Promise.all([
    // The status comes from the page's address as typed; the API names a bad one.
    ctx.client.listRuns({ status: /** @type {RunQuery['status']} */ (status || undefined), limit: 100 }, { signal: ctx.signal }),
    ctx.client.listSchedules({ limit: 200 }, { signal: ctx.signal }),
  ]);
  const typeName = typeNames(ctx.client);
  const names = new Map(schedules.map((s) => [s.id, s.name]));
  const filter = h('form', { class: 'filters', 'aria-label': 'Filter runs' },
    field({ label: 'Status', field: 'status', type: 'select', value: status, options: [['error', 'Failed'], ['success', 'Succeeded'], ['running', 'Running'], ['queued', 'Queued'], ['', 'All']] }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Show')));
  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.navigate(`#/runs?status=${encodeURIComponent(/** @type {HTMLSelectElement} */ (filter.querySelector('select')).value)}`);
  });
  const title = status === 'error' ? 'Failed runs' : 'Runs';
  return [
    h('h1', null, title),
    h('p', { class: 'muted' }, 'Runs across all your schedules, newest first.'),
    filter,
    runs.length ? h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `${title} table (scrolls sideways)` }, h('table', null,
      h('caption', { class: 'visually-hidden' }, `${title}, newest first`),
      h('thead', null, h('tr', null, ['When', 'Schedule', 'Source', 'Status', 'Trigger', 'Rows', 'Error', 'Retry after'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, runs.map((run) => h('tr', { dataset: { runId: run.id } },
        h('td', null, timeEl(run.startedAt || run.createdAt)),
        h('td', null, names.has(run.scheduleId) ? h('a', { href: `#/schedules/${run.scheduleId}` }, names.get(run.scheduleId)) : h('span', { class: 'muted' }, 'deleted')),
        h('td', null, typeName(run.dataSourceType)),
        h('td', null, statusBadge(run.status)),
        h('td', null, run.attempt > 1 ? `${run.trigger} (attempt ${run.attempt})` : run.trigger),
        h('td', { class: 'n' }, num(run.rowCount)),
        h('td', { class: 'error-text' }, run.error || ''),
        h('td', null, run.retryAfter ? timeEl(run.retryAfter) : ''))))))
      : notice(status === 'error' ? 'success' : 'info', status === 'error' ? 'No failed runs.' : 'No runs match.'),
    totalCount > runs.length ? h('p', { class: 'muted' }, `Showing the latest ${runs.length} of ${num(totalCount)}.`) : null,
  ];
}
