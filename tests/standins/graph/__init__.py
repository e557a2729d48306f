"""A local Microsoft identity platform + Graph workbook stand-in over TLS.

In-thread: `GraphStandIn(tls_dir).start()` and the `service` attribute's methods; as a
process: `python -m tests.standins.graph` (see `__main__`) driven by `GraphStandInControl`.
Pytest fixtures live in `tests.standins.graph.fixtures`.
"""

from tests.standins.graph.control import GraphStandInControl, start_standin_process
from tests.standins.graph.server import GraphStandIn
from tests.standins.graph.service import GraphService

__all__ = ["GraphService", "GraphStandIn", "GraphStandInControl", "start_standin_process"]
