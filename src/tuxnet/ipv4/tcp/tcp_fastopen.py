"""TCP Fast Open (RFC 7413) as Linux does it: net/ipv4/tcp_fastopen.c, the Fast Open parts of
net/ipv4/tcp_metrics.c (the client's cookie cache) and net/ipv4/sysctl_net_ipv4.c (the key sysctl).

Guarantees, as Linux 6.x:
- Server cookies are SipHash-2-4 of the SYN's source and destination IPv4 addresses (8 bytes, in that
  order) under the 128-bit key, written little-endian: the same key and addresses always give the
  same 8 cookie bytes as the kernel (``tcp_fastopen_cookie_gen``). A listener's own key
  (TCP_FASTOPEN_KEY) wins over the namespace's (net.ipv4.tcp_fastopen_key); a cookie made with the
  backup key is accepted and answered with a fresh primary-key cookie (TCPFastOpenPassiveAltKey).
- net.ipv4.tcp_fastopen_key reads and writes ``%08x-%08x-%08x-%08x[,backup]`` (each word is a
  little-endian u32 of the key bytes); without a key it reads all zeros until a Fast Open listener
  makes a random one (tcp_fastopen_init_key_once, from the namespace's seeded generator).
- ``tcp_try_fastopen``: with TFO_SERVER_ENABLE (0x2), a listener whose fastopen queue has room, and a
  SYN with data or a cookie option: a cookie request is answered with a cookie; a valid cookie (or
  TFO_SERVER_COOKIE_NOT_REQD 0x200, TCP_FASTOPEN_NO_COOKIE, the route's fastopen_no_cookie) makes a
  full child socket at SYN time, in SYN_RECV, whose receive queue holds the SYN's data
  (``tcp_fastopen_add_skb``), queued straight into the accept queue (TCPFastOpenPassive); an invalid
  cookie gets the valid one back and the data is not acknowledged (TCPFastOpenPassiveFail).
- The client's cache (tcp_fastopen_cache_get/set) keeps, per (source, destination) address pair, the
  last valid cookie (4..16 bytes), the peer's MSS, SYN losses and whether to try the experimental
  option next; ``ip tcp_metrics flush`` empties it.
- Blackhole detection (tcp_fastopen_active_disable and friends) pauses active Fast Open for
  net.ipv4.tcp_fastopen_blackhole_timeout_sec << (times - 1) seconds, when that sysctl is non-zero.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.ipv4.tcp.tcp_sock import HZ, NSEC_PER_JIFFY, U32
from tuxnet.sock.msg_zerocopy import skb_zcopy_set
from tuxnet.wire.tcp import TcpOptFastopen

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_minisocks import RequestSock
    from tuxnet.ipv4.tcp.tcp_sock import TcpCb, TcpSock
    from tuxnet.skb import SkBuff

# net.ipv4.tcp_fastopen bits (include/net/tcp.h)
TFO_CLIENT_ENABLE = 0x1
TFO_SERVER_ENABLE = 0x2
TFO_CLIENT_NO_COOKIE = 0x4
TFO_SERVER_COOKIE_NOT_REQD = 0x200
TFO_SERVER_WO_SOCKOPT1 = 0x400

TCP_FASTOPEN_KEY_LENGTH = 16
TCP_FASTOPEN_KEY_MAX = 2
TCP_FASTOPEN_COOKIE_MIN = 4
TCP_FASTOPEN_COOKIE_MAX = 16
TCP_FASTOPEN_COOKIE_SIZE = 8
TCPOLEN_FASTOPEN_BASE = 2
TCPOLEN_EXP_FASTOPEN_BASE = 4
MAX_TCP_OPTION_SPACE = 40

# tcp_info.tcpi_fastopen_client_fail (enum tfo_client_fail)
TFO_STATUS_UNSPEC = 0
TFO_COOKIE_UNAVAILABLE = 1
TFO_DATA_NOT_ACKED = 2
TFO_SYN_RETRANSMITTED = 3

FASTOPEN_SYSCTLS: dict[str, Any] = {
    "net.ipv4.tcp_fastopen_key": "00000000-00000000-00000000-00000000",
    "net.ipv4.tcp_fastopen_blackhole_timeout_sec": 0,
}

_M64 = (1 << 64) - 1
_LE64 = struct.Struct("<Q")
_LE32X4 = struct.Struct("<4I")


# ---------------------------------------------------------------------------------------- SipHash
def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M64


def siphash24(k0: int, k1: int, data: bytes) -> int:
    """SipHash-2-4 (lib/siphash.c ``siphash``) of ``data`` under the key (k0, k1): a u64."""
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(n: int) -> None:
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & _M64
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _M64
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _M64
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _M64
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)

    n = len(data)
    end = n - (n & 7)
    for i in range(0, end, 8):
        m = _LE64.unpack_from(data, i)[0]
        v3 ^= m
        rounds(2)
        v0 ^= m
    b = (n & 0xFF) << 56
    for i, c in enumerate(data[end:]):
        b |= c << (8 * i)
    v3 ^= b
    rounds(2)
    v0 ^= b
    v2 ^= 0xFF
    rounds(4)
    return (v0 ^ v1 ^ v2 ^ v3) & _M64


# ---------------------------------------------------------------------------------------- keys
def key_from_bytes(raw: bytes) -> tuple[int, int]:
    """tcp_fastopen_reset_cipher: the siphash key is the two little-endian u64 of the 16 bytes."""
    return _LE64.unpack_from(raw, 0)[0], _LE64.unpack_from(raw, 8)[0]


def key_to_bytes(key: tuple[int, int]) -> bytes:
    return _LE64.pack(key[0]) + _LE64.pack(key[1])


def parse_key_text(text: str) -> list[bytes]:
    """proc_tcp_fastopen_key's write: ``a-b-c-d[,e-f-g-h]`` hex words; each word is stored as a
    little-endian u32 (cpu_to_le32). Raises ValueError as the kernel returns EINVAL."""
    keys = []
    parts = text.strip().split(",")
    if not 1 <= len(parts) <= TCP_FASTOPEN_KEY_MAX:
        raise ValueError(text)
    for part in parts:
        words = part.split("-")
        if len(words) != 4:
            raise ValueError(text)
        vals = [int(w, 16) for w in words]
        if any(v < 0 or v > U32 for v in vals):
            raise ValueError(text)
        keys.append(_LE32X4.pack(*vals))
    return keys


def format_key_text(keys: list[bytes]) -> str:
    """proc_tcp_fastopen_key's read: ``%08x-%08x-%08x-%08x``, a comma before the backup key."""
    return ",".join("-".join(f"{w:08x}" for w in _LE32X4.unpack(k)) for k in keys)


