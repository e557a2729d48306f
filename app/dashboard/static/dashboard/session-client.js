// @ts-check
// The dashboard's API client: the public client, signed in by the browser's session cookie.
//
// The session is an HttpOnly cookie (`POST /api/auth/session` sets it), so no script on this
// page, injected or not, can read or send it elsewhere; the browser attaches it to same-origin
// requests itself. Every request carries `X-Requested-With: DataSync`: the service refuses
// cookie-signed writes without it, and another site's page cannot add it (a custom header
// needs a CORS preflight that the service does not grant).

import { DataSyncClient } from '../../client/datasync.js';

/** @import { Answer, Body, RequestOptions } from '../../client/datasync.js' */

const SESSION_HEADERS = { 'X-Requested-With': 'DataSync' };

export class DashboardClient extends DataSyncClient {
  /**
   * @param {object} options
   * @param {string} options.baseUrl the service root
   * @param {(error: any) => void} options.onSessionEnded a signed-in call answered 401: the
   *   cookie expired, or the session was ended elsewhere (signed out, password changed)
   */
  constructor({ baseUrl, onSessionEnded }) {
    super({
      baseUrl,
      headers: SESSION_HEADERS,
      fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: 'same-origin' }),
    });
    this.onSessionEnded = onSessionEnded;
  }

  /**
   * As the public client's, except that a 401 on a call made signed in ends the session
   * (calls marked `auth: false`, like signing in, get their 401 as an ordinary error).
   * @param {string} method @param {string} path @param {any} [options]
   */
  async fetchRaw(method, path, options = {}) {
    try {
      return await super.fetchRaw(method, path, options);
    } catch (error) {
      const e = /** @type {any} */ (error);
      if (e?.status === 401 && options.auth !== false) {
        e.handled = true;
        this.onSessionEnded(e);
      }
      throw error;
    }
  }

  /** @type {Promise<Answer<'listSourceTypes'>> | null} */
  #sourceTypes = null;

  /**
   * The source types installed on the server, asked once: plugins are installed before the
   * service starts, so the answer holds while the page is open. A failed ask is not kept.
   * @returns {Promise<Answer<'listSourceTypes'>>}
   */
  sourceTypes() {
    this.#sourceTypes ??= this.listSourceTypes().catch((error) => {
      this.#sourceTypes = null;
      throw error;
    });
    return this.#sourceTypes;
  }

  /**
   * The signed-in user, or null when this browser has no session (the start-up question).
   * @param {RequestOptions} [options]
   * @returns {Promise<Answer<'me'>['user'] | null>}
   */
  async currentUser(options = {}) {
    try {
      /** @type {Answer<'me'>} */
      const { user } = await this.request('GET', '/api/auth/me', { ...options, auth: false });
      return user;
    } catch (error) {
      if (/** @type {any} */ (error)?.status === 401) return null;
      throw error;
    }
  }

  /**
   * Signs in: the answer sets the session cookie and names the user (no token in it).
   * @param {Body<'startBrowserSession'>['email']} email
   * @param {Body<'startBrowserSession'>['password']} password
   * @param {RequestOptions} [options]
   * @returns {Promise<Answer<'startBrowserSession'>>}
   */
  signIn(email, password, options = {}) {
    return this.request('POST', '/api/auth/session', { ...options, body: { email, password }, auth: false });
  }

  /**
   * Ends this browser's session on the server, which also clears the cookie.
   * @param {RequestOptions} [options]
   * @returns {Promise<Answer<'logout'>>}
   */
  signOut(options = {}) {
    return this.request('POST', '/api/auth/logout', { ...options, auth: false });
  }

  /**
   * Ends every session of the user; this browser gets a fresh cookie in the answer.
   * @param {Body<'changePassword'>['currentPassword']} currentPassword
   * @param {Body<'changePassword'>['newPassword']} newPassword
   * @param {RequestOptions} [options]
   * @returns {Promise<Answer<'changePassword'>>}
   */
  changePassword(currentPassword, newPassword, options = {}) {
    return this.request('POST', '/api/auth/password', { ...options, body: { currentPassword, newPassword } });
  }
}
