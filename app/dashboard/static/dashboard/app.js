// @ts-check
// The dashboard shell: session, hash routes, navigation. Views live in their own modules and
// talk to the API only through the client (the public one, signed in by the session cookie).

import { DashboardClient } from './session-client.js';
import { h, notice } from './dom.js';
import { signInView, registerView } from './auth.js';
import { schedulesView, scheduleFormView } from './schedules.js';
import { historyView } from './history.js';
import { sourcesView, sourceFormView } from './sources.js';
import { filesView } from './files.js';
import { runsView } from './runs.js';
import { accountView } from './account.js';

/** @import { NoticeKind } from './dom.js' */
/** @import { Answer } from '../../client/datasync.js' */
/** @typedef {Answer<'me'>['user'] | Answer<'startBrowserSession'>['user']} SignedInUser */

// Nothing is kept in the page's storage: the session is an HttpOnly cookie (session-client.js).
// The service root, from this module's own URL: works when the service sits under a prefix.
const SERVICE_ROOT = new URL('../../', import.meta.url).href.replace(/\/$/, '');

const client = new DashboardClient({
  baseUrl: SERVICE_ROOT,
  onSessionEnded: () => endSession('Your session has ended. Please sign in again.', 'warning'),
});

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const who = /** @type {HTMLElement} */ (document.getElementById('who'));
const session = /** @type {HTMLElement} */ (document.getElementById('session'));

/** A message shown once at the top of the next view ("Schedule created"). @type {{text: string, kind: NoticeKind}|null} */
let flash = null;
/** Aborts the current view's requests and polling when the route changes. */
let viewAbort = new AbortController();
/** Who is signed in; null when signed out. Asked of the server at start (/api/auth/me).
 * @type {SignedInUser|null} */
let currentUser = null;

/** @typedef {{client: DashboardClient, signal: AbortSignal, navigate: (hash: string, message?: string, kind?: NoticeKind) => void, params: string[], startSession: (user: SignedInUser) => void}} ViewContext */
/** @typedef {(ctx: ViewContext) => HTMLElement | Array<HTMLElement | null> | Promise<HTMLElement | Array<HTMLElement | null>>} View */

/** @type {Array<[RegExp, View, {public?: boolean}?]>} */
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

/** @param {string} hash @param {string} [message] @param {NoticeKind} [kind] */
function navigate(hash, message, kind = 'success') {
  if (message) flash = { text: message, kind };
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** After signing in: the session cookie is set; the answer named the user. @param {SignedInUser} user */
function startSession(user) {
  currentUser = user;
  navigate('#/schedules');
}

/** @param {string} message @param {NoticeKind} [kind] */
function endSession(message, kind = 'success') {
  // Several requests of one view may learn of the end at once: the first one tells.
  if (currentUser === null) return;
  currentUser = null;
  navigate('#/sign-in', message, kind);
}

async function signOut() {
  try {
    await client.signOut();
  } catch (error) {
    const e = /** @type {any} */ (error);
    // 401: the session had already ended. Anything else: the cookie may still be valid, so
    // the page must not claim to be signed out.
    if (e?.status !== 401) {
      navigate(location.hash, `Could not sign out: ${e?.message || e}`, 'error');
      return;
    }
  }
  endSession('You are signed out.');
}

/** @param {SignedInUser} user */
function showUser(user) {
  who.textContent = user.name || user.email;
  who.title = user.email || '';
}

/** The first route whose pattern matches `path`, with the pattern's groups. @param {string} path */
function routeFor(path) {
  for (const [pattern, view, opts] of ROUTES) {
    const found = path.match(pattern);
    if (found) return { params: found.slice(1), view, opts: opts || {} };
  }
  return null;
}

async function route() {
  viewAbort.abort();
  viewAbort = new AbortController();
  const path = location.hash.replace(/^#\/?/, '').split('?')[0] || 'schedules';
  const match = routeFor(path);
  if (!match) return navigate('#/schedules');
  const { params, view, opts } = match;
  const signedIn = currentUser !== null;
  if (!opts.public && !signedIn) return navigate('#/sign-in');
  if (opts.public && signedIn) return navigate('#/schedules');

  nav.hidden = !signedIn;
  session.hidden = !signedIn;
  for (const link of nav.querySelectorAll('a')) {
    const section = /** @type {string} */ (link.getAttribute('href')).slice(2);
    if (path === section || path.startsWith(`${section}/`)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }

  const message = flash;
  flash = null;
  main.setAttribute('aria-busy', 'true');
  /** @type {ViewContext} */
  const ctx = { client, signal: viewAbort.signal, navigate, params, startSession };
  let content;
  try {
    if (currentUser) showUser(currentUser);
    content = await view(ctx);
  } catch (error) {
    const e = /** @type {any} */ (error);
    if (e?.handled || e?.name === 'AbortError') return;
    content = [h('h1', { tabindex: '-1' }, 'Something went wrong'), notice('error', e?.message || String(e))];
  } finally {
    main.removeAttribute('aria-busy');
  }
  if (ctx.signal.aborted) return;
  const nodes = /** @type {HTMLElement[]} */ ([content].flat(Infinity).filter(Boolean));
  if (message) {
    const heading = nodes.findIndex((n) => n.tagName === 'H1' || n.querySelector?.('h1'));
    nodes.splice(heading + 1, 0, notice(message.kind, message.text));
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

/** Asks the server whether this browser is signed in, then shows the route. */
async function start() {
  try {
    currentUser = await client.currentUser();
  } catch (error) {
    const e = /** @type {any} */ (error);
    main.replaceChildren(h('h1', { tabindex: '-1' }, 'DataSync is not reachable'), notice('error', e?.message || String(e)));
    return;
  }
  window.addEventListener('hashchange', route);
  route();
}

/** @type {HTMLElement} */ (document.getElementById('sign-out')).addEventListener('click', signOut);
start();