class FastopenContext:
    """struct tcp_fastopen_context: the primary key and an optional backup."""

    __slots__ = ("keys",)

    def __init__(self, primary: bytes, backup: bytes | None = None) -> None:
        self.keys = [key_from_bytes(primary)] + ([key_from_bytes(backup)] if backup is not None else [])


class FastopenCookie:
    """struct tcp_fastopen_cookie: ``len`` -1 no option, 0 a cookie request, else the cookie's size."""

    __slots__ = ("val", "len", "exp")

    def __init__(self, val: bytes = b"", length: int = -1, exp: bool = False) -> None:
        self.val = val
        self.len = length
        self.exp = exp

    def copy(self) -> FastopenCookie:
        return FastopenCookie(self.val, self.len, self.exp)

    def option(self) -> TcpOptFastopen:
        return TcpOptFastopen(self.val[:max(self.len, 0)], self.exp)

    def option_space(self) -> int:
        need = max(self.len, 0) + (TCPOLEN_EXP_FASTOPEN_BASE if self.exp else TCPOLEN_FASTOPEN_BASE)
        return (need + 3) & ~3

    def __repr__(self) -> str:
        exp = " exp" if self.exp else ""
        return f"<FastopenCookie len={self.len} {self.val[:max(self.len, 0)].hex()}{exp}>"


