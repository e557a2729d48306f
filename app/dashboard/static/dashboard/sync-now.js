// @ts-check
// The "Sync now" button: start a manual sync without waiting (`?wait=0`), follow the run's
// progress (phase, rows fetched), then show the result or the error with its retry time.

import { h, num, timeEl } from './dom.js';

/** @import { Phase, Progress, Run } from '../../client/datasync.js' */
/** @import { ViewContext } from './app.js' */

/** @type {Record<Phase, string>} */
const PHASES = { queued: 'Waiting for a worker', fetching: 'Fetching rows', diffing: 'Comparing with the last sync', writing: 'Writing the CSV', done: 'Finishing' };

/**
 * @param {ViewContext} ctx
 * @param {{id: string, name: string}} schedule
 * @param {(run: Run) => void} [onFinished] called after the run ended (refresh the card)
 * @returns {{button: HTMLButtonElement, region: HTMLElement}}
 */
export function syncNowControl(ctx, schedule, onFinished) {
  const region = h('div', { class: 'sync-progress', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const button = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'primary', 'aria-label': `Sync ${schedule.name} now` }, 'Sync now'));
  button.addEventListener('click', () => run(ctx, schedule, button, region, onFinished));
  return { button, region };
}

/**
 * @param {ViewContext} ctx @param {{id: string, name: string}} schedule
 * @param {HTMLButtonElement} button @param {HTMLElement} region
 * @param {(run: Run) => void} [onFinished]
 */
async function run(ctx, schedule, button, region, onFinished) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  showProgress(region, { phase: 'queued', rowsFetched: 0 });
  /** @type {string} */
  let runId;
  /** @type {Run|null} */
  let finalRun = null;
  try {
    try {
      const answer = await ctx.client.manualSync(schedule.id, { wait: 0 });
      runId = answer.runId || answer.syncResult.runId;
    } catch (/** @type {any} */ e) {
      // Already running (a scheduled run, another tab): follow that run instead.
      if (e.status === 409 && e.runId) runId = e.runId;
      else throw e;
    }
    finalRun = await ctx.client.waitForRun(runId, {
      intervalMs: 400,
      signal: ctx.signal,
      onProgress: (r) => { if (r.progress) showProgress(region, r.progress); },
    });
    showResult(region, finalRun);
  } catch (/** @type {any} */ e) {
    if (e.handled || e.name === 'AbortError') return;
    showFailure(region, { error: e.message, retryAfter: e.retryAfter });
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
  if (onFinished && finalRun) onFinished(finalRun);
}

/** @param {HTMLElement} region @param {Progress} progress */
function showProgress(region, progress) {
  region.dataset.state = 'running';
  region.replaceChildren(
    h('progress', { 'aria-label': 'Sync in progress' }),
    h('p', null,
      h('strong', { class: 'phase' }, PHASES[progress.phase] || progress.phase),
      ' · ',
      h('span', { class: 'rows-fetched' }, `${num(progress.rowsFetched)} rows fetched`)));
}

/** @param {HTMLElement} region @param {Run} run */
function showResult(region, run) {
  if (run.status !== 'success') return showFailure(region, run);
  const c = run.changes || { added: 0, updated: 0, deleted: 0 };
  region.dataset.state = 'success';
  region.replaceChildren(h('div', { class: 'notice notice-success' },
    h('p', null, h('strong', null, '✓ Synced'), ` ${num(run.rowCount)} rows in ${run.duration || '—'}`),
    h('p', { class: 'changes' },
      h('span', { class: 'added' }, `${num(c.added)} added`), ' · ',
      h('span', { class: 'updated' }, `${num(c.updated)} updated`), ' · ',
      h('span', { class: 'deleted' }, `${num(c.deleted)} deleted`)),
    c.columnsAdded?.length ? h('p', null, `New columns: ${c.columnsAdded.join(', ')}`) : null,
    c.columnsRemoved?.length ? h('p', null, `Removed columns: ${c.columnsRemoved.join(', ')}`) : null,
    run.fetchSkipped ? h('p', { class: 'muted' }, 'Unchanged — not fetched: the source reports no change since the last full fetch.') : null));
}

/**
 * @param {HTMLElement} region
 * @param {{error: string|null, retryAfter: string|null}} run a failed run, or the error of a sync that could not start
 */
function showFailure(region, run) {
  region.dataset.state = 'error';
  region.replaceChildren(h('div', { class: 'notice notice-error' },
    h('p', null, h('strong', null, '✗ Sync failed: '), h('span', { class: 'error-message' }, run.error || 'unknown error')),
    run.retryAfter ? h('p', null, 'Retry after ', /^\d+$/.test(run.retryAfter) ? `${run.retryAfter} s` : timeEl(run.retryAfter, { relative: true })) : null));
}
