"""inetd's built-in services: echo (RFC 862), discard (RFC 863), daytime (RFC 867), chargen (RFC 864).

Mirrors the internal services of the BSD/netkit inetd (``builtins.c``), over UDP and TCP:

- echo (7): TCP returns every byte until the client closes, then closes; UDP returns each datagram.
- discard (9): reads and drops everything; TCP closes when the client does.
- daytime (13): one line, ``ctime(3)``'s 24 characters and CRLF (``Mon Nov 23 14:12:05 2026``), in UTC,
  then TCP closes; UDP answers every datagram with that line.
- chargen (19): the RFC 864 pattern: lines of 72 of the 95 printable ASCII characters, each line
  starting one character further along the ring, ended by CRLF. TCP sends until the client goes away
  (flow-controlled by the socket: ``drain`` waits while the peer's window is closed); UDP answers each
  datagram with the next line of the ring (74 bytes), as inetd's ``chargen_dg`` does.
- A datagram from a source port below 1024 gets no answer (inetd's ``dg_badinput``): it could be
  another such service, and two of them would answer each other forever.

Time: ``wall_time_ns(ns)`` is the single function through which an application learns the date
(CLOCK_REALTIME). In the lab it is a fixed epoch plus the loop's virtual time, so runs are
reproducible; live mode sets the namespace's epoch once from the host clock (``set_wall_epoch``),
after which the answer is host time, still derived from the loop's clock. Nothing here reads the
host clock.

TCP services run on ``ns.start_server`` (asyncio streams over tuxnet TCP); UDP services on
``create_datagram_endpoint``. ``Inetd`` starts a set of them and closes them all (TCP with FIN).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from typing import TYPE_CHECKING, Any

from tuxnet.core.loop import NSEC_PER_SEC
from tuxnet.sock.dgram_endpoint import create_datagram_endpoint

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

SERVICES: dict[str, int] = {"echo": 7, "discard": 9, "daytime": 13, "chargen": 19}
IPPORT_RESERVED = 1024

# ------------------------------------------------------------------------------ wall time
# 2026-01-01T00:00:00Z: the lab's CLOCK_REALTIME at virtual time 0 (fixed, for reproducible runs)
LAB_WALL_EPOCH_NS = 1_767_225_600 * NSEC_PER_SEC


def set_wall_epoch(ns: Namespace, epoch_ns: int) -> None:
    """Declare that loop time 0 of ``ns`` is ``epoch_ns`` ns after 1970 (live mode, from the host)."""
    ns.wall_epoch_ns = epoch_ns  # type: ignore[attr-defined]


def wall_time_ns(ns: Namespace) -> int:
    """THE wall clock of a namespace (its CLOCK_REALTIME), in ns since 1970-01-01 UTC.

    Epoch + loop time: the lab's fixed epoch unless live mode set one from the host clock."""
    return getattr(ns, "wall_epoch_ns", LAB_WALL_EPOCH_NS) + ns.loop.now_ns


