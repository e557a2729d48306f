// @ts-check
// Small DOM helpers: element building, times in the viewer's zone, downloads, confirmations.

const PROPERTIES = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open', 'indeterminate']);

/**
 * Builds an element: `h('button', {class: 'primary', onclick: go}, 'Sync now')`.
 * Attributes whose value is null/undefined/false are left out; `on*` keys add listeners.
 * @param {string} tag
 * @param {Record<string, any>|null} [props]
 * @param {...any} children strings, nodes, arrays of them, or null
 * @returns {HTMLElement}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) /** @type {any} */ (el)[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** @param {Element} el @param {any[]} children */
function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let uid = 0;
/** A unique id for label/aria wiring. @param {string} prefix */
export function newId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const numbers = new Intl.NumberFormat();

/** "2026-02-12 10:00 UTC" @param {Date} date */
export function utcText(date) {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "in 23 minutes", "5 minutes ago" @param {Date} date */
export function relativeText(date) {
  const seconds = (date.getTime() - Date.now()) / 1000;
  const steps = /** @type {const} */ ([['day', 86400], ['hour', 3600], ['minute', 60]]);
  for (const [unit, size] of steps) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds), 'second');
}

/**
 * A `<time>` in the viewer's local time, UTC on hover (and for screen readers).
 * @param {string|null|undefined} iso
 * @param {{relative?: boolean, empty?: string}} [options]
 */
export function timeEl(iso, options = {}) {
  if (!iso) return h('span', { class: 'muted' }, options.empty ?? '—');
  const date = new Date(iso);
  const utc = utcText(date);
  return h(
    'time',
    { datetime: iso, title: utc },
    dateTime.format(date),
    options.relative ? h('span', { class: 'muted' }, ` (${relativeText(date)})`) : null,
    h('span', { class: 'visually-hidden' }, `, ${utc}`),
  );
}

/** @param {number|null|undefined} n */
export function num(n) {
  return n === null || n === undefined ? '—' : numbers.format(n);
}

/** @param {number} bytes */
export function bytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value >= 10 ? 0 : 1)} ${units[unit]}`;
}

/**
 * Saves a CSV `Response` (fetched through the API client, so a failure shows in the page
 * instead of downloading an error body) as a download named `filename`.
 * @param {Response} response @param {string} filename
 */
export async function saveResponse(response, filename) {
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Speaks a short message to screen readers (the page's polite live region). @param {string} text */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after a tick, so the same message twice is read twice.
  setTimeout(() => { region.textContent = text; }, 50);
}

/**
 * Asks before something irreversible, in the page's modal `<dialog>`; focus starts on
 * Cancel and returns to where it was.
 * @param {string} message @param {string} [confirmLabel]
 * @returns {Promise<boolean>}
 */
export function confirmAction(message, confirmLabel = 'Delete') {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('confirm'));
  const returnTo = /** @type {HTMLElement|null} */ (document.activeElement);
  /** @type {HTMLElement} */ (dialog.querySelector('#confirm-message')).textContent = message;
  const ok = /** @type {HTMLButtonElement} */ (dialog.querySelector('#confirm-ok'));
  ok.textContent = confirmLabel;
  dialog.returnValue = 'cancel';
  dialog.showModal();
  /** @type {HTMLElement} */ (dialog.querySelector('#confirm-cancel')).focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      returnTo?.focus();
      resolve(dialog.returnValue === 'confirm');
    }, { once: true });
  });
}

/** A status badge for a schedule's last sync or a run. @param {string|null} status */
export function statusBadge(status) {
  const labels = { success: 'Success', error: 'Failed', running: 'Running', queued: 'Queued' };
  const key = status || 'never';
  return h('span', { class: `badge badge-${key}` }, labels[/** @type {keyof labels} */ (key)] || 'Never run');
}

/** @typedef {'error'|'warning'|'success'|'info'} NoticeKind */

/**
 * A message block for a whole view (errors loading it, empty states).
 * @param {NoticeKind} kind
 * @param {...any} children as for `h`
 */
export function notice(kind, ...children) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : null }, ...children);
}
