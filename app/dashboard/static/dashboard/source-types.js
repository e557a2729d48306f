// @ts-check
// The source types installed on this server, as the dashboard names and lists them. What
// each one asks for is the server's declaration (GET /api/source-types); the forms are built
// from it by declared-fields.js, so nothing here knows a particular type.

import { readableName } from './field-names.js';

/** @import { Answer } from '../../client/datasync.js' */
/** @typedef {Answer<'listSourceTypes'>['sourceTypes'][number]} SourceType */
/** @typedef {SourceType['credentialVariants'][number]} CredentialVariant */
/** @typedef {SourceType['settings'][number]} DeclaredField */

export class SourceTypeCatalog {
  /** @param {SourceType[]} types in the server's order */
  constructor(types) {
    this.types = types;
    this.byName = new Map(types.map((t) => [t.type, t]));
  }

  /** @param {string | null | undefined} type */
  get(type) {
    return this.byName.get(type ?? '');
  }

  /** The declaration a form can be built from: the type is installed and loads here. @param {string | null | undefined} type */
  usable(type) {
    const found = this.get(type);
    return found?.available ? found : undefined;
  }

  /** A type's name for people; one this server does not know is shown as it is. @param {string | null | undefined} type */
  label(type) {
    return this.get(type)?.displayName || type || '';
  }

  /** The label a type declares for one of its settings, else the key in words. @param {string} type @param {string} key */
  settingLabel(type, key) {
    return this.get(type)?.settings.find((s) => s.key === key)?.label || readableName(key);
  }
}

/**
 * The catalog of the server's source types (asked once per page load by the client).
 * @param {{ sourceTypes(): Promise<Answer<'listSourceTypes'>> }} client
 */
export async function loadSourceTypes(client) {
  return new SourceTypeCatalog((await client.sourceTypes()).sourceTypes);
}

/**
 * For views that only show names: they render at once, each name filled in when the catalog
 * arrives (as the API names it if the catalog cannot be had).
 * @param {{ sourceTypes(): Promise<Answer<'listSourceTypes'>> }} client
 */
function namesLater(client) {
  const catalog = loadSourceTypes(client).catch(() => new SourceTypeCatalog([]));
  /** @param {(c: SourceTypeCatalog) => string} name @param {string} [meanwhile] */
  return (name, meanwhile = '') => {
    const el = document.createElement('span');
    el.textContent = meanwhile;
    catalog.then((c) => { el.textContent = name(c); });
    return el;
  };
}

/**
 * Source type names as elements: `typeNames(client)('postgresql')` shows “PostgreSQL”.
 * @param {{ sourceTypes(): Promise<Answer<'listSourceTypes'>> }} client
 * @returns {(type: string | null | undefined) => HTMLElement}
 */
export function typeNames(client) {
  const later = namesLater(client);
  return (type) => later((c) => c.label(type));
}

/**
 * Setting names as elements, the type's declared label (`batchRows` → “Rows per batch”).
 * @param {{ sourceTypes(): Promise<Answer<'listSourceTypes'>> }} client
 * @returns {(type: string, key: string) => HTMLElement}
 */
export function settingNames(client) {
  const later = namesLater(client);
  return (type, key) => later((c) => c.settingLabel(type, key), readableName(key));
}
