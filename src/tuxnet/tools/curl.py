"""curl(1) for plain HTTP/1.1 over a tuxnet namespace's TCP, as curl 7.88.1 (Debian 12) behaves.

    curl [-s] [-S] [-f] [-I | -i] [-m SECS] [-o FILE]... [-w FORMAT] URL...

What it guarantees, option by option (curl's conventions):
- The body goes to standard output, or to FILE with ``-o FILE`` (one ``-o`` per URL, in order; a
  URL without one writes to standard output; ``-o /dev/null`` discards). Bodies stream: a 10 MB body
  is never held whole.
- Several URLs to the same host and port reuse one connection while the server keeps it open
  (HTTP/1.1 without ``Connection: close``), as libcurl's connection cache does; ``%{num_connects}``
  is 1 for a URL that opened a connection and 0 for one that reused it.
- ``-I`` sends HEAD and prints the response head; ``-i`` prints the head before the body. Heads are
  written as received, CRLF line ends included.
- ``-w FORMAT`` is written after each transfer: ``%{http_code}`` / ``%{response_code}`` (three
  digits, ``000`` when no response came), ``%{size_download}``, ``%{size_header}``,
  ``%{num_connects}``, ``%{url_effective}``, ``%{content_type}``, ``%{http_version}``,
  ``%{remote_ip}``, ``%{remote_port}``, ``%{local_ip}``, ``%{local_port}``, ``%{exitcode}``,
  ``%{time_total}`` (seconds, 6 decimals, from the namespace's loop clock); ``\\n``, ``\\r``,
  ``\\t`` and ``%%``; an unknown variable is reported on stderr and left out.
- Errors print ``curl: (N) message`` on stderr (unless ``-s`` without ``-S``) and exit with curl's
  code: 1 unsupported protocol, 3 bad URL, 6 unknown host, 7 refused / unreachable, 18 body cut
  short, 22 HTTP status >= 400 with ``-f``, 23 cannot write FILE, 28 ``-m`` elapsed, 52 empty reply,
  56 connection reset. Without ``-f`` an HTTP error status is a successful transfer (exit 0).
- Bodies are read by Content-Length, chunked transfer coding, or until the server closes.

Where tuxnet differs, and why: no progress meter (a tool has no terminal to draw it on, so the
output is what ``-s`` gives); no DNS (numeric hosts, the hosts table and lab node names); plain
HTTP only (no TLS). Time is the loop's: in the lab ``-m`` and ``%{time_total}`` count virtual time.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import errno
from typing import TYPE_CHECKING, Any, BinaryIO

from tuxnet.tools.ping_common import HostError, resolve_host
from tuxnet.wire.addr import ip_ntoa

if TYPE_CHECKING:
    import io

    from tuxnet.netns import Namespace

READ = 1 << 16
MAX_HEAD = 1 << 17
WRITE_OUT_VARS = ("http_code", "response_code", "size_download", "size_header", "num_connects",
                  "url_effective", "content_type", "http_version", "remote_ip", "remote_port",
                  "local_ip", "local_port", "exitcode", "time_total")


class CurlError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Options:
    def __init__(self) -> None:
        self.silent = self.show_error = self.fail = self.head = self.include = False
        self.max_time: float | None = None
        self.outputs: list[str] = []
        self.write_out: str | None = None
        self.urls: list[str] = []


def parse_args(argv: list[str]) -> Options:
    o = Options()
    flags = {"s": "silent", "S": "show_error", "f": "fail", "I": "head", "i": "include"}
    longs = {"--silent": "silent", "--show-error": "show_error", "--fail": "fail", "--head": "head",
             "--include": "include"}
    with_arg = {"o": "--output", "w": "--write-out", "m": "--max-time"}
    args = list(argv)

    def take(opt: str, value: str) -> None:
        if opt == "--output":
            o.outputs.append(value)
        elif opt == "--write-out":
            o.write_out = value
        else:
            try:
                o.max_time = float(value)
            except ValueError:
                raise CurlError(2, "option --max-time: expected a proper numerical parameter") from None

    while args:
        a = args.pop(0)
        if a in longs:
            setattr(o, longs[a], True)
        elif a in with_arg.values() or a.split("=", 1)[0] in with_arg.values():
            name, eq, value = a.partition("=")
            if not eq:
                if not args:
                    raise CurlError(2, f"option {name}: requires parameter")
                value = args.pop(0)
            take(name, value)
        elif a.startswith("--"):
            raise CurlError(2, f"option {a}: is unknown")
        elif a.startswith("-") and len(a) > 1:
            letters = a[1:]
            while letters:
                ch, letters = letters[0], letters[1:]
                if ch in flags:
                    setattr(o, flags[ch], True)
                elif ch in with_arg:
                    if not letters:
                        if not args:
                            raise CurlError(2, f"option -{ch}: requires parameter")
                        letters = args.pop(0)
                    take(with_arg[ch], letters)
                    letters = ""
                else:
                    raise CurlError(2, f"option -{ch}: is unknown")
        else:
            o.urls.append(a)
    return o


def parse_url(url: str) -> tuple[str, int, str]:
    """http://HOST[:PORT][/PATH] -> (host, port, path); curl's errors for the rest."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url  # curl guesses http:// for a bare host
    if scheme.lower() != "http":
        raise CurlError(1, f'Protocol "{scheme}" not supported or disabled in libcurl')
    hostport, slash, path = rest.partition("/")
    path = "/" + path.split("#", 1)[0] if slash else "/"
    host, colon, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    if not host or (colon and (not port.isdigit() or not 0 < int(port) < 65536)):
        raise CurlError(3, "URL using bad/illegal format or missing URL")
    return host, int(port) if colon else 80, path


