// The dashboard shell: session, hash routes, navigation. Views live in their own modules and
// talk to the API only through the public client.

import { DataSyncClient } from '../../client/datasync.js';
import { h, notice } from './dom.js';
import { signInView, registerView } from './auth.js';
import { schedulesView, scheduleFormView } from './schedules.js';
import { historyView } from './history.js';
import { sourcesView, sourceFormView } from './sources.js';
import { filesView } from './files.js';
import { runsView } from './runs.js';
import { accountView } from './account.js';

// Only the session token is kept: no credentials, no API data.
const TOKEN_KEY = 'datasync.session';
// The service root, from this module's own URL: works when the service sits under a prefix.
const SERVICE_ROOT = new URL('../../', import.meta.url).href.replace(/\/$/, '');

const client = new DataSyncClient({
  baseUrl: SERVICE_ROOT,
  token: localStorage.getItem(TOKEN_KEY),
  onUnauthorized: (error) => {
    /** @type {any} */ (error).handled = true;
    endSession('Your session has ended. Please sign in again.');
  },
});

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const who = /** @type {HTMLElement} */ (document.getElementById('who'));
const session = /** @type {HTMLElement} */ (document.getElementById('session'));

/** A message shown once at the top of the next view ("Schedule created"). */
let flash = null;
/** Aborts the current view's requests and polling when the route changes. */
let viewAbort = new AbortController();
/** @type {{email: string, name: string|null}|null} */
let currentUser = null;

/** @typedef {{client: DataSyncClient, signal: AbortSignal, navigate: (hash: string, message?: string) => void, params: string[], startSession: (token: string) => Promise<void>}} ViewContext */

const ROUTES = [
  [/^sign-in$/, signInView, { public: true }],
  [/^register$/, registerView, { public: true }],
  [/^schedules$/, schedulesView],
  [/^schedules\/new$/, scheduleFormView],
  [/^schedules\/([^/]+)\/edit$/, scheduleFormView],
  [/^schedules\/([^/]+)$/, historyView],
  [/^sources$/, sourcesView],
  [/^sources\/new$/, sourceFormView],
  [/^sources\/([^/]+)\/edit$/, sourceFormView],
  [/^files$/, filesView],
  [/^runs$/, runsView],
  [/^account$/, accountView],
];

function navigate(hash, message) {
  if (message) flash = message;
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function startSession(token) {
  localStorage.setItem(TOKEN_KEY, token);
  client.setToken(token);
  currentUser = null;
  navigate('#/schedules');
}

function endSession(message) {
  localStorage.removeItem(TOKEN_KEY);
  client.setToken(null);
  currentUser = null;
  navigate('#/sign-in', message);
}

async function showUser() {
  if (!currentUser) {
    const { user } = await client.me();
    currentUser = user;
  }
  who.textContent = currentUser.name || currentUser.email;
  who.title = currentUser.email;
}

async function route() {
  viewAbort.abort();
  viewAbort = new AbortController();
  const path = location.hash.replace(/^#\/?/, '').split('?')[0] || 'schedules';
  const match = ROUTES.map(([pattern, view, opts]) => [path.match(pattern), view, opts || {}]).find(([m]) => m);
  if (!match) return navigate('#/schedules');
  const [found, view, opts] = match;
  const signedIn = Boolean(client.token);
  if (!opts.public && !signedIn) return navigate('#/sign-in');
  if (opts.public && signedIn) return navigate('#/schedules');

  nav.hidden = !signedIn;
  session.hidden = !signedIn;
  for (const link of nav.querySelectorAll('a')) {
    const section = link.getAttribute('href').slice(2);
    if (path === section || path.startsWith(`${section}/`)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }

  const message = flash;
  flash = null;
  main.setAttribute('aria-busy', 'true');
  /** @type {ViewContext} */
  const ctx = { client, signal: viewAbort.signal, navigate, params: found.slice(1), startSession };
  let content;
  try {
    if (signedIn) await showUser();
    content = await view(ctx);
  } catch (error) {
    const e = /** @type {any} */ (error);
    if (e?.handled || e?.name === 'AbortError') return;
    content = [h('h1', { tabindex: '-1' }, 'Something went wrong'), notice('error', e?.message || String(e))];
  } finally {
    main.removeAttribute('aria-busy');
  }
  if (ctx.signal.aborted) return;
  const nodes = [content].flat(Infinity).filter(Boolean);
  if (message) {
    const heading = nodes.findIndex((n) => n.tagName === 'H1' || n.querySelector?.('h1'));
    nodes.splice(heading + 1, 0, notice(message.startsWith('Your session') ? 'warning' : 'success', message));
  }
  main.replaceChildren(...nodes);
  const title = main.querySelector('h1');
  document.title = title ? `${title.textContent} · DataSync` : 'DataSync';
  // Move focus to the new view's heading so keyboard and screen reader users start there.
  if (title) {
    title.setAttribute('tabindex', '-1');
    title.focus({ preventScroll: false });
  }
}

document.getElementById('sign-out').addEventListener('click', () => endSession('You are signed out.'));
window.addEventListener('hashchange', route);
route();
