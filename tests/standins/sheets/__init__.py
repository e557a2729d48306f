"""Local stand-in for Google's Sheets API v4 and OAuth token endpoint (see server.py).

In a test: `with standin_in_thread() as sheets: ...` (or the pytest fixtures in
`fixtures.py`); next to other processes: `start_standin_process()` or
`python -m tests.standins.sheets --port N --state-file state.json`. Either way, drive it
with the `SheetsStandInControl` methods over its `/_standin/` HTTP API.
"""

from tests.standins.sheets.control import (
    InThreadStandIn,
    SheetsStandInControl,
    StandInProcess,
    standin_in_thread,
    start_standin_process,
    write_state_file,
)
from tests.standins.sheets.keys import ServiceAccountKey

__all__ = [
    "InThreadStandIn",
    "ServiceAccountKey",
    "SheetsStandInControl",
    "StandInProcess",
    "standin_in_thread",
    "start_standin_process",
    "write_state_file",
]
