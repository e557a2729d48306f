"""Google Sheets source type (`google-sheets`).

Layout: `connector.py` is the entry point the registry loads; `api.py` holds every call to
Google, `credentials.py` the google-auth credentials and the transport they may use,
`http_client.py` gspread's client under the run's retry policy, `failures.py` how Google's
failures are told; `reader.py` reads a sheet in row chunks; `a1.py`, `rows.py`,
`selection.py` and `endpoints.py` are pure.
"""

from connectors.google_sheets.connector import GoogleSheetsConnector

__all__ = ["GoogleSheetsConnector"]
