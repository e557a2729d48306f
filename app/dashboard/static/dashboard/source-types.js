// @ts-check
// What each source type asks for: credentials and settings (data source form) and the
// selection a schedule reads (schedule form). A type not listed here (a plugin) gets JSON
// fields instead: the API validates whatever is sent.

/**
 * @typedef {object} FieldSpec
 * @property {string} key  the JSON key inside credentials / settings / config
 * @property {string} label
 * @property {string} [type] input type, "textarea", "select", "checkbox" or "json"
 * @property {string} [hint]
 * @property {boolean} [advanced] shown under "Advanced"
 * @property {Array<[string, string]>} [options]
 * @property {Record<string, any>} [attrs]
 * @property {'number'|'boolean'} [as] how to send the text
 */

/** @type {Record<string, {label: string, credentials: FieldSpec[], settings: FieldSpec[], selection: FieldSpec[]}>} */
export const SOURCE_TYPES = {
  'google-sheets': {
    label: 'Google Sheets',
    credentials: [
      {
        key: 'serviceAccountInfo', label: 'Service account JSON key', type: 'json',
        hint: 'Paste the key file from Google Cloud (IAM → Service accounts → Keys → Add key → JSON), or load it below. Then share each spreadsheet with the key\'s client_email.',
        attrs: { rows: 8, placeholder: '{ "type": "service_account", "client_email": "…", "private_key": "…", … }' },
      },
    ],
    settings: [
      { key: 'sheetsBaseUrl', label: 'Sheets API root', type: 'url', advanced: true, hint: 'Default https://sheets.googleapis.com' },
      { key: 'tokenUri', label: 'Token endpoint', type: 'url', advanced: true, hint: 'Default https://oauth2.googleapis.com/token' },
    ],
    selection: [
      { key: 'spreadsheetId', label: 'Spreadsheet ID or URL', hint: 'The long id in the spreadsheet\'s address (…/spreadsheets/d/<id>/edit).' },
      { key: 'sheetName', label: 'Sheet name', hint: 'The tab\'s exact title.' },
      { key: 'range', label: 'Range (optional)', hint: 'A1 notation such as A1:L1000; empty reads the whole sheet.' },
    ],
  },
  'microsoft-excel': {
    label: 'Microsoft Excel (OneDrive / SharePoint)',
    credentials: [
      { key: 'tenantId', label: 'Tenant ID', hint: 'Directory (tenant) ID of the Entra ID app registration.', attrs: { autocomplete: 'off' } },
      { key: 'clientId', label: 'Client ID', hint: 'Application (client) ID.', attrs: { autocomplete: 'off' } },
      { key: 'clientSecret', label: 'Client secret', type: 'password', hint: 'The secret\'s value (not its id).', attrs: { autocomplete: 'new-password' } },
    ],
    settings: [
      { key: 'driveId', label: 'Drive ID', hint: 'The drive that holds the workbooks. Or give a user ID below (their OneDrive).' },
      { key: 'userId', label: 'User ID (optional)', hint: 'Instead of a drive ID: a user whose OneDrive holds the workbooks.' },
      { key: 'authorityHost', label: 'Authority host', type: 'url', advanced: true, hint: 'Default https://login.microsoftonline.com (national clouds differ).' },
      { key: 'graphBaseUrl', label: 'Graph API root', type: 'url', advanced: true, hint: 'Default https://graph.microsoft.com/v1.0' },
    ],
    selection: [
      { key: 'workbookId', label: 'Workbook ID', hint: 'The workbook\'s drive item id (01AZJL5P…).' },
      { key: 'worksheetName', label: 'Worksheet name' },
      { key: 'range', label: 'Range (optional)', hint: 'Such as A1:D100; empty reads the used range.' },
    ],
  },
  'sql-server': {
    label: 'SQL Server',
    credentials: [
      { key: 'server', label: 'Server', hint: 'Host name or address, e.g. sql.example.com', attrs: { autocomplete: 'off' } },
      { key: 'port', label: 'Port', type: 'number', as: 'number', hint: 'Default 1433.', attrs: { inputmode: 'numeric', min: 1, max: 65535, placeholder: '1433' } },
      { key: 'username', label: 'User name', attrs: { autocomplete: 'off' } },
      { key: 'password', label: 'Password', type: 'password', attrs: { autocomplete: 'new-password' } },
      {
        key: 'encrypt', label: 'Encryption', type: 'select', as: 'boolean',
        options: [['', 'Driver default'], ['true', 'Require encryption'], ['false', 'Off']],
      },
      { key: 'trustServerCertificate', label: 'Trust the server certificate (self-signed servers)', type: 'checkbox' },
    ],
    settings: [],
    selection: [
      { key: 'databaseName', label: 'Database' },
      { key: 'query', label: 'Query', type: 'textarea', hint: 'One read-only statement: SELECT … or WITH … SELECT …', attrs: { rows: 5, placeholder: 'SELECT * FROM dbo.Orders' } },
      { key: 'queryTimeoutSeconds', label: 'Query timeout (seconds)', type: 'number', as: 'number', hint: 'Default 300.', attrs: { inputmode: 'numeric', min: 1 } },
    ],
  },
};

/** A source type's name for people; a plugin's type is shown as it is. @param {string | undefined} type */
export function typeLabel(type) {
  return SOURCE_TYPES[type ?? '']?.label || type;
}

/**
 * Reads the fields built from `specs` back into an object for the API, skipping empty ones.
 * @param {HTMLElement} form
 * @param {string} prefix "credentials", "settings" or "config"
 * @param {FieldSpec[]} specs
 */
export function collect(form, prefix, specs) {
  /** @type {Record<string, any>} */
  const out = {};
  for (const spec of specs) {
    const el = /** @type {HTMLInputElement|null} */ (form.querySelector(`[data-field="${prefix}.${spec.key}"] :is(input, select, textarea)`));
    if (!el) continue;
    if (spec.type === 'checkbox') {
      if (el.checked) out[spec.key] = true;
      continue;
    }
    const text = el.value.trim();
    if (!text) continue;
    if (spec.type === 'json') {
      try {
        out[spec.key] = JSON.parse(text);
      } catch (e) {
        throw { message: 'Check the form: see the field marked below', details: [{ field: `${prefix}.${spec.key}`, message: `is not valid JSON (${e instanceof Error ? e.message : e})` }] };
      }
    } else if (spec.as === 'number' && /^-?\d+(\.\d+)?$/.test(text)) {
      out[spec.key] = Number(text);
    } else if (spec.as === 'boolean') {
      out[spec.key] = text === 'true';
    } else {
      out[spec.key] = text; // sent as typed: the API names what is wrong with it
    }
  }
  return out;
}
