"""A small HTTP/1.1 server (RFC 9110/9112) on tuxnet TCP streams, and a tiny client.

Server guarantees:
- Persistent connections: HTTP/1.1 keeps the connection open unless the request says
  ``Connection: close``; HTTP/1.0 closes unless it says ``keep-alive``. Requests on one connection
  are answered in order; an idle connection is closed after ``idle_timeout`` seconds of loop time.
- ``GET /bytes/N`` answers N bytes (byte k is ``k % 256``) with ``Content-Length: N``, written in
  64 KiB chunks, each after the previous one drained: the body is generated as it is sent, never held
  whole in memory, and a slow client slows the server through TCP flow control.
- ``HEAD`` answers the same headers without a body. Anything else is ``404 Not Found`` with a short
  text body; methods other than GET and HEAD are ``405 Method Not Allowed`` (``Allow: GET, HEAD``); a
  malformed request line or header block is ``400 Bad Request`` and the connection closes; a header
  block over 64 KiB is ``431``. A request body announced by Content-Length is read and ignored;
  ``Transfer-Encoding`` in a request is ``501`` (this server does not decode chunked requests).
- ``Date`` comes from ``tuxnet.apps.inetd.wall_time_ns`` (the namespace's clock, never the host's).

Client: ``await http_get(ns, url)`` fetches over one connection (several paths reuse it); the
command-line client is the ``curl`` tool (``tuxnet.tools.curl``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuxnet.apps.inetd import wall_time_ns
from tuxnet.core.loop import NSEC_PER_SEC

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

SERVER = "tuxnet"
CHUNK = 65536
MAX_HEADER = 65536
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           431: "Request Header Fields Too Large", 501: "Not Implemented"}

# The body of /bytes/N is this ring repeated: byte k is k % 256. A chunk starting at offset o is
# a slice of _BLOCK starting at o % 256 (no per-chunk generation).
_BLOCK = bytes(range(256)) * (CHUNK // 256 + 1)


def pattern_bytes(offset: int, n: int) -> memoryview:
    """Bytes ``offset .. offset+n`` of the /bytes body (n <= CHUNK)."""
    r = offset % 256
    return memoryview(_BLOCK)[r:r + n]


def pattern_sha256(n: int) -> str:
    """The SHA-256 of a whole /bytes/N body (for tests and clients)."""
    h = hashlib.sha256()
    for off in range(0, n, CHUNK):
        h.update(pattern_bytes(off, min(CHUNK, n - off)))
    return h.hexdigest()


class BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)

    def keep_alive(self) -> bool:
        conn = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


def parse_request(head: bytes) -> Request:
    """The request line and header fields (RFC 9112 section 3 and 5); BadRequest(400) if malformed."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover  (latin-1 decodes every byte)
        raise BadRequest(400) from None
    lines = text.split("\r\n")
    while lines and not lines[0]:
        lines.pop(0)  # RFC 9112 2.2: ignore empty lines before the request line
    if not lines:
        raise BadRequest(400)
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1] or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest(400)
    req = Request(parts[0], parts[1], parts[2])
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400)
        key = name.lower()
        value = value.strip()
        req.headers[key] = f"{req.headers[key]}, {value}" if key in req.headers else value
    if req.version == "HTTP/1.1" and "host" not in req.headers:
        raise BadRequest(400)  # RFC 9112 3.2: a 1.1 request without Host is a 400
    return req


