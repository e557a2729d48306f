// @ts-check
// Names for people from the API's keys: `config.syncTime` → "Sync time", `serverVersion` →
// "Server version". Used where no label is known (an error about a field the form does not
// show, a detail of a connection test).

/** Words written in capitals wherever they appear in a key. */
const CAPITALS = new Map(['id', 'url', 'uri', 'sql', 'tls', 'ssl', 'odbc', 'api', 'csv', 'json', 'http', 'https'].map((w) => [w, w.toUpperCase()]));

/**
 * The last part of a dotted key in words, first letter capitalised.
 * @param {string} key e.g. "credentials.clientId", "serverVersion", "max_text_size"
 */
export function readableName(key) {
  const last = key.split('.').pop() || key;
  const words = last
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .split(/\s+/)
    .map((w) => CAPITALS.get(w.toLowerCase()) ?? w.toLowerCase());
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