def wall_datetime(ns: Namespace) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(wall_time_ns(ns) // NSEC_PER_SEC, datetime.UTC)


def daytime_line(ns: Namespace) -> bytes:
    """inetd's daytime_stream: ``"%.24s\\r\\n"`` of ctime()."""
    return wall_datetime(ns).ctime().encode() + b"\r\n"


# ------------------------------------------------------------------------------ chargen
CHARGEN_RING = bytes(range(32, 127))  # the 95 printable ASCII characters
CHARGEN_LINE = 72


def chargen_line(i: int) -> bytes:
    """Line ``i`` of the pattern (72 characters starting at ring position i mod 95, then CRLF)."""
    r = i % len(CHARGEN_RING)
    ring2 = CHARGEN_RING + CHARGEN_RING
    return ring2[r:r + CHARGEN_LINE] + b"\r\n"


# One full cycle of the pattern: 95 lines of 74 bytes; a stream is this block repeated.
CHARGEN_CYCLE = b"".join(chargen_line(i) for i in range(len(CHARGEN_RING)))


# ------------------------------------------------------------------------------ UDP
class _DgramService(asyncio.DatagramProtocol):
    def __init__(self, ns: Namespace, name: str) -> None:
        self.ns = ns
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None
        self.chargen_next = 0
        self.answered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.name == "discard" or addr[1] < IPPORT_RESERVED:
            return  # dg_badinput: never answer a (possibly) well-known service
        if self.name == "echo":
            reply = data
        elif self.name == "daytime":
            reply = daytime_line(self.ns)
        else:  # chargen_dg: the next line of the ring
            reply = chargen_line(self.chargen_next)
            self.chargen_next = (self.chargen_next + 1) % len(CHARGEN_RING)
        assert self.transport is not None
        self.answered += 1
        self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for an answer we sent: nothing to do, as inetd ignores sendto errors


async def start_udp(ns: Namespace, name: str, port: int | None = None,
                    host: str = "0.0.0.0") -> asyncio.DatagramTransport:
    """Serve the UDP side of service ``name`` on ``host:port`` (default: its well-known port)."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}")
    port = SERVICES[name] if port is None else port
    transport, _ = await create_datagram_endpoint(ns, lambda: _DgramService(ns, name),
                                                  local_addr=(host, port))
    return transport  # type: ignore[return-value]


# ------------------------------------------------------------------------------ TCP
async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()


async def tcp_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """echo_stream: return what arrives until EOF, then close."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        writer.transport.abort()
        return
    await _close(writer)


async def tcp_discard(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """discard_stream: read until EOF, then close."""
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, OSError):
        writer.transport.abort()
        return
    await _close(writer)


def _daytime(ns: Namespace):  # type: ignore[no-untyped-def]
    async def tcp_daytime(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """daytime_stream: one line, then close."""
        writer.write(daytime_line(ns))
        await _close(writer)

    return tcp_daytime


async def tcp_chargen(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """chargen_stream: the pattern until the client closes or resets the connection."""
    block = CHARGEN_CYCLE * 8  # ~56 KiB per write, each starting at line 0 of the ring
    closed = asyncio.ensure_future(reader.read())  # EOF (or anything) from the client ends it
    try:
        while not closed.done() and not writer.is_closing():
            writer.write(block)
            await writer.drain()
    except (ConnectionError, OSError):
        writer.transport.abort()
        return
    finally:
        closed.cancel()
    await _close(writer)


async def start_tcp(ns: Namespace, name: str, port: int | None = None, host: str | None = None) -> Any:
    """Serve the TCP side of service ``name`` with ``ns.start_server``; returns the Server."""
    handlers = {"echo": tcp_echo, "discard": tcp_discard, "chargen": tcp_chargen, "daytime": _daytime(ns)}
    if name not in handlers:
        raise ValueError(f"unknown service {name!r}")
    port = SERVICES[name] if port is None else port
    return await ns.start_server(handlers[name], host=host, port=port)


def tcp_available(ns: Namespace) -> bool:
    """Whether this tuxnet has TCP streams (``ns.start_server`` and its implementation)."""
    try:
        import tuxnet.ipv4.tcp.streams  # noqa: F401
    except ImportError:
        return False
    return hasattr(ns, "start_server") and getattr(ns, "tcp", None) is not None


class Inetd:
    """A set of running internal services in one namespace."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.udp: dict[str, asyncio.DatagramTransport] = {}
        self.tcp: dict[str, Any] = {}

    async def start(self, names: list[str], *, udp: bool = True, tcp: bool = True) -> None:
        for name in names:
            if name not in SERVICES:
                raise ValueError(f"unknown service {name!r} (known: {', '.join(SERVICES)})")
            if udp:
                self.udp[name] = await start_udp(self.ns, name)
            if tcp:
                self.tcp[name] = await start_tcp(self.ns, name)

    async def close(self) -> None:
        """Stop listening and close every connection (TCP sends FIN, as inetd's children exit)."""
        for t in self.udp.values():
            t.close()
        for server in self.tcp.values():
            server.close()
            if hasattr(server, "close_clients"):
                server.close_clients()
        for server in self.tcp.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self.udp.clear()
        self.tcp.clear()