class Transfer:
    """What one URL gave: the numbers ``-w`` reports."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.code = 0
        self.version = "0"
        self.size = 0
        self.header_size = 0
        self.connects = 0
        self.content_type = ""
        self.remote: tuple[str, int] = ("", 0)
        self.local: tuple[str, int] = ("", 0)
        self.exitcode = 0
        self.time_ns = 0


class Sink:
    """Where a body goes: a host file, nowhere, or the tool's text output (decoded as UTF-8)."""

    def __init__(self, out: io.TextIOBase, path: str | None) -> None:
        self.out = out
        self.file: BinaryIO | None = None
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        if path is not None and path != "/dev/null":
            try:
                self.file = open(path, "wb")  # noqa: SIM115  (closed in close())
            except OSError as e:
                raise CurlError(23, f"Failed writing body ({path}: {e.strerror})") from None
        self.discard = path == "/dev/null"

    def write(self, data: bytes) -> None:
        if self.file is not None:
            self.file.write(data)
        elif not self.discard:
            self.out.write(self.decoder.decode(data))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        elif not self.discard:
            self.out.write(self.decoder.decode(b"", final=True))


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 key: tuple[int, int]) -> None:
        self.reader = reader
        self.writer = writer
        self.key = key

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def _connect(ns: Namespace, host: str, addr: int, port: int, t0: int) -> Connection:
    try:
        reader, writer = await ns.open_connection(ip_ntoa(addr), port)
    except OSError as e:
        ms = (ns.loop.now_ns - t0) // 1_000_000
        # libcurl's CURLE_COULDNT_CONNECT text for whatever connect() said
        known = (errno.ECONNREFUSED, errno.ETIMEDOUT, errno.ENETUNREACH, errno.EHOSTUNREACH)
        why = "Couldn't connect to server" if e.errno in known else (e.strerror or str(e))
        raise CurlError(7, f"Failed to connect to {host} port {port} after {ms} ms: {why}") from None
    return Connection(reader, writer, (addr, port))


async def _read_head(conn: Connection, t: Transfer) -> tuple[bytes, dict[str, str], bool]:
    try:
        head = await conn.reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            raise CurlError(52, "Empty reply from server") from None
        raise CurlError(8, "Weird server reply") from None
    except asyncio.LimitOverrunError:
        raise CurlError(8, "Weird server reply") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    ver, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not ver.startswith("HTTP/1.") or not code.isdigit():
        raise CurlError(1, "Received HTTP/0.9 when not allowed")
    t.code, t.version = int(code), ver[5:]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    t.header_size = len(head)
    t.content_type = headers.get("content-type", "")
    keep = ("close" not in headers.get("connection", "").lower()
            and (t.version != "1.0" or "keep-alive" in headers.get("connection", "").lower()))
    return head, headers, keep


async def _read_body(conn: Connection, headers: dict[str, str], sink: Sink, t: Transfer) -> bool:
    """Stream the body into ``sink``; True if the connection can carry another request."""
    reader = conn.reader

    async def read(n: int) -> bytes:
        try:
            return await reader.read(n)
        except ConnectionResetError:
            raise CurlError(56, "Recv failure: Connection reset by peer") from None

    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise CurlError(56, "Illegal or missing hexadecimal sequence in chunked-encoding") from None
            if size == 0:
                while (await reader.readline()).strip():
                    pass
                return True
            left = size
            while left:
                data = await read(min(left, READ))
                if not data:
                    raise CurlError(18, "transfer closed with outstanding read data remaining")
                sink.write(data)
                t.size += len(data)
                left -= len(data)
            await reader.readexactly(2)
    if "content-length" in headers:
        left = int(headers["content-length"])
        while left:
            data = await read(min(left, READ))
            if not data:
                raise CurlError(18, f"transfer closed with {left} bytes remaining to read")
            sink.write(data)
            t.size += len(data)
            left -= len(data)
        return True
    while data := await read(READ):  # until the server closes
        sink.write(data)
        t.size += len(data)
    return False


