// @ts-check
// What a connection test reported (`details` of POST /api/data-sources/{id}/test), labelled
// for people. The SQL connectors send `serverVersion` (the banner's first line) and
// `serverVersionFull` (all of it): the short one is shown, the full one on hover.

import { h } from './dom.js';
import { readableName } from './field-names.js';

/** Labels for keys whose words alone would read oddly. */
const LABELS = new Map([
  ['serverVersion', 'Server version'],
]);
/** A key `<name>Full` is the long form of `<name>`. */
const FULL = /^(.+)Full$/;

/**
 * A definition list of the test's details, each key once.
 * @param {Record<string, unknown>} details
 */
export function connectionFacts(details) {
  const shown = Object.entries(details).filter(([key]) => {
    const long = FULL.exec(key);
    return !(long && long[1] in details);
  });
  if (!shown.length) return null;
  return h('dl', { class: 'facts compact connection-facts' }, shown.map(([key, value]) => {
    const full = details[`${key}Full`];
    const text = valueText(value);
    return h('div', { dataset: { detail: key } },
      h('dt', null, LABELS.get(key) ?? readableName(key)),
      h('dd', { title: typeof full === 'string' && full !== text ? full : null }, text));
  }));
}

/** @param {unknown} value */
function valueText(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (typeof value === 'number') return value.toLocaleString();
  return JSON.stringify(value);
}