def http_date(ns: Namespace) -> str:
    return email.utils.formatdate(wall_time_ns(ns) // NSEC_PER_SEC, usegmt=True)


class HttpServer:
    """``GET/HEAD /bytes/N`` over tuxnet TCP; ``start()`` listens, ``close()`` ends every connection."""

    def __init__(self, ns: Namespace, port: int = 80, host: str | None = None,
                 idle_timeout: float = 60.0) -> None:
        self.ns = ns
        self.port = port
        self.host = host
        self.idle_timeout = idle_timeout
        self.server: Any = None
        self.requests = 0
        self.connections = 0

    async def start(self) -> HttpServer:
        self.server = await self.ns.start_server(self._client, host=self.host, port=self.port)
        return self

    async def close(self) -> None:
        if self.server is None:
            return
        self.server.close()
        if hasattr(self.server, "close_clients"):
            self.server.close_clients()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2.0)
        self.server = None

    def _head(self, status: int, headers: list[tuple[str, str]], close: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS[status]}", f"Date: {http_date(self.ns)}", f"Server: {SERVER}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            writer.transport.abort()
            return
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is to be closed."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout)
        except (asyncio.IncompleteReadError, TimeoutError):
            return False  # the client closed (or went quiet) between requests
        except asyncio.LimitOverrunError:
            await self._error(writer, 431)
            return False
        try:
            req = parse_request(head[:-4])
        except BadRequest as e:
            await self._error(writer, e.status)
            return False
        self.requests += 1
        if "transfer-encoding" in req.headers:
            await self._error(writer, 501)
            return False
        clen = req.headers.get("content-length", "0")
        if not clen.isdigit():
            await self._error(writer, 400)
            return False
        if int(clen):
            await reader.readexactly(int(clen))
        keep = req.keep_alive()
        if req.method not in ("GET", "HEAD"):
            body = b"Method Not Allowed\n"
            writer.write(self._head(405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain"),
                                          ("Content-Length", str(len(body)))], not keep) + body)
            await writer.drain()
            return keep
        size = _bytes_path(req.target)
        if size is None:
            body = b"Not Found\n"
            writer.write(self._head(404, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
                                    not keep) + (body if req.method == "GET" else b""))
            await writer.drain()
            return keep
        writer.write(self._head(200, [("Content-Type", "application/octet-stream"),
                                      ("Content-Length", str(size))], not keep))
        if req.method == "GET":
            off = 0
            while off < size:
                n = min(CHUNK, size - off)
                writer.write(pattern_bytes(off, n))
                off += n
                await writer.drain()
        await writer.drain()
        return keep

    async def _error(self, writer: asyncio.StreamWriter, status: int) -> None:
        body = f"{REASONS[status]}\n".encode()
        writer.write(self._head(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
                                True) + body)
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()


MAX_BYTES = 1 << 40


def _bytes_path(target: str) -> int | None:
    path = target.split("?", 1)[0]
    if not path.startswith("/bytes/"):
        return None
    n = path[len("/bytes/"):]
    if not n.isdigit() or not n.isascii() or int(n) > MAX_BYTES:
        return None
    return int(n)


# ------------------------------------------------------------------------------ client
@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    size: int
    sha256: str
    body: bytes | None  # kept only when asked (small bodies)


async def read_response(reader: asyncio.StreamReader, *, head_only: bool = False,
                        keep_body: bool = False) -> Response:
    """One response with a Content-Length body (or none), hashed as it streams in."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head[:-4].split("\r\n")
    ver, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not ver.startswith("HTTP/") or not code.isdigit():
        raise ValueError(f"bad status line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    h = hashlib.sha256()
    parts: list[bytes] = []
    left = length
    while left:
        data = await reader.read(min(left, 1 << 20))
        if not data:
            raise asyncio.IncompleteReadError(b"", left)
        h.update(data)
        if keep_body:
            parts.append(data)
        left -= len(data)
    return Response(int(code), reason, headers, length, h.hexdigest(), b"".join(parts) if keep_body else None)


def parse_url(url: str) -> tuple[str, int, str]:
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    if not host or (port and not port.isdigit()):
        raise ValueError(f"bad URL {url!r}")
    return host, int(port or 80), "/" + path


async def http_get(ns: Namespace, urls: list[str], *, method: str = "GET",
                   keep_body: bool = False) -> list[Response]:
    """Fetch each URL (same host and port) in order over one keep-alive connection."""
    host, port, _ = parse_url(urls[0])
    reader, writer = await ns.open_connection(host, port)
    out = []
    try:
        for i, url in enumerate(urls):
            h, p, path = parse_url(url)
            if (h, p) != (host, port):
                raise ValueError("all URLs must name the same host and port")
            last = i == len(urls) - 1
            writer.write((f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tuxnet\r\nAccept: */*\r\n"
                          + ("Connection: close\r\n" if last else "") + "\r\n").encode())
            await writer.drain()
            out.append(await read_response(reader, head_only=method == "HEAD", keep_body=keep_body))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    return out
