"""The socket layer's kernel side: ``struct sock`` for the datagram protocols (sock.py), the inet
protocol switch and proto_ops (af_inet.py), socket options (sockopt.py) and the API numbers
(constants.py). The user-facing ``Socket`` is in ``tuxnet/socket.py``.
"""

from __future__ import annotations

from typing import Any


def init_sockets(ns: Any) -> Any:
    """The pernet init of ``ns.sockets`` (the namespace's socket table)."""
    from tuxnet.socket import SocketTable

    return SocketTable(ns)


# The IPv4 protocols import this package's modules while registering themselves: load them first
# so that any import order works.
import tuxnet.ipv4  # noqa: E402, F401