async def fetch(ns: Namespace, o: Options, url: str, output: str | None, out: io.TextIOBase,
                conn: Connection | None, t: Transfer) -> Connection | None:
    """One URL; returns the connection if it may be reused."""
    host, port, path = parse_url(url)
    try:
        addr = resolve_host(ns, host)
    except HostError:
        raise CurlError(6, f"Could not resolve host: {host}") from None
    t0 = ns.loop.now_ns
    if conn is not None and conn.key != (addr, port):
        await conn.close()
        conn = None
    if conn is None:
        conn = await _connect(ns, host, addr, port, t0)
        t.connects = 1
    sockname: Any = conn.writer.get_extra_info("sockname")
    if sockname:
        t.local = (str(sockname[0]), int(sockname[1]))
    t.remote = (ip_ntoa(addr), port)
    hostfield = host if port == 80 else f"{host}:{port}"
    method = "HEAD" if o.head else "GET"
    conn.writer.write(f"{method} {path} HTTP/1.1\r\nHost: {hostfield}\r\nUser-Agent: curl/7.88.1\r\n"
                      "Accept: */*\r\n\r\n".encode())
    head, headers, keep = await _read_head(conn, t)
    if o.fail and t.code >= 400:
        await conn.close()
        raise CurlError(22, f"The requested URL returned error: {t.code}")
    sink = Sink(out, output)
    try:
        if o.head or o.include:
            sink.write(head)
        if not o.head and t.code not in (204, 304) and not 100 <= t.code < 200:
            keep = await _read_body(conn, headers, sink, t) and keep
    finally:
        sink.close()
    t.time_ns = ns.loop.now_ns - t0
    if not keep:
        await conn.close()
        return None
    return conn


def write_out(fmt: str, t: Transfer, err: io.TextIOBase) -> str:
    vals = {"http_code": f"{t.code:03d}", "response_code": f"{t.code:03d}", "size_download": str(t.size),
            "size_header": str(t.header_size), "num_connects": str(t.connects), "url_effective": t.url,
            "content_type": t.content_type, "http_version": t.version, "remote_ip": t.remote[0],
            "remote_port": str(t.remote[1]), "local_ip": t.local[0], "local_port": str(t.local[1]),
            "exitcode": str(t.exitcode), "time_total": f"{t.time_ns / 1e9:.6f}"}
    res: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and fmt.startswith("%{", i) and "}" in fmt[i:]:
            end = fmt.index("}", i)
            name = fmt[i + 2:end]
            if name in vals:
                res.append(vals[name])
            else:
                err.write(f"curl: unknown --write-out variable: '{name}'\n")
            i = end + 1
        elif c == "%" and fmt.startswith("%%", i):
            res.append("%")
            i += 2
        elif c == "\\" and i + 1 < len(fmt) and fmt[i + 1] in "nrt\\":
            res.append({"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}[fmt[i + 1]])
            i += 2
        else:
            res.append(c)
            i += 1
    return "".join(res)


async def main(ns: Namespace, argv: list[str], out: io.TextIOBase, err: io.TextIOBase) -> int:
    try:
        o = parse_args(argv)
    except CurlError as e:
        err.write(f"curl: {e}\ncurl: try 'curl --help' or 'curl --manual' for more information\n")
        return e.code
    if not o.urls:
        err.write("curl: try 'curl --help' or 'curl --manual' for more information\n")
        return 2
    show = not o.silent or o.show_error
    conn: Connection | None = None
    rc = 0
    start = ns.loop.now_ns
    for i, url in enumerate(o.urls):
        t = Transfer(url)
        output = o.outputs[i] if i < len(o.outputs) else None
        try:
            if o.max_time is not None:
                left = o.max_time - (ns.loop.now_ns - start) / 1e9
                try:
                    conn = await asyncio.wait_for(fetch(ns, o, url, output, out, conn, t), max(left, 0))
                except TimeoutError:
                    conn = None
                    ms = (ns.loop.now_ns - start) // 1_000_000
                    raise CurlError(28, f"Operation timed out after {ms} milliseconds with {t.size} bytes "
                                        "received") from None
            else:
                conn = await fetch(ns, o, url, output, out, conn, t)
        except CurlError as e:
            t.exitcode = rc = e.code
            if e.code in (7, 18, 28, 52, 56) and conn is not None:
                await conn.close()
                conn = None
            if o.write_out is not None:
                out.write(write_out(o.write_out, t, err))
            if show:
                err.write(f"curl: ({e.code}) {e}\n")
            continue  # curl goes on with the next URL and exits with the last error
        if o.write_out is not None:
            out.write(write_out(o.write_out, t, err))
    if conn is not None:
        await conn.close()
    return rc
