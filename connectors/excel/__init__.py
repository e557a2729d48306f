"""Microsoft Excel workbooks through Microsoft Graph (`microsoft-excel`).

`connector` is the entry point; `graph_api` holds every network call (msal, Graph, retries);
`cells` and `addresses` are pure transforms (cell rendering, A1 ranges, OData paths);
`endpoints` says which hosts the endpoint overrides may name.
"""

from connectors.excel.connector import ExcelConnector

__all__ = ["ExcelConnector"]
