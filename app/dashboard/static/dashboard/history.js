// @ts-check
// One schedule: its facts, Sync now, the runs chart and the history table.

import { h, notice, timeEl, num, statusBadge, saveResponse } from './dom.js';
import { scheduleFacts } from './schedules.js';
import { syncNowControl } from './sync-now.js';
import { runChart } from './chart.js';
import { typeNames } from './source-types.js';

/** @import { Answer, Run } from '../../client/datasync.js' */
/** @import { ViewContext } from './app.js' */

const PAGE = 100;
const COLUMNS = ['Started', 'Status', 'Trigger', 'Rows', 'Added', 'Updated', 'Deleted', 'Duration', 'Version', 'Details'];

/** @param {ViewContext} ctx */
export async function historyView(ctx) {
  const [id] = ctx.params;
  const [{ schedule }, history] = await Promise.all([
    ctx.client.getSchedule(id, { signal: ctx.signal }),
    ctx.client.getSyncHistory(id, { limit: PAGE }, { signal: ctx.signal }),
  ]);
  const typeName = typeNames(ctx.client);
  const facts = h('dl', { class: 'facts' }, ...scheduleFacts(schedule, typeName));
  const badge = h('span', { class: 'badges' }, statusBadge(schedule.lastSyncStatus));
  const chartBox = h('section', { class: 'card', 'aria-labelledby': 'chart-heading' });
  const tableBox = h('section', { 'aria-labelledby': 'history-heading' });
  const status = h('div', { role: 'status', 'aria-live': 'polite' });

  const renderRuns = (/** @type {Answer<'getSyncHistory'>} */ body) => {
    chartBox.replaceChildren(h('h2', { id: 'chart-heading' }, 'Rows and durations'), runChart(body.history, `Rows and durations of ${schedule.name}`));
    tableBox.replaceChildren(h('h2', { id: 'history-heading', class: 'section' }, 'History'), historyTable(ctx, body, status));
  };
  const refresh = async () => {
    const [{ schedule: s }, body] = await Promise.all([ctx.client.getSchedule(id), ctx.client.getSyncHistory(id, { limit: PAGE })]);
    facts.replaceChildren(...scheduleFacts(s, typeName));
    badge.replaceChildren(statusBadge(s.lastSyncStatus));
    renderRuns(body);
  };
  const sync = syncNowControl(ctx, schedule, () => refresh().catch(() => {}));
  renderRuns(history);

  return [
    h('p', { class: 'crumbs' }, h('a', { href: '#/schedules' }, '← All schedules')),
    h('div', { class: 'view-head' }, h('h1', null, schedule.name), badge),
    h('section', { class: 'card', 'aria-label': 'Schedule' },
      facts,
      h('div', { class: 'actions' }, sync.button, h('a', { class: 'button', href: `#/schedules/${schedule.id}/edit` }, 'Edit')),
      sync.region, status),
    chartBox,
    tableBox,
  ];
}

/** @param {ViewContext} ctx @param {Answer<'getSyncHistory'>} body @param {HTMLElement} status */
function historyTable(ctx, body, status) {
  const { history, totalCount } = body;
  if (!history.length) return notice('info', 'No runs yet. Press “Sync now” to run it.');
  // Roles stated: at phone width the rows are laid out as cards, which drops the implied
  // table semantics in some browsers.
  const cell = (/** @type {string} */ label, /** @type {string|null} */ cls, /** @type {any} */ content) => h('td', { class: cls, role: 'cell', dataset: { label } }, content);
  return h('div', null,
    h('div', { class: 'table-wrap history-wrap', tabindex: '0', role: 'region', 'aria-label': 'History table' }, h('table', { class: 'history', role: 'table' },
      h('caption', { class: 'visually-hidden' }, 'Runs of this schedule, newest first'),
      h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, COLUMNS.map((t) => h('th', { scope: 'col', role: 'columnheader' }, t)))),
      h('tbody', { role: 'rowgroup' }, history.map((run) => h('tr', { role: 'row', dataset: { runId: run.id, status: run.status } },
        cell('Started', 'wide', timeEl(run.startedAt || run.createdAt)),
        cell('Status', null, statusBadge(run.status)),
        cell('Trigger', null, run.attempt > 1 ? `${run.trigger} (attempt ${run.attempt})` : run.trigger),
        cell('Rows', 'n count', num(run.rowCount)),
        cell('Added', 'n count', num(run.changes?.added)),
        cell('Updated', 'n count', num(run.changes?.updated)),
        cell('Deleted', 'n count', num(run.changes?.deleted)),
        cell('Duration', 'n', run.duration || '—'),
        cell('Version', 'n', run.fileVersion ?? '—'),
        cell('Details', 'wide', details(ctx, run, status))))))),
    totalCount > history.length ? h('p', { class: 'muted' }, `Showing the latest ${history.length} of ${num(totalCount)} runs.`) : null);
}

/** @param {ViewContext} ctx @param {Run} run @param {HTMLElement} status */
function details(ctx, run, status) {
  if (run.status === 'error') {
    return [h('span', { class: 'error-text' }, run.error || 'Failed'), run.retryAfter ? h('span', { class: 'muted' }, ' · retry ', timeEl(run.retryAfter)) : null];
  }
  if (run.status === 'success' && run.fetchSkipped) {
    // The source reported no change (config.changeDetection): nothing was read.
    return h('span', { class: 'muted' }, 'unchanged — not fetched');
  }
  const note = run.changeDetection ? h('span', { class: 'muted' }, `Change detection ${run.changeDetection}`) : null;
  if (run.status === 'success' && run.changes && (run.changes.added || run.changes.updated || run.changes.deleted)) {
    return [h('button', {
      type: 'button', class: 'small', 'aria-label': `Download the changes of the run started ${run.startedAt}`,
      onclick: async () => {
        try {
          await saveResponse(await ctx.client.getRunChanges(run.id), `changes-${run.id}.csv`);
        } catch (/** @type {any} */ e) {
          if (!e.handled) status.replaceChildren(notice('error', e.message));
        }
      },
    }, 'Changes CSV'), note ? ' ' : null, note];
  }
  return run.progress ? `${run.progress.phase} · ${num(run.progress.rowsFetched)} rows` : note || '';
}
