"""iperf3 3.12 over tuxnet TCP: client and server speaking iperf3's control protocol (src/iperf_api.c,
iperf_client_api.c, iperf_server_api.c, iperf_locale.c, units.c of esnet/iperf).

Guarantees:
- Server ``-s [-p PORT] [-1] [-D] [-i N] [-J]``; client ``-c HOST [-p PORT] [-t SECS] [-n BYTES[KMG]]
  [-R] [-C ALGO] [-P N] [-i SECS] [-J] [-l LEN[KMG]] [-w SIZE[KMG]]``. ``-D`` detaches the server as
  iperf_daemon does: the command returns at once and the server serves until the lab ends (as a
  job the shell can stop instead: ``iperf3 -s &``). UDP (``-u``) is
  not implemented and says so.
- The protocol is iperf3's: the client sends a 37-byte cookie (36 chars of ``a-z2-7`` + NUL) on the
  control connection; one-byte states (PARAM_EXCHANGE 9, CREATE_STREAMS 10, TEST_START 1,
  TEST_RUNNING 2, TEST_END 4, EXCHANGE_RESULTS 13, DISPLAY_RESULTS 14, IPERF_DONE 16,
  CLIENT_TERMINATE 12, ACCESS_DENIED -1); the parameters and the results are JSON objects behind a
  4-byte big-endian length, with iperf3's keys; every data connection starts with the cookie. The
  client ends a timed test (or a byte count it sent, or in reverse mode received), sends TEST_END,
  both sides exchange results, the server sends DISPLAY_RESULTS and the client answers IPERF_DONE.
  So the same code talks to a real iperf3 across a live (TAP) link.
- The human report is iperf_locale.c's formats, with unit_snprintf's units (Bytes base 1024,
  bits/sec base 1000, 4 characters). Intervals follow the stats timer; a final interval shorter
  than 10 % of the interval with no data is skipped, as iperf_print_intermediate does. Retr and
  Cwnd come from TCP_INFO (tcpi_total_retrans, tcpi_snd_cwnd * tcpi_snd_mss); the summary's
  sender/receiver lines use each side's own time and bytes, taken from the exchanged results.
- ``-J`` prints iperf3's JSON tree (start/intervals/end, streams, sum_sent/sum_received,
  cpu_utilization_percent, sender/receiver_tcp_congestion) formatted as cJSON prints it (tabs,
  ``%1.15g`` numbers, integral values as integers; interval "seconds" as a C float).
  cpu_utilization_percent is 0: tuxnet does not measure CPU time. Times come from the namespace's
  clock in microseconds, the timestamp is the virtual clock read as seconds since the epoch, and
  ``system_info`` names tuxnet.
- Stream IDs are the sockets' fds in the namespace's socket table; ``ss -p`` shows the sockets as
  iperf3's (``set_owner``). Errors are iperf3's words (``iperf3: error - unable to connect to
  server: Connection refused``; ``-C`` with an unknown algorithm: ``unable to set TCP_CONGESTION:
  Supplied congestion control algorithm not supported on this host``), exit code 1. An
  interruption (``timeout``, ``kill %N``) prints the summary so far and ``iperf3: interrupt - the
  client has terminated``.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
import time
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.sock.constants import (
    AF_INET,
    IPPROTO_TCP,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_SNDBUF,
    SOCK_STREAM,
    SOL_SOCKET,
)
from tuxnet.tools.ss import alloc_pid, set_owner

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.socket import Socket

TEST_START, TEST_RUNNING, TEST_END, PARAM_EXCHANGE, CREATE_STREAMS = 1, 2, 4, 9, 10
CLIENT_TERMINATE, EXCHANGE_RESULTS, DISPLAY_RESULTS, IPERF_DONE = 12, 13, 14, 16
ACCESS_DENIED, SERVER_ERROR = -1, -2
COOKIE_SIZE = 37
COOKIE_CHARS = "abcdefghijklmnopqrstuvwxyz234567"
TCP_CONGESTION = 13
TCP_MAXSEG = 2
DEFAULT_PORT = 5201
DEFAULT_DURATION = 10
DEFAULT_BLKSIZE = 128 * 1024
VERSION = "3.12"
SEPARATOR = "- - - - - - - - - - - - - - - - - - - - - - - - -\n"
BANNER = "-----------------------------------------------------------\n"
HDR = "[ ID] Interval           Transfer     Bitrate\n"
HDR_RETR = "[ ID] Interval           Transfer     Bitrate         Retr\n"
HDR_CWND = "[ ID] Interval           Transfer     Bitrate         Retr  Cwnd\n"
USAGE = """Usage: iperf3 [-s|-c host] [options]
       iperf3 [-h|--help] [-v|--version]

Server or Client:
  -p, --port      #         server port to listen on/connect to
  -i, --interval  #         seconds between periodic throughput reports
  -J, --json                output in JSON format
Server specific:
  -s, --server              run in server mode
  -1, --one-off             handle one client connection then exit
