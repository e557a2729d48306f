"""Microsoft Excel workbooks through Microsoft Graph (`microsoft-excel`).

`connector` is the entry point. Network I/O: `sign_in` gets tokens through msal (and holds
the process's msal applications), `graph_client` makes Graph requests under the run's retry
policy, `http_session` is the session both use. `cells` and `addresses` are pure transforms
(cell rendering, A1 ranges, OData paths); `selection` checks what a data source and a
schedule hold; `endpoints` says which hosts the endpoint overrides may name.
"""

from connectors.excel.connector import ExcelConnector

__all__ = ["ExcelConnector"]
