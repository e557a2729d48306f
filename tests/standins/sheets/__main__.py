"""`python -m tests.standins.sheets --port N [--state-file state.json]`

Serves the Sheets API v4 + OAuth token stand-in on 127.0.0.1 until terminated. Prints
`SHEETS_STANDIN_URL=http://127.0.0.1:PORT` once listening (with `--port 0` the port is
chosen by the OS). The state file has the control API's `PUT /_standin/state` shape:
`{"spreadsheets": {id: {"title", "sheets": [{"title", "rows" | "generate"}], "readers"}},
"serviceAccounts": {email: {"publicKeyPem", "keyId"}}, "oauthClients": {id: {"clientSecret"}},
"refreshTokens": {token: {"clientId", "user", "revoked"}}}`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType

from tests.standins.sheets.server import SheetsStandInServer, StandInState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.standins.sheets")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args(argv)

    state = StandInState()
    if args.state_file:
        state.load(json.loads(args.state_file.read_text()))
    server = SheetsStandInServer(args.port, state)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"SHEETS_STANDIN_URL={server.url}", flush=True)
    try:
        server.serve_forever()
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
