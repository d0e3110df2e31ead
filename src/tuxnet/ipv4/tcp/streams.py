"""asyncio streams over tuxnet TCP sockets: ``open_connection`` and ``start_server`` return genuine
``asyncio.StreamReader``/``StreamWriter`` objects, as ``asyncio.open_connection``/``start_server`` do
over the host's sockets (Lib/asyncio/streams.py, selector_events._SelectorSocketTransport).

Guarantees:
- ``TcpTransport`` is an ``asyncio.Transport`` over a non-blocking ``tuxnet.socket.Socket``: it
  reads when the socket's wait queue reports it readable (never from inside the stack's receive
  path: wakeups are deferred with ``call_soon``), hands data to ``protocol.data_received``, and
  ``eof_received`` at EOF (closing unless the protocol keeps the half-open connection).
- Flow control both ways: ``pause_reading`` stops reading, so the TCP receive buffer fills and the
  advertised window closes; writes go to the socket as far as its send buffer takes them, the rest
  waits in the transport, and ``pause_writing``/``resume_writing`` follow the high/low water marks
  (64 KiB / 16 KiB by default) so ``StreamWriter.drain()`` blocks while the peer is slow.
- ``write_eof`` sends FIN (shutdown(SHUT_WR)) once the buffer is flushed; ``close`` flushes then
  closes; ``abort`` closes at once. Socket errors (ECONNRESET ...) end the connection with
  ``connection_lost(exc)``.
- ``start_server`` listens (SO_REUSEADDR, backlog 100) and runs ``client_connected_cb(reader,
  writer)`` per accepted connection, as asyncio does; the returned ``Server`` supports ``close``,
  ``wait_closed``, ``serve_forever``, ``sockets`` and ``async with``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tuxnet.sock.constants import (
    AF_INET,
    POLLIN_SET,
    POLLOUT_SET,
    SHUT_WR,
    SO_REUSEADDR,
    SOCK_STREAM,
    SOL_SOCKET,
)

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.socket import Socket

_LIMIT = 2 ** 16
MAX_READ = 256 * 1024


class TcpTransport(asyncio.Transport):
    """A stream transport over a tuxnet socket."""

    def __init__(self, ns: Namespace, sock: Socket, protocol: asyncio.BaseProtocol,
                 server: Server | None = None) -> None:
        super().__init__({"socket": sock})
        self._ns = ns
        self._loop = ns.loop
        self._sock = sock
        self._protocol = protocol
        self._server = server
        self._buffer = bytearray()
        self._closing = False
        self._closed = False
        self._eof = False
        self._paused = False
        self._protocol_paused = False
        self._high = 4 * _LIMIT
        self._low = _LIMIT
        self._read_entry: Any = None
        self._write_entry: Any = None
        self._read_scheduled = False
        self._write_scheduled = False
        self._want_eof = False
        self._eof_done = False
        try:
            self._extra["sockname"] = sock.getsockname()
        except OSError:
            pass
        try:
            self._extra["peername"] = sock.getpeername()
        except OSError:
            pass
        if server is not None:
            server._attach(self)
        self._loop.call_soon(self._start)

    # ------------------------------------------------------------------ life cycle
    def _start(self) -> None:
        self._protocol.connection_made(self)
        if not self._closing:
            self._arm_read()
            self._schedule_read()

    def _arm_read(self) -> None:
        if self._read_entry is None and not self._paused and not self._closed:
            self._read_entry = self._sock.wq.add(POLLIN_SET, lambda key: self._schedule_read())

    def _disarm_read(self) -> None:
        if self._read_entry is not None:
            self._sock.wq.remove(self._read_entry)
            self._read_entry = None

    def _schedule_read(self) -> None:
        if not self._read_scheduled and not self._paused and not self._closed:
            self._read_scheduled = True
            self._loop.call_soon(self._read_ready)

    def _read_ready(self) -> None:
        self._read_scheduled = False
        if self._paused or self._closed or self._eof:
            return
        sock = self._sock
        while not self._paused and not self._closed:
            try:
                data = sock.recv(MAX_READ)
            except BlockingIOError:
                return
            except OSError as exc:
                self._fatal_error(exc)
                return
            if not data:
                self._read_eof()
                return
            self._protocol.data_received(data)  # type: ignore[attr-defined]

    def _read_eof(self) -> None:
        self._eof = True
        self._disarm_read()
        keep_open = self._protocol.eof_received()  # type: ignore[attr-defined]
        if not keep_open:
            self.close()

    def _fatal_error(self, exc: BaseException | None) -> None:
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        self._buffer.clear()
        self._disarm_read()
        self._disarm_write()
        self._closing = True
        self._closed = True
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            if self._sock.fileno() != -1:
                self._sock.close()
            if self._server is not None:
                self._server._detach(self)
                self._server = None

    # ------------------------------------------------------------------ reading
    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def pause_reading(self) -> None:
        if self._closing or self._paused:
            return
        self._paused = True
        self._disarm_read()

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        self._arm_read()
        self._schedule_read()

    # ------------------------------------------------------------------ writing
    def _arm_write(self) -> None:
        if self._write_entry is None and not self._closed:
            self._write_entry = self._sock.wq.add(POLLOUT_SET, lambda key: self._schedule_write())

    def _disarm_write(self) -> None:
        if self._write_entry is not None:
            self._sock.wq.remove(self._write_entry)
            self._write_entry = None

    def _schedule_write(self) -> None:
        if not self._write_scheduled and not self._closed:
            self._write_scheduled = True
            self._loop.call_soon(self._write_ready)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
        if self._eof_sent():
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data or self._closed:
            return
        if not self._buffer:
            try:
                n = self._sock.send(data)
            except BlockingIOError:
                n = 0
            except OSError as exc:
                self._fatal_error(exc)
                return
            data = memoryview(data)[n:]
            if not data:
                return
            self._arm_write()
        self._buffer += data
        self._maybe_pause_protocol()

    def _write_ready(self) -> None:
        self._write_scheduled = False
        if self._closed:
            return
        if self._buffer:
            try:
                n = self._sock.send(self._buffer)
            except BlockingIOError:
                n = 0
            except OSError as exc:
                self._fatal_error(exc)
                return
            if n:
                del self._buffer[:n]
            self._maybe_resume_protocol()
        if not self._buffer:
            self._disarm_write()
            if self._closing:
                self._finish_close()
            elif self._want_eof:
                self._do_write_eof()

    def _eof_sent(self) -> bool:
        return self._want_eof

    def write_eof(self) -> None:
        if self._closing or self._want_eof:
            return
        self._want_eof = True
        if not self._buffer:
            self._do_write_eof()

    def _do_write_eof(self) -> None:
        if self._eof_done:
            return
        self._eof_done = True
        try:
            self._sock.shutdown(SHUT_WR)
        except OSError:
            pass

    def can_write_eof(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = 4 * _LIMIT if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high = high
        self._low = low
        self._maybe_pause_protocol()

    def _maybe_pause_protocol(self) -> None:
        if len(self._buffer) > self._high and not self._protocol_paused:
            self._protocol_paused = True
            self._protocol.pause_writing()

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and len(self._buffer) <= self._low:
            self._protocol_paused = False
            self._protocol.resume_writing()

    # ------------------------------------------------------------------ closing
    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._disarm_read()
        if not self._buffer:
            self._finish_close()
        else:
            self._arm_write()

    def _finish_close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._disarm_write()
        self._loop.call_soon(self._call_connection_lost, None)

    def abort(self) -> None:
        self._force_close(None)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("closing" if self._closing else "open")
        return f"<TcpTransport {state} {self._extra.get('sockname')} -> {self._extra.get('peername')}>"


class Server(asyncio.AbstractServer):
    """What ``start_server`` returns: a listening socket and its accept loop."""

    def __init__(self, ns: Namespace, sock: Socket, factory: Callable[[], asyncio.BaseProtocol]) -> None:
        self._ns = ns
        self._sock: Socket | None = sock
        self._factory = factory
        self._transports: set[TcpTransport] = set()
        self._task: asyncio.Task | None = None
        self._waiters: list[asyncio.Future] = []
        self._serving = False

    def _attach(self, t: TcpTransport) -> None:
        self._transports.add(t)

    def _detach(self, t: TcpTransport) -> None:
        self._transports.discard(t)
        self._wakeup()

    def _wakeup(self) -> None:
        if self._sock is None and not self._transports:
            for w in self._waiters:
                if not w.done():
                    w.set_result(None)
            self._waiters.clear()

    async def _accept_loop(self) -> None:
        from tuxnet.socket import sock_accept

        sock = self._sock
        while self._sock is not None and sock is not None:
            try:
                conn, _ = await sock_accept(sock)
            except OSError:
                return
            conn.setblocking(False)
            TcpTransport(self._ns, conn, self._factory(), self)

    @property
    def sockets(self) -> tuple[Socket, ...]:
        return (self._sock,) if self._sock is not None else ()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._ns.loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        if self._serving or self._sock is None:
            return
        self._serving = True
        self._task = self._ns.loop.create_task(self._accept_loop())

    async def serve_forever(self) -> None:
        await self.start_serving()
        fut = self._ns.loop.create_future()
        self._waiters.append(fut)
        try:
            await fut
        finally:
            self.close()

    def close(self) -> None:
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._serving = False
        if self._task is not None:
            self._task.cancel()
        sock.close()
        self._wakeup()

    def close_clients(self) -> None:
        for t in list(self._transports):
            t.close()

    def abort_clients(self) -> None:
        for t in list(self._transports):
            t.abort()

    async def wait_closed(self) -> None:
        task, self._task = self._task, None
        if task is not None and self._sock is None:
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._sock is None and not self._transports:
            return
        fut = self._ns.loop.create_future()
        self._waiters.append(fut)
        await fut

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


async def open_connection(ns: Namespace, host: str, port: int, *, limit: int = _LIMIT,
                          local_addr: tuple[str, int] | None = None
                          ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio.open_connection in namespace ``ns``."""
    from tuxnet.socket import sock_connect

    loop = ns.loop
    sock = ns.socket(AF_INET, SOCK_STREAM)
    try:
        if local_addr is not None:
            sock.bind(local_addr)
        await sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport = TcpTransport(ns, sock, protocol)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    await asyncio.sleep(0)  # let connection_made run, as create_connection does before returning
    return reader, writer


async def start_server(ns: Namespace,
                       client_connected_cb: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                     Awaitable[None] | None],
                       host: str | None = None, port: int = 0, *, limit: int = _LIMIT, backlog: int = 100,
                       reuse_address: bool = True, start_serving: bool = True) -> Server:
    """asyncio.start_server in namespace ``ns`` (host None or "" listens on every address)."""
    loop = ns.loop
    sock = ns.socket(AF_INET, SOCK_STREAM)
    try:
        if reuse_address:
            sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        sock.bind((host or "0.0.0.0", port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise

    def factory() -> asyncio.BaseProtocol:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

    server = Server(ns, sock, factory)
    if start_serving:
        await server.start_serving()
    return server

