"""Run the Graph stand-in as its own process, for tests where a real worker process talks to it:

    python -m tests.standins.graph --port 0 --tls-dir /tmp/graph-tls [--describe-file f.json]

Prints one JSON line once it is listening (`baseUrl`, `authorityHost`, `graphBaseUrl`, `port`,
`caFile`, `caBundle`, `controlUrl`) and writes the same to `--describe-file`. Point
REQUESTS_CA_BUNDLE (and SSL_CERT_FILE) of the processes under test at `caBundle`; drive the
stand-in through `GraphStandInControl` (POSTs to `controlUrl`). Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

from tests.standins.graph.server import GraphStandIn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.standins.graph")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--tls-dir", type=Path, default=None, help="where the CA and cert go")
    parser.add_argument("--describe-file", type=Path, default=None)
    parser.add_argument("--max-cells-per-response", type=int, default=100_000)
    args = parser.parse_args(argv)
    tls_dir = args.tls_dir or Path(tempfile.mkdtemp(prefix="graph-standin-"))
    standin = GraphStandIn(
        tls_dir, port=args.port, max_cells_per_response=args.max_cells_per_response
    )
    description = json.dumps(standin.describe())
    if args.describe_file:
        temporary = args.describe_file.with_suffix(".tmp")
        temporary.write_text(description)
        temporary.replace(args.describe_file)  # readers never see half a file
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    standin.start()
    print(description, flush=True)
    stop.wait()
    standin.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
