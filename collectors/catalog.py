"""Every built-in collector module, imported so each registers itself (see registry.py)."""

from canhgac.collectors.file import collector as file_collector
from canhgac.collectors.http import server as http_server
from canhgac.collectors.relp import server as relp_server
from canhgac.collectors.syslog import tcp, tls, udp

__all__ = ["file_collector", "http_server", "relp_server", "tcp", "tls", "udp"]
