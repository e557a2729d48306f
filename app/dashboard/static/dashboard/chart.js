// @ts-check
// A small inline SVG chart of a schedule's runs: row counts as bars (left scale), durations
// as a line (right scale), oldest on the left. Failed runs are red marks on the baseline.

import { h, num, utcText } from './dom.js';

/** @import { Run } from '../../client/datasync.js' */

const NS = 'http://www.w3.org/2000/svg';
const H = 200;
const PAD = { left: 52, right: 52, top: 14, bottom: 30 };

/** @param {string} tag @param {Record<string, any>} [attrs] @param {...any} children */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const shortDate = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const seconds = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;

/**
 * @param {Run[]} history runs, newest first (as the API lists them)
 * @param {string} titleText
 * @returns {HTMLElement} a `<figure>`
 */
export function runChart(history, titleText) {
  // Drawn for the screen it is on: a phone gets a narrower canvas, so labels stay legible.
  const W = Math.round(Math.min(640, Math.max(320, window.innerWidth - 64)));
  const runs = history.filter((r) => r.status === 'success' || r.status === 'error').slice(0, 30).reverse();
  if (!runs.length) return h('p', { class: 'muted' }, 'The chart appears after the first finished run.');
  const maxRows = Math.max(1, ...runs.map((r) => r.rowCount || 0));
  const maxMs = Math.max(1, ...runs.map((r) => r.durationMs || 0));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const band = plotW / runs.length;
  const barW = Math.max(2, Math.min(36, band * 0.6));
  const x = (/** @type {number} */ i) => PAD.left + band * i + band / 2;
  const yRows = (/** @type {number} */ v) => PAD.top + plotH - (v / maxRows) * plotH;
  const yMs = (/** @type {number} */ v) => PAD.top + plotH - (v / maxMs) * plotH;

  const titleId = `chart-title-${Math.random().toString(36).slice(2)}`;
  const descId = `${titleId}-desc`;
  const first = new Date(runs[0].createdAt);
  const last = new Date(runs[runs.length - 1].createdAt);
  const failed = runs.filter((r) => r.status === 'error').length;
  const description = `${runs.length} runs from ${utcText(first)} to ${utcText(last)}; `
    + `up to ${num(maxRows)} rows and ${seconds(maxMs)}; ${failed} failed.`;

  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}`, class: 'run-chart', preserveAspectRatio: 'xMidYMid meet' },
    s('title', { id: titleId }, titleText),
    s('desc', { id: descId }, description));

  // Grid and scales: 0, half, max on both sides.
  for (const f of [0, 0.5, 1]) {
    const y = PAD.top + plotH - f * plotH;
    svg.append(
      s('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }),
      s('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis rows-axis' }, num(Math.round(maxRows * f))),
      s('text', { x: W - PAD.right + 6, y: y + 4, 'text-anchor': 'start', class: 'axis duration-axis' }, seconds(maxMs * f)));
  }
  svg.append(
    s('text', { x: PAD.left, y: H - 8, 'text-anchor': 'start', class: 'axis' }, shortDate.format(first)),
    // One run has one date: no second label (append would turn a null into the text "null").
    ...(runs.length > 1 ? [s('text', { x: W - PAD.right, y: H - 8, 'text-anchor': 'end', class: 'axis' }, shortDate.format(last))] : []));

  runs.forEach((run, i) => {
    const when = `${shortDate.format(new Date(run.createdAt))} (${utcText(new Date(run.createdAt))})`;
    if (run.status === 'error') {
      svg.append(s('rect', { x: x(i) - barW / 2, y: PAD.top + plotH - 6, width: barW, height: 6, class: 'bar bar-error' },
        s('title', {}, `${when}: failed — ${run.error || 'error'}`)));
      return;
    }
    const top = yRows(run.rowCount || 0);
    svg.append(s('rect', { x: x(i) - barW / 2, y: top, width: barW, height: Math.max(1, PAD.top + plotH - top), class: 'bar' },
      s('title', {}, `${when}: ${num(run.rowCount)} rows, ${run.duration || '—'}`)));
  });

  const timed = /** @type {Array<[number, Run & {durationMs: number}]>} */ (
    runs.map((r, i) => /** @type {const} */ ([i, r])).filter(([, r]) => typeof r.durationMs === 'number'));
  if (timed.length > 1) {
    svg.append(s('polyline', { points: timed.map(([i, r]) => `${x(i)},${yMs(r.durationMs)}`).join(' '), class: 'duration-line' }));
  }
  for (const [i, r] of timed) {
    svg.append(s('circle', { cx: x(i), cy: yMs(r.durationMs), r: 3.5, class: 'duration-dot' }, s('title', {}, `${r.duration} (${r.status})`)));
  }

  return h('figure', { class: 'chart' },
    svg,
    h('figcaption', null,
      h('span', { class: 'legend legend-rows' }, 'Rows (left scale)'),
      h('span', { class: 'legend legend-duration' }, 'Duration (right scale)'),
      failed ? h('span', { class: 'legend legend-error' }, 'Failed run') : null));
}
