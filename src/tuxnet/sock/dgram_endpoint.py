"""asyncio datagram endpoints on tuxnet sockets: ``create_datagram_endpoint(ns, factory, ...)`` returns
``(transport, protocol)`` like ``loop.create_datagram_endpoint`` (asyncio/selector_events.py).

Guarantees:
- The protocol sees ``connection_made``, then ``datagram_received(data, addr)`` for every datagram
  as soon as it is queued (the socket's wait queue wakes the transport: no polling), and
  ``error_received(exc)`` for errors the socket reports (ECONNREFUSED after an ICMP port unreachable
  on a connected endpoint, errors from ``sendto``); ``connection_lost(None)`` after ``close()``.
- ``transport.sendto(data, addr)`` sends at once (a datagram socket never has to wait for buffer
  space in tuxnet); a connected endpoint refuses another address with ValueError, as asyncio does.
- ``pause_reading``/``resume_reading`` stop and restart delivery; datagrams wait in the socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.sock.constants import (
    AF_INET,
    POLLIN_SET,
    SO_BROADCAST,
    SO_REUSEPORT,
    SOCK_DGRAM,
    SOL_SOCKET,
)

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.socket import Socket, WaitEntry


class DatagramTransport(asyncio.DatagramTransport):
    """A datagram transport over one tuxnet socket."""

    max_size = 256 * 1024

    def __init__(self, ns: Namespace, sock: Socket, protocol: asyncio.DatagramProtocol,
                 address: Any = None) -> None:
        super().__init__({"socket": sock})
        self._ns = ns
        self._sock = sock
        self._protocol = protocol
        self._address = address
        self._closing = False
        self._paused = False
        self._scheduled = False
        self._entry: WaitEntry | None = None
        try:
            self._extra["sockname"] = sock.getsockname()
        except OSError:
            pass
        if address is not None:
            self._extra["peername"] = address

    # ------------------------------------------------------------ reading
    def _start(self) -> None:
        self._entry = self._sock.wq.add(POLLIN_SET, self._wakeup)
        self._wakeup(0)  # anything queued before we started

    def _wakeup(self, key: int) -> None:
        if not self._scheduled and not self._closing and not self._paused:
            self._scheduled = True
            self._ns.loop.call_soon(self._read_ready)

    def _read_ready(self) -> None:
        self._scheduled = False
        sock = self._sock
        while not self._closing and not self._paused and sock.sk is not None:
            try:
                data, addr = sock.recvfrom(self.max_size)
            except BlockingIOError:
                return
            except OSError as exc:
                self._protocol.error_received(exc)
                continue
            self._protocol.datagram_received(data, addr)

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            self._wakeup(0)

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    # ------------------------------------------------------------ writing
    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        if self._address is not None and addr not in (None, self._address):
            raise ValueError(f"Invalid address: must be None or {self._address}")
        if self._closing:
            return
        try:
            if addr is None:
                self._sock.send(data)
            else:
                self._sock.sendto(data, addr)
        except OSError as exc:
            self._protocol.error_received(exc)

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False

    # ------------------------------------------------------------ closing
    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._entry is not None:
            self._sock.wq.remove(self._entry)
        self._sock.close()
        self._ns.loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]


async def create_datagram_endpoint(ns: Namespace, protocol_factory: Callable[[], asyncio.DatagramProtocol],
                                   local_addr: Any = None, remote_addr: Any = None, *,
                                   reuse_port: bool | None = None, allow_broadcast: bool | None = None,
                                   sock: Socket | None = None) -> tuple[DatagramTransport, Any]:
    """loop.create_datagram_endpoint for a namespace (AF_INET, UDP)."""
    if sock is None:
        sock = ns.socket(AF_INET, SOCK_DGRAM, 0)
        try:
            if reuse_port:
                sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
            if allow_broadcast:
                sock.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)
            if local_addr is not None:
                sock.bind(local_addr)
            if remote_addr is not None:
                sock.connect(remote_addr)
        except BaseException:
            sock.close()
            raise
    address = None
    if remote_addr is not None:
        address = sock.getpeername() if sock.sk is not None else remote_addr
    protocol = protocol_factory()
    transport = DatagramTransport(ns, sock, protocol, address)
    loop = ns.loop
    waiter = loop.create_future()

    def start() -> None:
        protocol.connection_made(transport)
        transport._start()
        if not waiter.done():
            waiter.set_result(None)

    loop.call_soon(start)
    await waiter
    return transport, protocol