Client specific:
  -c, --client <host>[%<dev>] run in client mode, connecting to <host>
  -t, --time      #         time in seconds to transmit for (default 10 secs)
  -n, --bytes     #[KMG]    number of bytes to transmit (instead of -t)
  -l, --length    #[KMG]    length of buffer to read or write
  -P, --parallel  #         number of parallel client streams to run
  -R, --reverse             run in reverse mode (server sends, client receives)
  -w, --window    #[KMG]    set send/receive socket buffer sizes
  -C, --congestion <algo>   set TCP congestion control algorithm (Linux and FreeBSD only)
"""


BYTE_LABELS = ["Byte", "KByte", "MByte", "GByte", "TByte"]
BIT_LABELS = ["bit", "Kbit", "Mbit", "Gbit", "Tbit"]


class IperfError(Exception):
    """A message iperf3 prints as ``iperf3: ...`` before exiting with status 1."""


# ---------------------------------------------------------------------------------- units, JSON
def unit_atoi(s: str) -> int:
    """unit_atoi: a number with an optional [kKmMgGtT] suffix (powers of 1024)."""
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get(s[-1:].lower(), 1)
    num = s[:-1] if mult != 1 else s
    try:
        return int(float(num) * mult)
    except ValueError:
        return 0


def unit_snprintf(num: float, fmt: str) -> str:
    """units.c unit_snprintf of iperf 3.12: adaptive 'A' (bytes, 1024) and 'a' (bits, 1000)."""
    upper = fmt.isupper()
    if not upper:
        num *= 8
    base = 1024.0 if upper else 1000.0
    conv = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4}.get(fmt.upper())
    if conv is None:
        conv, tmp = 0, num
        while tmp >= base and conv < 4:
            tmp /= base
            conv += 1
    for _ in range(conv):
        num *= 1.0 / base
    label = (BYTE_LABELS if upper else BIT_LABELS)[conv]
    if num < 9.995:
        return f"{num:4.2f} {label}"
    if num < 99.95:
        return f"{num:4.1f} {label}"
    return f"{num:4.0f} {label}"


def f32(v: float) -> float:
    """A C float (iperf keeps interval durations in floats)."""
    return struct.unpack("f", struct.pack("f", v))[0]


def _num(v: float) -> str:
    if isinstance(v, int) and -(1 << 31) <= v < (1 << 31):
        return str(v)
    d = float(v)
    if d.is_integer() and -(1 << 31) <= d < (1 << 31):
        return str(int(d))
    s = f"{d:.15g}"
    return s if float(s) == d else f"{d:.17g}"


def cjson(v: Any, depth: int = 0) -> str:
    """cJSON_Print: formatted with tabs, ``"key":<TAB>value``, arrays inline as ``[{ ... }, { ... }]``."""
    if v is True or v is False:
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return _num(v)
    if isinstance(v, list):
        return "[" + ", ".join(cjson(x, depth + 1) for x in v) + "]"
    items = [f"{chr(9) * (depth + 1)}{json.dumps(k)}:\t{cjson(x, depth + 1)}" for k, x in v.items()]
    return "{\n" + ",\n".join(items) + "\n" + "\t" * depth + "}"


# ---------------------------------------------------------------------------------- settings
class Settings:
    __slots__ = ("role", "host", "port", "duration", "bytes", "reverse", "congestion", "parallel",
                 "interval", "json", "blksize", "window", "one_off", "daemon")

    def __init__(self) -> None:
        self.role = ""
        self.host = ""
        self.port = DEFAULT_PORT
        self.duration = DEFAULT_DURATION
        self.bytes = 0
        self.reverse = False
        self.congestion = ""
        self.parallel = 1
        self.interval = 1.0
        self.json = False
        self.blksize = DEFAULT_BLKSIZE
        self.window = 0
        self.one_off = False
        self.daemon = False


_WITH_ARG = {"p": "port", "c": "client", "t": "time", "n": "bytes", "C": "congestion", "P": "parallel",
             "i": "interval", "l": "length", "w": "window", "b": "bitrate", "I": "pidfile"}
_FLAGS = {"s": "server", "1": "one-off", "D": "daemon", "R": "reverse", "J": "json", "u": "udp",
          "h": "help", "v": "version", "V": "verbose"}
_CLIENT_ONLY = set("tnRCPlwb")


def parse_args(argv: list[str]) -> Settings | str:
    """The settings, or text to print for -h/-v; raises IperfError for bad usage."""
    s = Settings()
    seen: list[tuple[str, str]] = []
    longs = {v: k for k, v in {**_WITH_ARG, **_FLAGS}.items()}
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            c = longs.get(name)
            if c is None:
                raise IperfError(f"unrecognized option '{a}'\n" + USAGE)
            if c in _WITH_ARG and not eq:
                if i >= len(argv):
                    raise IperfError(f"option '{a}' requires an argument\n" + USAGE)
                val = argv[i]
                i += 1
            seen.append((c, val))
            continue
        if not a.startswith("-") or a == "-":
            continue
        j = 1
        while j < len(a):
            c = a[j]
            j += 1
            if c in _WITH_ARG:
                val = a[j:]
                if not val:
                    if i >= len(argv):
                        raise IperfError(f"option requires an argument -- '{c}'\n" + USAGE)
                    val = argv[i]
                    i += 1
                seen.append((c, val))
                break
            if c not in _FLAGS:
                raise IperfError(f"invalid option -- '{c}'\n" + USAGE)
            seen.append((c, ""))
    opts = dict(seen)
    if "h" in opts:
        return USAGE
    if "v" in opts:
        return f"iperf {VERSION} (cJSON 1.7.15)\nLinux tuxnet\nOptional features available: TCP congestion " \
               "algorithm setting\n"
    if "s" in opts and "c" in opts:
        raise IperfError("parameter error - cannot be both server and client\n\n" + USAGE)
    if "s" not in opts and "c" not in opts:
        raise IperfError("parameter error - must either be a client (-c) or server (-s)\n\n" + USAGE)
    s.role = "s" if "s" in opts else "c"
    if s.role == "s" and _CLIENT_ONLY & set(opts):
        raise IperfError("parameter error - some option you are trying to set is client only\n\n" + USAGE)
    if "u" in opts:
        raise IperfError("error - UDP tests are not implemented in tuxnet's iperf3\n")
    s.host = opts.get("c", "")
    s.one_off = "1" in opts
    s.daemon = "D" in opts
    s.json = "J" in opts
    s.reverse = "R" in opts
    s.congestion = opts.get("C", "")
    try:
        s.port = int(opts.get("p", DEFAULT_PORT))
        s.parallel = int(opts.get("P", 1))
        s.interval = float(opts.get("i", 1))
        s.duration = int(opts.get("t", DEFAULT_DURATION))
    except ValueError:
        raise IperfError("parameter error - invalid value\n\n" + USAGE) from None
    if "n" in opts:
        s.bytes = unit_atoi(opts["n"])
        s.duration = 0
    if "l" in opts:
        s.blksize = unit_atoi(opts["l"])
        if s.blksize <= 0 or s.blksize > 1 << 20:
            raise IperfError("parameter error - block size too large (maximum = 1048576 bytes)\n")
    s.window = unit_atoi(opts["w"]) if "w" in opts else 0
    if not 1 <= s.parallel <= 128:
        raise IperfError("parameter error - number of parallel streams too large (maximum = 128)\n")
    if s.interval and not 0.1 <= s.interval <= 60:
        raise IperfError("parameter error - invalid report interval (min = 0.1, max = 60 seconds)\n")
    if s.duration < 0 or s.duration > 86400:
        raise IperfError("parameter error - test duration valid values are 0 to 86400 seconds\n")
    return s


# ---------------------------------------------------------------------------------- the test
class Stream:
    """One data connection and its counters (struct iperf_stream + iperf_stream_result)."""

    __slots__ = ("sock", "id", "sender", "bytes", "prev_bytes", "start_us", "end_us", "intervals", "retrans",
                 "prev_retrans", "max_cwnd", "max_wnd", "max_rtt", "min_rtt", "sum_rtt", "cnt_rtt", "peer",
                 "task")

    def __init__(self, sock: Socket, sid: int, sender: bool) -> None:
        self.sock = sock
        self.id = sid
        self.sender = sender
        self.bytes = self.prev_bytes = self.start_us = self.end_us = 0
        self.intervals: list[dict[str, Any]] = []
        self.retrans = self.prev_retrans = self.max_cwnd = self.max_wnd = 0
        self.max_rtt = self.min_rtt = self.sum_rtt = self.cnt_rtt = 0
        self.peer: dict[str, Any] = {}
        self.task: asyncio.Task[None] | None = None


class Test:
    """What both roles share: streams, the stats clock, the reports."""

    def __init__(self, ns: Namespace, s: Settings, out: TextIO, pid: int) -> None:
        self.ns = ns
        self.s = s
        self.out = out
        self.pid = pid
        self.cookie = ""
        self.ctrl: Socket | None = None
        self.streams: list[Stream] = []
        self.sender = False
        self.done = asyncio.Event()
        self.printed_intervals = 0
        self.peer: dict[str, Any] = {}
        self.json_start: dict[str, Any] = {}
        self.json_intervals: list[dict[str, Any]] = []
        self.interval_start_us = 0
        self.running = False

    # ------------------------------------------------------------ I/O helpers
    def now_us(self) -> int:
        return self.ns.loop.now_ns // 1000

    def say(self, text: str) -> None:
        if not self.s.json:
            self.out.write(text)

    def own(self, sock: Socket) -> Socket:
        set_owner(self.ns, sock, "iperf3", self.pid)
        return sock

    async def recvn(self, sock: Socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            data = await self.ns.sock_recv(sock, n - len(buf))
            if not data:
                raise IperfError("error - control socket has closed unexpectedly\n")
            buf += data
        return buf

    async def send_state(self, st: int) -> None:
        assert self.ctrl is not None
        await self.ns.sock_sendall(self.ctrl, bytes([st & 0xFF]))

    async def recv_state(self) -> int:
        assert self.ctrl is not None
        b = (await self.recvn(self.ctrl, 1))[0]
        return b - 256 if b > 127 else b

    async def send_json(self, obj: dict[str, Any]) -> None:
        assert self.ctrl is not None
        data = json.dumps(obj, separators=(",", ":")).encode()
        await self.ns.sock_sendall(self.ctrl, struct.pack(">I", len(data)) + data)

    async def recv_json(self) -> dict[str, Any]:
        assert self.ctrl is not None
        (n,) = struct.unpack(">I", await self.recvn(self.ctrl, 4))
        try:
            obj = json.loads(await self.recvn(self.ctrl, n))
        except ValueError:
            raise IperfError("error - unable to receive parameters from client\n") from None
        return obj if isinstance(obj, dict) else {}

    def add_stream(self, sock: Socket) -> Stream:
        # iperf_add_stream numbers the first stream 1, the next ones 3, 4, ...
        sid = 1 if not self.streams else len(self.streams) + 2
        st = Stream(sock, sid, self.sender)
        self.streams.append(st)
        return st

    def connected_line(self, sock: Socket) -> None:
        la, lp = sock.getsockname()
        ra, rp = sock.getpeername()
        self.json_start.setdefault("connected", []).append(
            {"socket": sock.fd, "local_host": la, "local_port": lp, "remote_host": ra, "remote_port": rp})
        self.say(f"[{sock.fd:3d}] local {la} port {lp} connected to {ra} port {rp}\n")

    def set_window_and_cc(self, sock: Socket, window: int, cc: str) -> None:
        if window:
            sock.setsockopt(SOL_SOCKET, SO_SNDBUF, window)
            sock.setsockopt(SOL_SOCKET, SO_RCVBUF, window)
        if cc:
            try:
                sock.setsockopt(IPPROTO_TCP, TCP_CONGESTION, cc.encode())
            except OSError:
                raise IperfError("error - unable to set TCP_CONGESTION: "
                                 "Supplied congestion control algorithm "
                                 "not supported on this host\n") from None

    def congestion_used(self) -> str:
        if not self.streams:
            return ""
        name = self.streams[0].sock.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16)
        return bytes(name).split(b"\0", 1)[0].decode()

    # ------------------------------------------------------------ data movers
    async def send_loop(self, st: Stream) -> None:
        sock = st.sock
        block = self.ns.rng.getrandbits(8 * self.s.blksize).to_bytes(self.s.blksize, "big")
        view = memoryview(block)
        limit = self.s.bytes if self.s.role == "c" or self.peer.get("num") else 0
        while True:
            off = 0
            while off < len(view):
                try:
                    n = sock.send(view[off:])
                except BlockingIOError:
                    await sock.wait_writable()
                    continue
                off += n
                st.bytes += n
            if limit and sum(x.bytes for x in self.streams) >= limit:
                self.done.set()
                return

    async def recv_loop(self, st: Stream) -> None:
        sock = st.sock
        size = self.s.blksize
        while True:
            try:
                data = sock.recv(size)
            except BlockingIOError:
                await sock.wait_readable()
                continue
            if not data:
                return
            st.bytes += len(data)
            if self.s.role == "c" and self.s.bytes and sum(x.bytes for x in self.streams) >= self.s.bytes:
                self.done.set()
                return

    def start_streams(self) -> None:
        self.running = True
        now = self.now_us()
        self.interval_start_us = now
        for st in self.streams:
            st.start_us = now
            st.task = asyncio.ensure_future(self.send_loop(st) if st.sender else self.recv_loop(st))

    def stop_streams(self) -> None:
        for st in self.streams:
            if st.task is not None and not st.task.done():
                st.task.cancel()
            st.end_us = self.now_us()
        self.running = False

    async def clock(self, end_us: int | None) -> None:
        """The stats timer (every -i seconds) and, for the client, the test-end timer."""
        loop = self.ns.loop
        iv = int(self.s.interval * 1e6) if self.s.interval else 0
        nxt = self.interval_start_us + iv if iv else None
        while True:
            cands = [t for t in (nxt, end_us) if t is not None]
            if not cands:
                await asyncio.Event().wait()
            target = min(cands)
            await asyncio.sleep(max(0, target * 1000 - loop.now_ns) / 1e9)
            if nxt is not None and target == nxt:
                self.stats()
                self.print_intermediate()
                nxt += iv
            if end_us is not None and target >= end_us:
                self.done.set()
                return

    # ------------------------------------------------------------ statistics
    def stats(self) -> None:
        """iperf_stats_callback: close the current interval of every stream."""
        from tuxnet.ipv4.tcp.tcp_sockopt import tcp_get_info

        now = self.now_us()
        for st in self.streams:
            ir: dict[str, Any] = {"start_us": self.interval_start_us, "end_us": now,
                                  "bytes": st.bytes - st.prev_bytes}
            st.prev_bytes = st.bytes
            sk = st.sock.sk
            if st.sender and sk is not None:
                info = tcp_get_info(sk)
                total = info["tcpi_total_retrans"]
                ir["retrans"] = total - st.prev_retrans
                st.retrans += ir["retrans"]
                st.prev_retrans = total
                ir["snd_cwnd"] = info["tcpi_snd_cwnd"] * info["tcpi_snd_mss"]
                ir["snd_wnd"] = info["tcpi_snd_wnd"]
                ir["rtt"], ir["rttvar"], ir["pmtu"] = info["tcpi_rtt"], info["tcpi_rttvar"], info["tcpi_pmtu"]
                st.max_cwnd = max(st.max_cwnd, ir["snd_cwnd"])
                st.max_wnd = max(st.max_wnd, ir["snd_wnd"])
                st.max_rtt = max(st.max_rtt, ir["rtt"])
                st.min_rtt = ir["rtt"] if not st.min_rtt or ir["rtt"] < st.min_rtt else st.min_rtt
                st.sum_rtt += ir["rtt"]
                st.cnt_rtt += 1
            st.intervals.append(ir)
        self.interval_start_us = now

    def _ivline(self, st: Stream, ir: dict[str, Any]) -> tuple[float, float, float, str, str]:
        dur = f32((ir["end_us"] - ir["start_us"]) / 1e6)
        bw = ir["bytes"] / dur if dur else 0.0
        start = (ir["start_us"] - st.start_us) / 1e6
        end = (ir["end_us"] - st.start_us) / 1e6
        return start, end, dur, unit_snprintf(ir["bytes"], "A"), unit_snprintf(bw, "a")

    def print_intermediate(self) -> None:
        if not self.streams or not self.streams[0].intervals:
            return
        if not any((ir["end_us"] - ir["start_us"]) / 1e6 >= self.s.interval * 0.10 or ir["bytes"] > 0
                   for ir in (st.intervals[-1] for st in self.streams)):
            return  # a short interval with no data at the end of the test
        first = self.printed_intervals == 0
        self.printed_intervals += 1
        sender = self.sender
        if first:
            self.say(HDR_CWND if sender else HDR)
        elif len(self.streams) > 1:
            self.say(SEPARATOR)
        jstreams = []
        tot = retr = 0
        for st in self.streams:
            ir = st.intervals[-1]
            start, end, dur, ubuf, nbuf = self._ivline(st, ir)
            tot += ir["bytes"]
            js: dict[str, Any] = {"socket": st.sock.fd, "start": start, "end": end, "seconds": dur,
                                  "bytes": ir["bytes"],
                                  "bits_per_second": (ir["bytes"] / dur if dur else 0.0) * 8}
            if sender:
                retr += ir["retrans"]
                js.update(retransmits=ir["retrans"], snd_cwnd=ir["snd_cwnd"], snd_wnd=ir["snd_wnd"],
                          rtt=ir["rtt"],
                          rttvar=ir["rttvar"], pmtu=ir["pmtu"])
                cbuf = unit_snprintf(ir["snd_cwnd"], "A")
                self.say(f"[{st.sock.fd:3d}] {start:6.2f}-{end:<6.2f} sec  {ubuf}s  {nbuf}s/sec  "
                         f"{ir['retrans']:3d}"
                         f"   {cbuf}s       \n")
            else:
                self.say(f"[{st.sock.fd:3d}] {start:6.2f}-{end:<6.2f} sec  {ubuf}s  {nbuf}s/sec"
                         "                  \n")
            js.update(omitted=False, sender=sender)
            jstreams.append(js)
        first_st = self.streams[0]
        start, end, dur, _, _ = self._ivline(first_st, first_st.intervals[-1])
        bw = tot / dur if dur else 0.0
        jsum: dict[str, Any] = {"start": start, "end": end, "seconds": dur, "bytes": tot,
                                "bits_per_second": bw * 8}
        if sender:
            jsum["retransmits"] = retr
        jsum.update(omitted=False, sender=sender)
        if len(self.streams) > 1:
            ubuf, nbuf = unit_snprintf(tot, "A"), unit_snprintf(bw, "a")
            tail = f"  {retr:3d}             \n" if sender else "                  \n"
            self.say(f"[SUM] {start:6.2f}-{end:<6.2f} sec  {ubuf}s  {nbuf}s/sec{tail}")
        self.json_intervals.append({"streams": jstreams, "sum": jsum})

    def results(self) -> dict[str, Any]:
        """The JSON this side sends in EXCHANGE_RESULTS (send_results)."""
        has = 1 if self.sender else -1
        return {"cpu_util_total": 0, "cpu_util_user": 0, "cpu_util_system": 0, "sender_has_retransmits": has,
                "congestion_used": self.congestion_used(),
                "streams": [{"id": st.id, "bytes": st.bytes, "retransmits": st.retrans if self.sender else -1,
                             "jitter": 0, "errors": 0, "packets": 0, "start_time": 0,
                             "end_time": (st.end_us - st.start_us) / 1e6} for st in self.streams]}

    def take_peer_results(self, res: dict[str, Any]) -> None:
        self.peer = res
        by_id = {p.get("id"): p for p in res.get("streams", []) if isinstance(p, dict)}
        for st in self.streams:
            st.peer = by_id.get(st.id, {})

    def print_results(self) -> dict[str, Any]:
        """iperf_print_results: the summary lines, and the JSON "end" object."""
        role = self.s.role
        sender = self.sender
        show_sender = not (role == "s" and not sender)
        show_receiver = not (role == "s" and sender)
        self.say(SEPARATOR)
        self.say(HDR_RETR if show_sender else HDR)
        jstreams = []
        tot_sent = tot_recv = tot_retr = 0
        first = self.streams[0] if self.streams else None
        own_time = (first.end_us - first.start_us) / 1e6 if first else 0.0
        peer_time = float(first.peer.get("end_time", 0) or 0) if first else 0.0
        sender_time = own_time if sender else (peer_time or own_time)
        receiver_time = (peer_time or own_time) if sender else own_time
        for st in self.streams:
            peer_bytes = int(st.peer.get("bytes", 0) or 0)
            sent, recv = (st.bytes, peer_bytes) if sender else (peer_bytes, st.bytes)
            retr = st.retrans if sender else int(st.peer.get("retransmits", 0) or 0)
            retr = 0 if retr < 0 or retr >= 1 << 63 else retr
            tot_sent += sent
            tot_recv += recv
            tot_retr += retr
            sbw = sent / sender_time if sender_time > 0 else 0.0
            rbw = recv / receiver_time if receiver_time > 0 else 0.0
            fd = st.sock.fd
            if show_sender:
                self.say(f"[{fd:3d}] {0:6.2f}-{sender_time:<6.2f} sec  {unit_snprintf(sent, 'A')}s  "
                         f"{unit_snprintf(sbw, 'a')}s/sec  {retr:3d}             sender\n")
            if show_receiver:
                self.say(f"[{fd:3d}] {0:6.2f}-{receiver_time:<6.2f} sec  {unit_snprintf(recv, 'A')}s  "
                         f"{unit_snprintf(rbw, 'a')}s/sec                  receiver\n")
            mean = st.sum_rtt // st.cnt_rtt if st.cnt_rtt else 0
            jstreams.append({
                "sender": {"socket": fd, "start": 0, "end": sender_time, "seconds": sender_time,
                           "bytes": sent,
                           "bits_per_second": sbw * 8, "retransmits": retr, "max_snd_cwnd": st.max_cwnd,
                           "max_snd_wnd": st.max_wnd, "max_rtt": st.max_rtt, "min_rtt": st.min_rtt,
                           "mean_rtt": mean, "sender": sender},
                "receiver": {"socket": fd, "start": 0, "end": receiver_time, "seconds": own_time,
                             "bytes": recv,
                             "bits_per_second": rbw * 8, "sender": sender}})
        sbw = tot_sent / sender_time if sender_time > 0 else 0.0
        rbw = tot_recv / receiver_time if receiver_time > 0 else 0.0
        if len(self.streams) > 1:
            if show_sender:
                self.say(f"[SUM] {0:6.2f}-{sender_time:<6.2f} sec  {unit_snprintf(tot_sent, 'A')}s  "
                         f"{unit_snprintf(sbw, 'a')}s/sec  {tot_retr:3d}             sender\n")
            if show_receiver:
                self.say(f"[SUM] {0:6.2f}-{receiver_time:<6.2f} sec  {unit_snprintf(tot_recv, 'A')}s  "
                         f"{unit_snprintf(rbw, 'a')}s/sec                  receiver\n")
        own_cc, peer_cc = self.congestion_used(), str(self.peer.get("congestion_used", ""))
        end: dict[str, Any] = {
            "streams": jstreams,
            "sum_sent": {"start": 0, "end": sender_time, "seconds": sender_time, "bytes": tot_sent,
                         "bits_per_second": sbw * 8, "retransmits": tot_retr, "sender": sender},
            "sum_received": {"start": 0, "end": receiver_time, "seconds": receiver_time, "bytes": tot_recv,
                             "bits_per_second": rbw * 8, "sender": sender},
            "cpu_utilization_percent": {"host_total": 0, "host_user": 0, "host_system": 0,
                                        "remote_total": self.peer.get("cpu_util_total", 0),
                                        "remote_user": self.peer.get("cpu_util_user", 0),
                                        "remote_system": self.peer.get("cpu_util_system", 0)}}
        snd_cc, rcv_cc = (own_cc, peer_cc) if sender else (peer_cc, own_cc)
        if snd_cc:
            end["sender_tcp_congestion"] = snd_cc
        if rcv_cc:
            end["receiver_tcp_congestion"] = rcv_cc
        return end

    def start_json(self, extra: dict[str, Any]) -> None:
        now_s = self.ns.loop.now_ns // 1_000_000_000
        st = self.streams[0].sock if self.streams else None
        mss = st.getsockopt(IPPROTO_TCP, TCP_MAXSEG) if st is not None else 0
        snd = st.getsockopt(SOL_SOCKET, SO_SNDBUF) if st is not None else 0
        rcv = st.getsockopt(SOL_SOCKET, SO_RCVBUF) if st is not None else 0
        s = self.s
        self.json_start.update({
            "version": f"iperf {VERSION}", "system_info": f"Linux {self.ns.name} tuxnet x86_64",
            "timestamp": {"time": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now_s)),
                          "timesecs": now_s},
            **extra, "cookie": self.cookie, "tcp_mss_default": mss, "target_bitrate": 0,
            "sock_bufsize": s.window,
            "sndbuf_actual": snd, "rcvbuf_actual": rcv,
            "test_start": {"protocol": "TCP", "num_streams": len(self.streams), "blksize": s.blksize,
                           "omit": 0,
                           "duration": s.duration, "bytes": s.bytes, "blocks": 0, "reverse": int(s.reverse),
                           "tos": 0, "target_bitrate": 0}})

    def print_json(self, end: dict[str, Any]) -> None:
        if self.s.json:
            tree = {"start": self.json_start, "intervals": self.json_intervals, "end": end}
            self.out.write(cjson(tree) + "\n")

    def close(self) -> None:
        for st in self.streams:
            if st.task is not None and not st.task.done():
                st.task.cancel()
            st.sock.close()
        if self.ctrl is not None:
            self.ctrl.close()


# ---------------------------------------------------------------------------------- client
async def run_client(ns: Namespace, s: Settings, out: TextIO, pid: int) -> int:
    t = Test(ns, s, out, pid)
    t.sender = not s.reverse
    t.cookie = "".join(COOKIE_CHARS[ns.rng.randrange(32)] for _ in range(COOKIE_SIZE - 1))
    t.say(f"Connecting to host {s.host}, port {s.port}\n")
    try:
        try:
            return await _client_body(t, ns, s, out)
        except asyncio.CancelledError:
            if t.running:
                t.stop_streams()
                t.stats()
                t.print_intermediate()
                t.print_json(t.print_results())
            if t.ctrl is not None and t.ctrl.sk is not None:
                try:
                    t.ctrl.send(bytes([CLIENT_TERMINATE]))
                except OSError:
                    pass
            raise IperfError("interrupt - the client has terminated\n") from None
    finally:
        t.close()


async def _client_body(t: Test, ns: Namespace, s: Settings, out: TextIO) -> int:
    ctrl = t.own(ns.socket(AF_INET, SOCK_STREAM))
    t.ctrl = ctrl
    try:
        await ns.sock_connect(ctrl, (s.host, s.port))
    except OSError as e:
        raise IperfError(f"error - unable to connect to server: {os.strerror(e.errno or 0)}\n") from None
    if s.reverse:
        t.say(f"Reverse mode, remote host {s.host} is sending\n")
    await ns.sock_sendall(ctrl, t.cookie.encode() + b"\0")
    while True:
        try:
            state = await t.recv_state()
        except OSError as e:
            msg = f"error - unable to receive control message: {os.strerror(e.errno or 0)}\n"
            raise IperfError(msg) from None
        if state == PARAM_EXCHANGE:
            params: dict[str, Any] = {"tcp": True, "omit": 0, "time": s.duration, "num": s.bytes,
                                      "blockcount": 0,
                                      "parallel": s.parallel}
            if s.reverse:
                params["reverse"] = True
            if s.window:
                params["window"] = s.window
            params.update(len=s.blksize, pacing_timer=1000)
            if s.congestion:
                params["congestion"] = s.congestion
            params["client_version"] = VERSION
            await t.send_json(params)
        elif state == CREATE_STREAMS:
            for _ in range(s.parallel):
                sock = t.own(ns.socket(AF_INET, SOCK_STREAM))
                t.add_stream(sock)
                t.set_window_and_cc(sock, s.window, s.congestion)
                try:
                    await ns.sock_connect(sock, (s.host, s.port))
                except OSError as e:
                    msg = f"error - unable to create a new stream: {os.strerror(e.errno or 0)}\n"
                    raise IperfError(msg) \
                        from None
                await ns.sock_sendall(sock, t.cookie.encode() + b"\0")
                t.connected_line(sock)
        elif state == TEST_START:
            t.start_json({"connecting_to": {"host": s.host, "port": s.port}})
        elif state == TEST_RUNNING:
            t.start_streams()
            end_us = t.interval_start_us + s.duration * 1_000_000 if s.duration else None
            clock = asyncio.ensure_future(t.clock(end_us))
            ctrl_wait = asyncio.ensure_future(t.recv_state())
            done_wait = asyncio.ensure_future(t.done.wait())
            await asyncio.wait({done_wait, ctrl_wait}, return_when=asyncio.FIRST_COMPLETED)
            clock.cancel()
            if ctrl_wait.done():
                done_wait.cancel()
                st = ctrl_wait.result()
                raise IperfError("error - the server has terminated\n" if st in (SERVER_ERROR, -2)
                                 else "error - control socket has closed unexpectedly\n")
            ctrl_wait.cancel()
            t.stop_streams()
            t.stats()
            t.print_intermediate()
            await t.send_state(TEST_END)
        elif state == EXCHANGE_RESULTS:
            await t.send_json(t.results())
            t.take_peer_results(await t.recv_json())
        elif state == DISPLAY_RESULTS:
            end = t.print_results()
            t.print_json(end)
            t.say("\niperf Done.\n")
            await t.send_state(IPERF_DONE)
            return 0
        elif state == ACCESS_DENIED:
            raise IperfError("error - the server is busy running a test. try again later\n")
        elif state == SERVER_ERROR:
            raise IperfError("error - the server has terminated\n")
        else:
            raise IperfError(f"error - received an unknown control message (ensure other side is iperf3 and "
                             f"not iperf) ({state})\n")


# ---------------------------------------------------------------------------------- server
async def run_server(ns: Namespace, s: Settings, out: TextIO, pid: int) -> int:
    lsock = set_owned(ns, pid)
    try:
        lsock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        lsock.bind(("", s.port))
        lsock.listen(128)
    except OSError as e:
        lsock.close()
        raise IperfError(f"error - unable to start listener for connections: {os.strerror(e.errno or 0)}\n") \
            from None
    test_no = 1
    try:
        while True:
            if not s.json:
                out.write(f"{BANNER}Server listening on {s.port} (test #{test_no})\n{BANNER}")
            t = Test(ns, s, out, pid)
            try:
                await _serve_one(t, ns, lsock)
            except IperfError as e:
                out.write(f"iperf3: {e}")
            finally:
                t.close()
            test_no += 1
            if s.one_off:
                return 0
    except asyncio.CancelledError:
        raise IperfError("interrupt - the server has terminated\n") from None
    finally:
        lsock.close()


def set_owned(ns: Namespace, pid: int) -> Socket:
    sock = ns.socket(AF_INET, SOCK_STREAM)
    set_owner(ns, sock, "iperf3", pid)
    return sock


async def _serve_one(t: Test, ns: Namespace, lsock: Socket) -> None:
    ctrl, (raddr, rport) = await ns.sock_accept(lsock)
    t.own(ctrl)
    t.ctrl = ctrl
    t.cookie = (await t.recvn(ctrl, COOKIE_SIZE)).rstrip(b"\0").decode(errors="replace")
    await t.send_state(PARAM_EXCHANGE)
    p = await t.recv_json()
    t.peer = p
    s = t.s
    s.reverse = bool(p.get("reverse", False))
    t.sender = s.reverse
    s.parallel = int(p.get("parallel", 1))
    s.blksize = int(p.get("len", DEFAULT_BLKSIZE))
    s.duration = int(p.get("time", 0))
    s.bytes = int(p.get("num", 0))
    s.window = int(p.get("window", 0))
    s.congestion = str(p.get("congestion", ""))
    t.say(f"Accepted connection from {raddr}, port {rport}\n")
    await t.send_state(CREATE_STREAMS)
    while len(t.streams) < s.parallel:
        sock, _ = await ns.sock_accept(lsock)
        t.own(sock)
        got = (await t.recvn(sock, COOKIE_SIZE)).rstrip(b"\0").decode(errors="replace")
        if got != t.cookie:  # another client while busy: iperf3 refuses it
            sock.send(bytes([ACCESS_DENIED & 0xFF]))
            sock.close()
            continue
        t.add_stream(sock)
        t.set_window_and_cc(sock, s.window, s.congestion)
        t.connected_line(sock)
    t.start_json({"accepted_connection": {"host": raddr, "port": rport}})
    await t.send_state(TEST_START)
    await t.send_state(TEST_RUNNING)
    t.start_streams()
    clock = asyncio.ensure_future(t.clock(None))
    try:
        while True:
            state = await t.recv_state()
            if state == TEST_END:
                break
            if state == CLIENT_TERMINATE:
                raise IperfError("the client has unexpectedly closed the connection\n")
    finally:
        clock.cancel()
    t.stop_streams()
    t.stats()
    t.print_intermediate()
    await t.send_state(EXCHANGE_RESULTS)
    t.take_peer_results(await t.recv_json())
    await t.send_json(t.results())
    await t.send_state(DISPLAY_RESULTS)
    t.print_json(t.print_results())
    try:
        await t.recv_state()  # IPERF_DONE
    except IperfError:
        pass


# ---------------------------------------------------------------------------------- entry
def _daemons(ns: Namespace) -> set[asyncio.Task[int]]:
    """The namespace's detached iperf3 servers (held so their tasks are not collected)."""
    d = getattr(ns, "iperf3_daemons", None)
    if d is None:
        d = ns.iperf3_daemons = set()  # type: ignore[attr-defined]
    return d


async def main(ns: Namespace, argv: list[str], out: TextIO, err: TextIO) -> int:
    try:
        s = parse_args(argv)
        if isinstance(s, str):
            out.write(s)
            return 0
        pid = alloc_pid(ns)
        if s.role == "c":
            return await run_client(ns, s, out, pid)
        if s.daemon:
            # iperf_daemon: the server detaches and the command returns at once; its reports go
            # where a daemon's go (nowhere here: no --logfile), and it serves until the lab ends
            daemon = ns.loop.create_task(run_server(ns, s, io.StringIO(), pid))
            daemon._log_destroy_pending = False  # type: ignore[attr-defined]  # it outlives the lab
            _daemons(ns).add(daemon)
            daemon.add_done_callback(_daemons(ns).discard)
            return 0
        return await run_server(ns, s, out, pid)
    except IperfError as e:
        err.write(f"iperf3: {e}")
        return 1