class FastopenRequest:
    """struct tcp_fastopen_request: a sendmsg(MSG_FASTOPEN) (or a deferred connect) in progress."""

    __slots__ = ("cookie", "data", "size", "copied", "waiting", "uarg")

    def __init__(self, data: bytes | None, cookie: FastopenCookie | None = None) -> None:
        self.cookie = cookie if cookie is not None else FastopenCookie()
        self.data = data
        self.size = len(data) if data is not None else 0
        self.copied = 0
        self.waiting = False  # a blocking sendmsg waits for the handshake (inet_wait_for_connect)
        self.uarg: Any = None  # the MSG_ZEROCOPY uarg of the sendmsg (sock/msg_zerocopy.py)


class FastopenMetrics:
    """struct tcp_fastopen_metrics of one tcp_metrics entry."""

    __slots__ = ("mss", "cookie", "syn_loss", "last_syn_loss", "try_exp")

    def __init__(self) -> None:
        self.mss = 0
        self.cookie = FastopenCookie(length=0)
        self.syn_loss = 0
        self.last_syn_loss = 0
        self.try_exp = 0


class FastopenNet:
    """The per-namespace Fast Open state (net->ipv4.tcp_fastopen_ctx, the metrics cache's Fast Open
    part, tfo_active_disable_times/stamp)."""

    __slots__ = ("ns", "ctx", "cache", "disable_times", "disable_stamp")

    def __init__(self, ns: Any) -> None:
        self.ns = ns
        self.ctx: FastopenContext | None = None
        self.cache: dict[tuple[int, int], FastopenMetrics] = {}
        self.disable_times = 0
        self.disable_stamp = 0
        for key, val in FASTOPEN_SYSCTLS.items():
            ns.sysctl.v.setdefault(key, val)
        ns.sysctl.validate("net.ipv4.tcp_fastopen_key", validate_key_sysctl)
        ns.sysctl.watch("net.ipv4.tcp_fastopen_key", self._key_written)

    def _key_written(self, key: str, text: Any) -> None:
        keys = parse_key_text(str(text))
        self.reset_cipher(keys[0], keys[1] if len(keys) > 1 else None)

    def reset_cipher(self, primary: bytes, backup: bytes | None) -> None:
        self.ctx = FastopenContext(primary, backup)
        self.ns.sysctl.v["net.ipv4.tcp_fastopen_key"] = format_key_text(
            [key_to_bytes(k) for k in self.ctx.keys])

    def init_key_once(self) -> None:
        """tcp_fastopen_init_key_once: a random key the first time a server needs one."""
        if self.ctx is None:
            self.reset_cipher(self.ns.rng.getrandbits(128).to_bytes(16, "little"), None)

    def jiffies(self) -> int:
        return (self.ns.loop.now_ns // NSEC_PER_JIFFY) & U32


def validate_key_sysctl(text: str) -> str:
    """The sysctl write check: EINVAL unless the text parses; returns it normalized."""
    try:
        return format_key_text(parse_key_text(text))
    except ValueError:
        raise oserror(errno.EINVAL, 'setting key "net.ipv4.tcp_fastopen_key"') from None


def sysctl_fastopen(ns: Any) -> int:
    return int(ns.sysctl.v["net.ipv4.tcp_fastopen"])


# ---------------------------------------------------------------------------------------- server
def tcp_fastopen_get_ctx(tp: TcpSock) -> FastopenContext | None:
    return tp.fastopen_ctx or tp.net.fastopen.ctx  # type: ignore[no-any-return]


def cookie_gen_cipher(saddr: int, daddr: int, key: tuple[int, int]) -> bytes:
    """__tcp_fastopen_cookie_gen_cipher for IPv4: siphash(iph->saddr || iph->daddr), stored LE."""
    return _LE64.pack(siphash24(key[0], key[1], saddr.to_bytes(4, "big") + daddr.to_bytes(4, "big")))


def tcp_fastopen_cookie_gen(tp: TcpSock, cb: TcpCb) -> FastopenCookie:
    ctx = tcp_fastopen_get_ctx(tp)
    if ctx is None:
        return FastopenCookie()
    return FastopenCookie(cookie_gen_cipher(cb.saddr, cb.daddr, ctx.keys[0]), TCP_FASTOPEN_COOKIE_SIZE)


def tcp_fastopen_cookie_gen_check(tp: TcpSock, cb: TcpCb, orig: FastopenCookie,
                                  valid: FastopenCookie) -> int:
    """0: no key matches; 1: the primary key's cookie; 2: the backup key's. ``valid`` gets the
    primary key's cookie."""
    ctx = tcp_fastopen_get_ctx(tp)
    if ctx is None:
        return 0
    for i, key in enumerate(ctx.keys):
        c = cookie_gen_cipher(cb.saddr, cb.daddr, key)
        if i == 0:
            valid.val, valid.len = c, TCP_FASTOPEN_COOKIE_SIZE
        if orig.len == TCP_FASTOPEN_COOKIE_SIZE and orig.val[:orig.len] == c:
            return i + 1
    return 0


def fastopen_queue_tune(tp: TcpSock, backlog: int) -> None:
    somaxconn = int(tp.ns.sysctl.v["net.core.somaxconn"])
    tp.fastopen_max_qlen = min(backlog, somaxconn)


def tcp_fastopen_queue_check(tp: TcpSock) -> bool:
    """Room for one more pending (not yet fully established) Fast Open child."""
    max_qlen = tp.fastopen_max_qlen
    if not max_qlen:
        return False
    if tp.fastopen_qlen >= max_qlen:
        tp.ns.mib.tcpext.TCPFastOpenListenOverflow += 1
        return False
    return True


def tcp_fastopen_no_cookie(tp: TcpSock, rt: Any, flag: int) -> bool:
    metrics = getattr(rt, "metrics", None) or {}
    return bool(sysctl_fastopen(tp.ns) & flag or tp.fastopen_no_cookie or metrics.get("fastopen_no_cookie"))


def tcp_try_fastopen(listener: TcpSock, skb: SkBuff, cb: TcpCb, req: RequestSock, foc: FastopenCookie,
                     rt: Any) -> TcpSock | None:
    """The Fast Open decision for a SYN to a listener; ``foc`` becomes the cookie for the SYN-ACK."""
    ns = listener.ns
    ext = ns.mib.tcpext
    syn_data = cb.end_seq != ((cb.seq + 1) & U32)
    valid = FastopenCookie()
    if foc.len == 0:
        ext.TCPFastOpenCookieReqd += 1
    if not (sysctl_fastopen(ns) & TFO_SERVER_ENABLE and (syn_data or foc.len >= 0)
            and tcp_fastopen_queue_check(listener)):
        foc.len = -1
        return None
    ret = 0
    fastopen = tcp_fastopen_no_cookie(listener, rt, TFO_SERVER_COOKIE_NOT_REQD)
    if not fastopen:
        if foc.len == 0:
            valid = tcp_fastopen_cookie_gen(listener, cb)
        elif foc.len > 0:
            ret = tcp_fastopen_cookie_gen_check(listener, cb, foc, valid)
            if not ret:
                ext.TCPFastOpenPassiveFail += 1
            else:
                fastopen = True
    if fastopen:
        child = tcp_fastopen_create_child(listener, skb, cb, req)
        if child is not None:
            if ret == 2:
                valid.exp = foc.exp
                foc.val, foc.len, foc.exp = valid.val, valid.len, valid.exp
                ext.TCPFastOpenPassiveAltKey += 1
            else:
                foc.len = -1
            ext.TCPFastOpenPassive += 1
            child.syn_fastopen_child = True
            return child
        ext.TCPFastOpenPassiveFail += 1
    valid.exp = foc.exp
    foc.val, foc.len, foc.exp = valid.val, valid.len, valid.exp
    return None


def tcp_fastopen_create_child(listener: TcpSock, skb: SkBuff, cb: TcpCb, req: RequestSock) -> TcpSock | None:
    """The full socket of a Fast Open SYN, made before the handshake completes."""
    from tuxnet.ipv4.tcp import tcp_input, tcp_output
    from tuxnet.ipv4.tcp.tcp_sock import ICSK_TIME_RETRANS, TCP_RTO_MAX

    net = listener.net
    child = net.tcp_v4_syn_recv_sock(listener, cb, req)
    if child is None:
        return None
    listener.fastopen_qlen += 1
    child.fastopen_rsk = req
    req.tfo_listener = True
    # RFC 7323: the window of a SYN is never scaled
    child.snd_wnd = cb.window
    child.max_window = child.snd_wnd
    # the child retransmits the SYN-ACK itself (the request is not in the established table)
    req.timeout = child.icsk_rto
    tcp_output.tcp_reset_xmit_timer(child, ICSK_TIME_RETRANS, req.timeout, TCP_RTO_MAX)
    tcp_input.tcp_init_transfer(child)
    child.rcv_nxt = (cb.seq + 1) & U32
    tcp_fastopen_add_skb(child, skb, cb)
    req.rcv_nxt = child.rcv_nxt
    child.rcv_wup = child.rcv_nxt
    net.hash_established(child)
    return child


def tcp_fastopen_add_skb(tp: TcpSock, skb: SkBuff, cb: TcpCb) -> None:
    """Queue the data (and FIN) a SYN or SYN-ACK carried; the socket's rcv_nxt is past the SYN."""
    from tuxnet.ipv4.tcp import tcp_input
    from tuxnet.ipv4.tcp.tcp_sock import TCPHDR_FIN, RxSeg

    if cb.end_seq == tp.rcv_nxt:
        return
    fin = bool(cb.tcp_flags & TCPHDR_FIN)
    data = tcp_input._payload(skb, cb)
    truesize = tcp_input._truesize(cb)
    tp.segs_in = 1
    if data:
        tp.data_segs_in = 1
    seq = (cb.seq + 1) & U32
    end_seq = (seq + len(data)) & U32
    if data:
        tp.sk_receive_queue.append(RxSeg(seq, end_seq, bytearray(data), False, truesize))
        tp.sk_rmem_alloc += truesize
    tp.rcv_nxt = end_seq
    tp.syn_data_acked = True
    tp.bytes_received = len(data)
    if fin:
        if not data:
            tp.sk_receive_queue.append(RxSeg(seq, end_seq, bytearray(), True, truesize))
        else:
            tp.sk_receive_queue[-1].fin = True
        tp.rcv_nxt = (tp.rcv_nxt + 1) & U32
        tcp_input.tcp_fin(tp)


def reqsk_fastopen_remove(tp: TcpSock, req: RequestSock, reset: bool) -> None:
    """The Fast Open child no longer needs its request (handshake done, or the child died)."""
    listener = req.listener
    tp.fastopen_rsk = None
    if listener is not None and listener.fastopen_qlen > 0:
        listener.fastopen_qlen -= 1
    req.linked = False
    req.rsk_timer.stop()


def tcp_rcv_synrecv_state_fastopen(tp: TcpSock) -> None:
    """The ACK completing a Fast Open child's handshake: the request is no longer needed, and the
    retransmit timer now guards the data sent meanwhile."""
    from tuxnet.ipv4.tcp import cong, tcp_ack, tcp_recovery

    if tp.icsk_ca_state == cong.TCP_CA_Loss and not tp.packets_out:
        tcp_recovery.tcp_try_undo_recovery(tp)
    tp.icsk_retransmits = 0
    if not tp.packets_out or tp.icsk_ca_state == cong.TCP_CA_Open:
        tp.retrans_stamp = 0  # tcp_retrans_stamp_cleanup
    reqsk_fastopen_remove(tp, tp.fastopen_rsk, False)
    tcp_ack.tcp_rearm_rto(tp)


def tcp_fastopen_synack_timer(tp: TcpSock) -> None:
    """The retransmit timer of a Fast Open child still in SYN_RECV: only the SYN-ACK is resent, with
    one more try than tcp_synack_retries allows a request."""
    from tuxnet.ipv4.tcp import tcp_output, tcp_recovery, tcp_timer
    from tuxnet.ipv4.tcp.tcp_sock import ICSK_TIME_RETRANS, TCP_RTO_MAX

    req = tp.fastopen_rsk
    ns = tp.ns
    ns.mib.tcpext.TCPTimeouts += 1  # tcp_syn_ack_timeout
    max_retries = tp.icsk_syn_retries or int(ns.sysctl.v["net.ipv4.tcp_synack_retries"]) + 1
    if req.num_timeout >= max_retries:
        tcp_timer.tcp_write_err(tp)
        return
    if tp.icsk_retransmits == 1:
        tcp_recovery.tcp_enter_loss(tp)
    tp.net.tcp_rtx_synack(req, tp)
    req.num_timeout += 1
    tcp_timer.tcp_update_rto_stats(tp)
    if not tp.retrans_stamp:
        tp.retrans_stamp = tp.tcp_time_stamp_ts()
    tcp_output.tcp_reset_xmit_timer(tp, ICSK_TIME_RETRANS, req.timeout << req.num_timeout, TCP_RTO_MAX)


# ---------------------------------------------------------------------------------------- client
def _metrics_key(tp: TcpSock) -> tuple[int, int]:
    return tp.inet_saddr, tp.inet_daddr


def tcp_fastopen_cache_get(tp: TcpSock, mss: int) -> tuple[int, FastopenCookie]:
    tm = tp.net.fastopen.cache.get(_metrics_key(tp))
    cookie = FastopenCookie(length=0)  # no entry: ask for a cookie
    if tm is not None:
        if tm.mss:
            mss = tm.mss
        cookie = tm.cookie.copy()
        if cookie.len <= 0 and tm.try_exp == 1:
            cookie.exp = True
    return mss, cookie


def tcp_fastopen_cache_set(tp: TcpSock, mss: int, cookie: FastopenCookie | None, syn_lost: bool,
                           try_exp: int) -> None:
    if tp.sk_dst is None and tp.inet_daddr == 0:
        return
    tm = tp.net.fastopen.cache.setdefault(_metrics_key(tp), FastopenMetrics())
    if mss:
        tm.mss = mss
    if cookie is not None and cookie.len > 0:
        tm.cookie = cookie.copy()
    elif try_exp > tm.try_exp and tm.cookie.len <= 0 and not tm.cookie.exp:
        tm.try_exp = try_exp
    if syn_lost:
        tm.syn_loss += 1
        tm.last_syn_loss = tp.net.fastopen.jiffies()
    else:
        tm.syn_loss = 0


def tcp_fastopen_cookie_check(tp: TcpSock, mss: int, cookie: FastopenCookie) -> tuple[bool, int]:
    """May this connect send data in its SYN? (and the cached MSS). ``cookie`` is filled from the
    cache, or set to -1 (no option) when no cookie is needed."""
    mss, cached = tcp_fastopen_cache_get(tp, mss)
    cookie.val, cookie.len, cookie.exp = cached.val, cached.len, cached.exp
    if tcp_fastopen_active_should_disable(tp):
        cookie.len = -1
        return False, mss
    if tcp_fastopen_no_cookie(tp, tp.sk_dst, TFO_CLIENT_NO_COOKIE):
        cookie.len = -1
        return True, mss
    if cookie.len > 0:
        return True, mss
    tp.fastopen_client_fail = TFO_COOKIE_UNAVAILABLE
    return False, mss


def tcp_fastopen_defer_connect(tp: TcpSock) -> bool:
    """TCP_FASTOPEN_CONNECT: with a usable cookie, connect() sends nothing; the first write sends the
    SYN with data. Without one, the SYN goes now and asks for a cookie."""
    if tp.fastopen_connect and tp.fastopen_req is None:
        cookie = FastopenCookie(length=0)
        ok, _ = tcp_fastopen_cookie_check(tp, 0, cookie)
        if ok:
            tp.defer_connect = True
            return True
        tp.fastopen_req = FastopenRequest(None, cookie)
    return False


def tcp_fastopen_active_disable(tp: TcpSock) -> None:
    fo = tp.net.fastopen
    if not int(tp.ns.sysctl.v["net.ipv4.tcp_fastopen_blackhole_timeout_sec"]):
        return
    fo.disable_stamp = fo.jiffies()
    fo.disable_times += 1
    tp.ns.mib.tcpext.TCPFastOpenBlackhole += 1


def tcp_fastopen_active_should_disable(tp: TcpSock) -> bool:
    fo = tp.net.fastopen
    timeout = int(tp.ns.sysctl.v["net.ipv4.tcp_fastopen_blackhole_timeout_sec"])
    if not timeout or not fo.disable_times:
        return False
    multiplier = 1 << min(fo.disable_times - 1, 6)
    if ((fo.jiffies() - (fo.disable_stamp + multiplier * timeout * HZ)) & U32) >= 0x80000000:
        return True
    tp.syn_fastopen_ch = True
    return False


def tcp_fastopen_active_disable_ofo_check(tp: TcpSock) -> None:
    """A Fast Open client that got only a FIN out of order (no data) met a blackhole; one that got
    data after a pause re-enables active Fast Open."""
    from tuxnet.ipv4.tcp.tcp_sock import TCPHDR_FIN  # noqa: F401

    if not tp.syn_fastopen:
        return
    fo = tp.net.fastopen
    if not tp.data_segs_in:
        q = tp.out_of_order_queue
        if len(q) == 1 and q[0].fin:
            tcp_fastopen_active_disable(tp)
    elif tp.syn_fastopen_ch and fo.disable_times:
        rt = tp.sk_dst
        dev = getattr(rt, "dev", None)
        if dev is None or dev.name != "lo":
            fo.disable_times = 0


def tcp_fastopen_active_detect_blackhole(tp: TcpSock, expired: bool) -> None:
    timeouts = tp.icsk_retransmits
    if (tp.syn_fastopen or tp.syn_data or tp.syn_data_acked) and (
            timeouts == 2 or (timeouts < 2 and expired)):
        tcp_fastopen_active_disable(tp)
        tp.ns.mib.tcpext.TCPFastOpenActiveFail += 1


def tcp_syn_fastopen_option(tp: TcpSock, remaining: int) -> TcpOptFastopen | None:
    """tcp_syn_options' Fast Open part: the cookie (or request) of a fastopen_req, if it fits."""
    fo = tp.fastopen_req
    if fo is None or fo.cookie.len < 0:
        return None
    if remaining < fo.cookie.option_space():
        return None
    tp.syn_fastopen = True
    tp.syn_fastopen_exp = fo.cookie.exp
    return fo.cookie.option()


def parse_fastopen_option(cb: TcpCb) -> FastopenCookie:
    """tcp_parse_fastopen_option over a SYN's options: the last valid Fast Open option wins; a cookie
    of odd length is ignored, one shorter than 4 or longer than 16 bytes is invalid (len -1)."""
    from tuxnet.ipv4.tcp.tcp_sock import TCPHDR_SYN

    foc = FastopenCookie()
    if not cb.tcp_flags & TCPHDR_SYN or cb.doff <= 5:
        return foc
    for opt in cb.hdr.options:
        if type(opt) is TcpOptFastopen:
            cookie = opt.cookie
            n = len(cookie)
            if n & 1:
                continue
            if TCP_FASTOPEN_COOKIE_MIN <= n <= TCP_FASTOPEN_COOKIE_MAX:
                foc.val = cookie
            elif n:
                n = -1
            foc.len = n
            foc.exp = opt.exp
    return foc


# ---------------------------------------------------------------------------------------- active open
def tcp_send_syn_data(tp: TcpSock, syn: Any) -> int:
    """tcp_send_syn_data: with a cookie (or none needed), the SYN carries the first MSS-worth of data
    (the MSS cached for the peer, less 40 bytes of option room); the data then sits in the
    retransmit queue as its own segment after the pure SYN, so SYN retransmits carry no data and a
    SYN-ACK acknowledging only the SYN gets the data again at once. Without a cookie, a plain SYN
    asks for one. Fast Open options go on the first SYN only."""
    from tuxnet.ipv4.tcp import tcp_output
    from tuxnet.ipv4.tcp.tcp_sock import TCPHDR_ACK, TCPHDR_PSH, TcpSkb

    fo = tp.fastopen_req
    ns = tp.ns
    ok, tp.rx_opt.mss_clamp = tcp_fastopen_cookie_check(tp, tp.advmss, fo.cookie)
    if ok:
        tp.rx_opt.mss_clamp = tcp_output.tcp_mss_clamp(tp, tp.rx_opt.mss_clamp)
        tcp_output.tcp_sync_mss(tp, tp.icsk_pmtu_cookie)
        space = tcp_output.__tcp_mtu_to_mss(tp, tp.icsk_pmtu_cookie) - MAX_TCP_OPTION_SPACE
        space = max(0, min(space, fo.size))
        data = fo.data[:space] if fo.data is not None else b""
        if space == fo.size:
            fo.data = None  # nothing left for after the handshake
        fo.copied = space
        syn_data = TcpSkb(syn.seq, syn.tcp_flags, data)
        syn_data.overhead = tcp_output.TCP_SKB_OVERHEAD
        if space and fo.uarg is not None:
            skb_zcopy_set(syn_data, fo.uarg)  # copied into the skb, but the send's notification waits
        # tcp_connect_queue_skb
        tp.sk_wmem_queued += space + syn_data.overhead
        tp.write_seq = syn_data.end_seq
        tp.packets_out += 1
        err = tcp_output.tcp_transmit_skb(tp, syn_data)
        syn.skb_mstamp_ns = syn_data.skb_mstamp_ns
        syn.first_tx_ns = syn_data.first_tx_ns
        syn.tx = syn_data.tx
        # the SYN+data went out; the queue keeps the data alone, after the pure SYN
        syn_data.seq = (syn_data.seq + 1) & U32
        syn_data.tcp_flags = TCPHDR_ACK | TCPHDR_PSH
        if not err:
            tp.syn_data = fo.copied > 0
            tp.tcp_rtx_queue.append(syn_data)
            ns.mib.tcpext.TCPOrigDataSent += 1
            fo.cookie.len = -1
            return 0
        tp.sk_write_queue.append(syn_data)
        tp.packets_out -= 1
    if fo.cookie.len > 0:
        fo.cookie.len = 0  # a plain SYN asks for a new cookie
    err = tcp_output.tcp_transmit_skb(tp, syn)
    if err:
        tp.syn_fastopen = False
    fo.cookie.len = -1  # no Fast Open option on SYN retransmits
    return err


def tcp_rcv_fastopen_synack(tp: TcpSock, skb: SkBuff, cb: TcpCb, cookie: FastopenCookie) -> bool:
    """The SYN-ACK of a Fast Open connect: cache the cookie and the peer's MSS; True when data sent in
    the SYN was not acknowledged (it is retransmitted now)."""
    from tuxnet.ipv4.tcp import tcp_input, tcp_recovery

    ns = tp.ns
    data = tp.tcp_rtx_queue_head() if tp.syn_data else None
    mss = tp.rx_opt.mss_clamp
    if mss == tp.rx_opt.user_mss:
        # the SYN-ACK's own MSS, before TCP_MAXSEG clamped it
        opt = tcp_input.parse_options_into(tp.net, cb, mss_clamp=0, user_mss=0)
        mss = opt.mss_clamp if opt is not None else 0
    try_exp = 0
    syn_drop = False
    if not tp.syn_fastopen:
        cookie.len = -1  # an unsolicited cookie is ignored
    elif tp.total_retrans:
        # the SYN timed out and this SYN-ACK has no cookie and acks no data: the SYN-data or its
        # SYN-ACK was dropped
        syn_drop = cookie.len < 0 and data is not None
    elif cookie.len < 0 and not tp.syn_data:
        # a cookie was asked for and none came: try the other option kind next time
        try_exp = 2 if tp.syn_fastopen_exp else 1
    tcp_fastopen_cache_set(tp, mss, cookie, syn_drop, try_exp)
    if data is not None:
        tp.fastopen_client_fail = TFO_SYN_RETRANSMITTED if tp.total_retrans else TFO_DATA_NOT_ACKED
        for s in list(tp.tcp_rtx_queue):
            tcp_recovery.tcp_mark_skb_lost(tp, s)
        tcp_recovery.tcp_non_congestion_loss_retransmit(tp)
        ns.mib.tcpext.TCPFastOpenActiveFail += 1
        return True
    tp.syn_data_acked = tp.syn_data
    if tp.syn_data_acked:
        ns.mib.tcpext.TCPFastOpenActive += 1
        if tp.delivered > 1:
            tp.delivered -= 1  # the SYN-data counted as two packets in tcp_ack
    tcp_fastopen_add_skb(tp, skb, cb)
    return False
