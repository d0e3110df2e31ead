"""setsockopt/getsockopt at the SOL_SOCKET and IPPROTO_IP levels (net/core/sock.c sk_setsockopt /
sk_getsockopt, net/ipv4/ip_sockglue.c do_ip_setsockopt / do_ip_getsockopt).

Guarantees, as Linux 6.x:
- Values are what Python passes: an int, or bytes (a C struct). An int option given as bytes is read
  as a native int (or as one byte where Linux accepts ``optlen >= 1``); a struct option given as an
  int is rejected with EINVAL, as a too-short optval is.
- SO_RCVBUF/SO_SNDBUF are clamped to ``net.core.rmem_max``/``wmem_max``, doubled and raised to
  SOCK_MIN_RCVBUF (2304) / SOCK_MIN_SNDBUF (4608); getsockopt returns the doubled value. The
  ``*FORCE`` variants skip the clamp and need CAP_NET_ADMIN.
- SO_ERROR reads and clears ``sk_err`` (then ``sk_err_soft``). SO_BINDTODEVICE takes a device name
  (ENODEV if unknown, "" unbinds) and rehashes the socket. SO_MARK needs CAP_NET_ADMIN; SO_PRIORITY
  above 6 too. SO_RCVTIMEO/SO_SNDTIMEO take a ``struct timeval`` (or, as a tuxnet convenience, a
  float of seconds) and govern the blocking coroutine helpers.
- SO_MAX_PACING_RATE (bytes/s) takes a u32 (~0U: unlimited) or, with 8 bytes, a u64; any other
  value turns on the socket's internal pacing (SK_PACING_NONE -> NEEDED) and lowers the current
  pacing rate to it; getsockopt answers the u32-clamped value, or the u64 with an 8-byte buffer.
- IP_TOS also sets the socket priority (rt_tos2priority) and keeps a stream socket's ECN bits;
  IP_TTL accepts 1..255 or -1 (default); IP_MTU_DISCOVER 0..5; IP_MTU is read-only and ENOTCONN
  on an unconnected socket; IP_HDRINCL and IP_NODEFRAG exist on raw sockets only (ENOPROTOOPT).
- getsockopt without a buffer length returns an int, as Python does; with one, the bytes the kernel
  would copy out (truncated to the length).
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.sock.constants import (
    INET_ECN_MASK,
    INT_MAX,
    IP_ADD_MEMBERSHIP,
    IP_BIND_ADDRESS_NO_PORT,
    IP_DROP_MEMBERSHIP,
    IP_FREEBIND,
    IP_HDRINCL,
    IP_MTU,
    IP_MTU_DISCOVER,
    IP_MULTICAST_ALL,
    IP_MULTICAST_IF,
    IP_MULTICAST_LOOP,
    IP_MULTICAST_TTL,
    IP_NODEFRAG,
    IP_OPTIONS,
    IP_PKTINFO,
    IP_PMTUDISC_OMIT,
    IP_RECVERR,
    IP_RECVTOS,
    IP_RECVTTL,
    IP_TOS,
    IP_TRANSPARENT,
    IP_TTL,
    IP_UNICAST_IF,
    IPPROTO_TCP,
    IPPROTO_UDP,
    SO_ACCEPTCONN,
    SO_BINDTODEVICE,
    SO_BINDTOIFINDEX,
    SO_BROADCAST,
    SO_DEBUG,
    SO_DOMAIN,
    SO_DONTROUTE,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_MARK,
    SO_MAX_PACING_RATE,
    SO_NO_CHECK,
    SO_OOBINLINE,
    SO_PASSCRED,
    SO_PRIORITY,
    SO_PROTOCOL,
    SO_RCVBUF,
    SO_RCVBUFFORCE,
    SO_RCVLOWAT,
    SO_RCVTIMEO,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_RXQ_OVFL,
    SO_SNDBUF,
    SO_SNDBUFFORCE,
    SO_SNDLOWAT,
    SO_SNDTIMEO,
    SO_TIMESTAMP,
    SO_TIMESTAMPING,
    SO_TYPE,
    SO_ZEROCOPY,
    SOCK_DGRAM,
    SOCK_MIN_RCVBUF,
    SOCK_MIN_SNDBUF,
    SOCK_RAW,
    SOCK_RCVBUF_LOCK,
    SOCK_SNDBUF_LOCK,
    SOCK_STREAM,
    TCP_ESTABLISHED,
    rt_tos2priority,
)
from tuxnet.sock.timestamping import sock_get_timestamping, sock_set_timestamping

if TYPE_CHECKING:
    from tuxnet.socket import Socket

_INT = struct.Struct("=i")
_TIMEVAL = struct.Struct("=qq")
_LINGER = struct.Struct("=ii")
_U32 = struct.Struct("!I")
_ULONG = struct.Struct("=Q")
U32_MAX = 0xFFFFFFFF
U64_MAX = (1 << 64) - 1
SK_PACING_NONE, SK_PACING_NEEDED = 0, 1  # enum sk_pacing (include/net/sock.h)
NSEC_PER_SEC = 1_000_000_000
NSEC_PER_USEC = 1_000
TCP_LISTEN = 10

# SOL_SOCKET boolean options kept as sock_flags names
_FLAG_OPTS = {
    SO_DEBUG: "SOCK_DBG",
    SO_DONTROUTE: "SOCK_LOCALROUTE",
    SO_BROADCAST: "SOCK_BROADCAST",
    SO_KEEPALIVE: "SOCK_KEEPOPEN",
    SO_OOBINLINE: "SOCK_URGINLINE",
    SO_TIMESTAMP: "SOCK_RCVTSTAMP",
    SO_PASSCRED: "SOCK_PASSCRED",
    SO_RXQ_OVFL: "SOCK_RXQ_OVFL",
    SO_NO_CHECK: "SOCK_NO_CHECK_TX",
}
# IPPROTO_IP receive-ancillary-data options kept as cmsg flags (inet->cmsg_flags)
CMSG_OPTS = {IP_PKTINFO: "IP_CMSG_PKTINFO", IP_RECVTTL: "IP_CMSG_TTL", IP_RECVTOS: "IP_CMSG_TOS"}


def int_val(value: Any, min_len: int = 4) -> int:
    """The int a setsockopt caller passed (an int, or a native int / one byte in bytes)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        b = bytes(value)
        if len(b) >= 4:
            return _INT.unpack_from(b)[0]
        if len(b) >= 1 and min_len <= 1:
            return b[0]
    raise oserror(errno.EINVAL)


def _out(value: int | bytes, buflen: int | None) -> int | bytes:
    """What getsockopt hands back: an int without buflen (Python's default), else the bytes."""
    if buflen is None:
        if isinstance(value, int):
            return value
        b = value[:4].ljust(4, b"\0")
        return _INT.unpack(b)[0]
    if isinstance(value, int):
        return _INT.pack(value)[:buflen]
    return value[:buflen]


def _min_int(value: Any) -> bytes:
    """An option buffer of at least sizeof(int) (sk_setsockopt's first check), else EINVAL."""
    b = bytes(value)
    if len(b) < 4:
        raise oserror(errno.EINVAL)
    return b


def _timeval_ns(value: Any) -> int:
    """sock_set_timeout: struct timeval (or float seconds) -> ns, 0 meaning 'wait forever'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            return 0
        return int(round(value * NSEC_PER_SEC))
    b = bytes(value)
    if len(b) < _TIMEVAL.size:
        raise oserror(errno.EINVAL)
    sec, usec = _TIMEVAL.unpack_from(b)
    if usec < 0 or usec >= 1_000_000:
        raise oserror(errno.EDOM)
    if sec < 0:
        return 0  # "negative timeout": Linux warns and sets 0 (no timeout)
    # jiffies granularity (HZ=1000): round the microseconds up to a millisecond
    ms = sec * 1000 + (usec + 999) // 1000
    return ms * 1_000_000


def _ns_timeval(ns_: int) -> bytes:
    return _TIMEVAL.pack(ns_ // NSEC_PER_SEC, (ns_ % NSEC_PER_SEC) // NSEC_PER_USEC)


def _capable(sock: Socket, cap: str) -> bool:
    cred = getattr(sock.sk, "sk_cred", None)
    return cred.capable(cap) if cred is not None else True


# ---------------------------------------------------------------------------------- SOL_SOCKET
def sock_setsockopt(sock: Socket, optname: int, value: Any) -> None:
    """sk_setsockopt."""
    sk = sock.sk
    ns = sock.ns
    if optname == SO_BINDTODEVICE:
        return _set_bindtodevice(sock, value)
    if optname == SO_MAX_PACING_RATE:
        return _set_max_pacing_rate(sk, value)
    if optname in (SO_LINGER, SO_RCVTIMEO, SO_SNDTIMEO):
        if optname == SO_LINGER:
            b = bytes(value) if not isinstance(value, int) else b""
            if len(b) < _LINGER.size:
                raise oserror(errno.EINVAL)
            onoff, linger = _LINGER.unpack_from(b)
            if not onoff:
                sk.sock_flags.discard("SOCK_LINGER")
            else:
                sk.sk_lingertime = max(0, linger)
                sk.sock_flags.add("SOCK_LINGER")
        elif optname == SO_RCVTIMEO:
            sock.rcvtimeo = _timeval_ns(value)
        else:
            sock.sndtimeo = _timeval_ns(value)
        return None
    if optname == SO_TIMESTAMPING:
        return sock_set_timestamping(sk, value if isinstance(value, int) else _min_int(value))
    val = int_val(value)
    if optname == SO_ZEROCOPY:
        # sk_setsockopt: inet sockets that are TCP or UDP only, then a boolean
        if not (sk.sk_type == SOCK_STREAM and sk.sk_protocol == IPPROTO_TCP
                or sk.sk_type == SOCK_DGRAM and sk.sk_protocol == IPPROTO_UDP):
            raise oserror(errno.EOPNOTSUPP)
        if not 0 <= val <= 1:
            raise oserror(errno.EINVAL)
        if val:
            sk.sock_flags.add("SOCK_ZEROCOPY")
        else:
            sk.sock_flags.discard("SOCK_ZEROCOPY")
        return None
    flag = _FLAG_OPTS.get(optname)
    if flag is not None:
        if optname == SO_DEBUG and val and not _capable(sock, "CAP_NET_ADMIN"):
            raise oserror(errno.EACCES)
        if optname == SO_KEEPALIVE:
            hook = getattr(sk, "keepalive", None)  # sk->sk_prot->keepalive (tcp_set_keepalive)
            if hook is not None:
                hook(bool(val))
        if val:
            sk.sock_flags.add(flag)
        else:
            sk.sock_flags.discard(flag)
        return None
    if optname == SO_REUSEADDR:
        sk.sk_reuse = 1 if val else 0
    elif optname == SO_REUSEPORT:
        sk.sk_reuseport = 1 if val else 0
    elif optname in (SO_SNDBUF, SO_SNDBUFFORCE):
        if optname == SO_SNDBUFFORCE:
            if not _capable(sock, "CAP_NET_ADMIN"):
                raise oserror(errno.EPERM)
            val = max(val, 0)
        else:
            # min_t(u32, val, sysctl_wmem_max): a negative int is a huge u32
            val = min(val & 0xFFFFFFFF, int(ns.sysctl.v["net.core.wmem_max"]))  # type: ignore[call-overload]
        val = min(val, INT_MAX // 2)
        sk.sk_userlocks |= SOCK_SNDBUF_LOCK
        sk.sk_sndbuf = max(val * 2, SOCK_MIN_SNDBUF)
        sk.sk_write_space()
    elif optname in (SO_RCVBUF, SO_RCVBUFFORCE):
        if optname == SO_RCVBUFFORCE:
            if not _capable(sock, "CAP_NET_ADMIN"):
                raise oserror(errno.EPERM)
            val = max(val, 0)
        else:
            val = min(val & 0xFFFFFFFF, int(ns.sysctl.v["net.core.rmem_max"]))  # type: ignore[call-overload]
        val = min(val, INT_MAX // 2)
        sk.sk_userlocks |= SOCK_RCVBUF_LOCK
        # "We double it on the way in to account for struct sk_buff etc. overhead"
        sk.sk_rcvbuf = max(val * 2, SOCK_MIN_RCVBUF)
    elif optname == SO_PRIORITY:
        if 0 <= val <= 6 or _capable(sock, "CAP_NET_ADMIN"):
            sk.sk_priority = val
        else:
            raise oserror(errno.EPERM)
    elif optname == SO_MARK:
        if not (_capable(sock, "CAP_NET_RAW") or _capable(sock, "CAP_NET_ADMIN")):
            raise oserror(errno.EPERM)
        if sk.sk_mark != val & 0xFFFFFFFF:
            sk.sk_mark = val & 0xFFFFFFFF
            sk.sk_dst = None
    elif optname == SO_RCVLOWAT:
        if val < 0:
            val = INT_MAX
        sk.sk_rcvlowat = val or 1
    elif optname == SO_BINDTOIFINDEX:
        _bindtoindex(sock, val)
    elif optname in (SO_TYPE, SO_PROTOCOL, SO_DOMAIN, SO_ERROR, SO_ACCEPTCONN, SO_SNDLOWAT):
        raise oserror(errno.ENOPROTOOPT)
    else:
        raise oserror(errno.ENOPROTOOPT)
    return None


def _set_max_pacing_rate(sk: Any, value: Any) -> None:
    """sk_setsockopt(SO_MAX_PACING_RATE): the cap TCP's pacing rate is computed under."""
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) >= _ULONG.size:
        ulval = _ULONG.unpack_from(bytes(value))[0]
    else:
        val = int_val(value) & U32_MAX
        ulval = U64_MAX if val == U32_MAX else val
    if not hasattr(sk, "sk_max_pacing_rate"):
        return  # only TCP sockets pace in tuxnet (no fq qdisc reads the other sockets' rate)
    if ulval != U64_MAX and sk.sk_pacing_status == SK_PACING_NONE:
        sk.sk_pacing_status = SK_PACING_NEEDED  # cmpxchg(NONE -> NEEDED)
    sk.sk_max_pacing_rate = ulval
    if ulval < sk.sk_pacing_rate:
        sk.sk_pacing_rate = ulval


def _bindtoindex(sock: Socket, ifindex: int) -> None:
    """sock_bindtoindex_locked: rebinding needs CAP_NET_RAW; then rehash, forget the route."""
    sk = sock.sk
    if ifindex < 0:
        raise oserror(errno.EINVAL)
    if sk.sk_bound_dev_if and not _capable(sock, "CAP_NET_RAW"):
        raise oserror(errno.EPERM)
    if ifindex and sock.ns.dev_by_index(ifindex) is None:
        raise oserror(errno.ENODEV)
    sk.sk_bound_dev_if = ifindex
    rehash = getattr(sk, "rehash", None)
    if rehash is not None:
        rehash()
    sk.sk_dst = None


def _set_bindtodevice(sock: Socket, value: Any) -> None:
    """sock_setbindtodevice: a device name (at most IFNAMSIZ-1 bytes, NUL-terminated)."""
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, int):
        raise oserror(errno.EINVAL)
    name = bytes(value)[:15].split(b"\0", 1)[0].decode(errors="replace")
    index = 0
    if name:
        dev = sock.ns.devices.get(name)
        if dev is None:
            raise oserror(errno.ENODEV)
        index = dev.ifindex
    _bindtoindex(sock, index)


def sock_getsockopt(sock: Socket, optname: int, buflen: int | None) -> int | bytes:
    """sk_getsockopt."""
    sk = sock.sk
    flag = _FLAG_OPTS.get(optname)
    v: int | bytes
    if flag is not None:
        v = 1 if flag in sk.sock_flags else 0
    elif optname == SO_REUSEADDR:
        v = sk.sk_reuse
    elif optname == SO_REUSEPORT:
        v = sk.sk_reuseport
    elif optname == SO_TYPE:
        v = sock.type
    elif optname == SO_PROTOCOL:
        v = sock.proto
    elif optname == SO_DOMAIN:
        v = sock.family
    elif optname == SO_SNDBUF:
        v = sk.sk_sndbuf
    elif optname == SO_RCVBUF:
        v = sk.sk_rcvbuf
    elif optname == SO_ERROR:
        v = sk.sk_err
        if v:
            sk.sk_err = 0
        else:
            v = sk.sk_err_soft
            sk.sk_err_soft = 0
    elif optname == SO_PRIORITY:
        v = sk.sk_priority
    elif optname == SO_MARK:
        v = sk.sk_mark
    elif optname == SO_RCVLOWAT:
        v = sk.sk_rcvlowat
    elif optname == SO_SNDLOWAT:
        v = 1
    elif optname == SO_LINGER:
        v = _LINGER.pack(1 if "SOCK_LINGER" in sk.sock_flags else 0, sk.sk_lingertime)
    elif optname == SO_RCVTIMEO:
        v = _ns_timeval(sock.rcvtimeo)
    elif optname == SO_SNDTIMEO:
        v = _ns_timeval(sock.sndtimeo)
    elif optname == SO_ACCEPTCONN:
        v = 1 if getattr(sk, "sk_state", 0) == TCP_LISTEN else 0
    elif optname == SO_BINDTODEVICE:
        dev = sock.ns.dev_by_index(sk.sk_bound_dev_if) if sk.sk_bound_dev_if else None
        v = dev.name.encode() + b"\0" if dev is not None else b""
        if buflen is None:
            return v
    elif optname == SO_BINDTOIFINDEX:
        v = sk.sk_bound_dev_if
    elif optname == SO_ZEROCOPY:
        v = 1 if "SOCK_ZEROCOPY" in sk.sock_flags else 0
    elif optname == SO_TIMESTAMPING:
        v = sock_get_timestamping(sk)  # struct so_timestamping, cut to the caller's length
    elif optname == SO_MAX_PACING_RATE:
        rate = getattr(sk, "sk_max_pacing_rate", U64_MAX)
        if buflen is not None and buflen >= _ULONG.size:
            return _ULONG.pack(rate)
        v = _INT.unpack(struct.pack("=I", min(rate, U32_MAX)))[0]  # a C int: ~0U reads as -1
    else:
        raise oserror(errno.ENOPROTOOPT)
    return _out(v, buflen)


# ---------------------------------------------------------------------------------- IPPROTO_IP
def ip_setsockopt(sock: Socket, optname: int, value: Any) -> None:
    """do_ip_setsockopt."""
    sk = sock.sk
    ns = sock.ns
    if optname in (IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP):
        return _mc_membership(sock, optname == IP_ADD_MEMBERSHIP, value)
    if optname == IP_MULTICAST_IF:
        return _mc_if(sock, value)
    if optname == IP_OPTIONS:
        return _set_options(sock, value)
    val = int_val(value, min_len=1)
    try:
        if optname == IP_TOS:
            old = sk.tos
            if sock.type == SOCK_STREAM:
                val = (val & ~INET_ECN_MASK) | (old & INET_ECN_MASK)
            val &= 0xFF
            if old != val:
                sk.tos = val
                sk.sk_priority = rt_tos2priority(val)
                sk.sk_dst = None
        elif optname == IP_TTL:
            if val != -1 and not 1 <= val <= 255:
                raise oserror(errno.EINVAL)
            sk.ttl = 0 if val == -1 else val
        elif optname == IP_HDRINCL:
            if sock.type != SOCK_RAW:
                raise oserror(errno.ENOPROTOOPT)
            sk.hdrincl = bool(val)
        elif optname == IP_NODEFRAG:
            if sock.type != SOCK_RAW:
                raise oserror(errno.ENOPROTOOPT)
            sk.nodefrag = bool(val)
        elif optname == IP_MTU_DISCOVER:
            if not 0 <= val <= IP_PMTUDISC_OMIT:
                raise oserror(errno.EINVAL)
            sk.pmtudisc = val
        elif optname == IP_RECVERR:
            sk.recverr = bool(val)
            if not val:
                q = getattr(sk, "sk_error_queue", None)
                if q:
                    for e in q:
                        sk.sk_rmem_alloc -= e.truesize
                    q.clear()
        elif optname == IP_FREEBIND:
            sk.freebind = bool(val)
        elif optname == IP_TRANSPARENT:
            if not (_capable(sock, "CAP_NET_RAW") or _capable(sock, "CAP_NET_ADMIN")):
                raise oserror(errno.EPERM)
            sk.transparent = bool(val)
        elif optname == IP_BIND_ADDRESS_NO_PORT:
            sk.bind_address_no_port = bool(val)
        elif optname == IP_MULTICAST_TTL:
            if sock.type == SOCK_STREAM:
                raise oserror(errno.EINVAL)
            if val == -1:
                val = 1
            if not 0 <= val <= 255:
                raise oserror(errno.EINVAL)
            sk.mc_ttl = val
        elif optname == IP_MULTICAST_LOOP:
            sk.mc_loop = 1 if val else 0
        elif optname == IP_MULTICAST_ALL:
            if val not in (0, 1):
                raise oserror(errno.EINVAL)
            sk.mc_all = val
        elif optname == IP_UNICAST_IF:
            ifindex = _U32.unpack(_INT.pack(val))[0] if sock.type != SOCK_STREAM else val
            if ifindex and ns.dev_by_index(ifindex) is None:
                raise oserror(errno.EADDRNOTAVAIL)
            sk.uc_index = ifindex
        elif optname in CMSG_OPTS:
            flags = sock.cmsg_flags
            sock.cmsg_flags = flags | {CMSG_OPTS[optname]} if val else flags - {CMSG_OPTS[optname]}
        elif optname == IP_MTU:
            raise oserror(errno.ENOPROTOOPT)
        else:
            raise oserror(errno.ENOPROTOOPT)
    except AttributeError:
        # a protocol without this piece of inet_sock state (tuxnet's TCP keeps a subset)
        raise oserror(errno.ENOPROTOOPT) from None
    return None


def _set_options(sock: Socket, value: Any) -> None:
    """IP_OPTIONS (ip_options_get): compiled now (EINVAL if malformed, padded to 4 bytes); raw sockets
    send them (ping -R, traceroute -g). The empty value clears them."""
    from tuxnet.ipv4.ip_options import ip_options_get

    raw = b"" if isinstance(value, int) else bytes(value)
    if raw:
        ip_options_get(sock.ns, raw)
    if not hasattr(sock.sk, "inet_opt"):
        raise oserror(errno.ENOPROTOOPT)
    sk = sock.sk
    sk.inet_opt = raw + bytes(-len(raw) % 4)


def _mreq(sock: Socket, value: Any) -> tuple[int, Any]:
    """struct ip_mreq (group, interface address) or ip_mreqn (+ ifindex): the group and device."""
    b = bytes(value) if not isinstance(value, int) else b""
    if len(b) < 8:
        raise oserror(errno.EINVAL)
    group = _U32.unpack_from(b, 0)[0]
    ifaddr = _U32.unpack_from(b, 4)[0]
    ifindex = _INT.unpack_from(b, 8)[0] if len(b) >= 12 else 0
    ns = sock.ns
    dev = None
    if ifindex:
        dev = ns.dev_by_index(ifindex)
    elif ifaddr:
        dev = ns.route.ip_dev_find(ifaddr)
    else:
        # ip_mc_find_dev: the device a route to the group leaves by
        try:
            dev = ns.route.output(group).dev
        except OSError:
            dev = None
    if dev is None:
        raise oserror(errno.ENODEV)
    return group, dev


def _mc_membership(sock: Socket, join: bool, value: Any) -> None:
    """ip_mc_join_group / ip_mc_leave_group (the group list only: tuxnet sends no IGMP here)."""
    group, dev = _mreq(sock, value)
    if (group & 0xF0000000) != 0xE0000000:
        raise oserror(errno.EINVAL)
    memberships = sock.ns.sockets.mc_memberships
    key = (dev.ifindex, group)
    mine = sock.mc_list
    if join:
        if key in mine:
            raise oserror(errno.EADDRINUSE)
        mine.add(key)
        memberships[key] = memberships.get(key, 0) + 1
        if memberships[key] == 1:
            sock.ns.route.mc_join(dev, group)
    else:
        if key not in mine:
            raise oserror(errno.EADDRNOTAVAIL)
        sock.drop_membership(key)


def _mc_if(sock: Socket, value: Any) -> None:
    """IP_MULTICAST_IF: an in_addr, or an ip_mreqn with an ifindex."""
    sk = sock.sk
    b = bytes(value) if not isinstance(value, int) else _U32.pack(value & 0xFFFFFFFF)
    if len(b) < 4:
        raise oserror(errno.EINVAL)
    ifindex = 0
    if len(b) >= 12:
        addr = _U32.unpack_from(b, 4)[0]
        ifindex = _INT.unpack_from(b, 8)[0]
    else:
        addr = _U32.unpack_from(b, 0)[0]
    if not addr and not ifindex:
        sk.mc_index = 0
        sk.mc_addr = 0
        return
    ns = sock.ns
    dev = ns.dev_by_index(ifindex) if ifindex else ns.route.ip_dev_find(addr)
    if dev is None:
        raise oserror(errno.EADDRNOTAVAIL)
    sk.mc_index = dev.ifindex
    sk.mc_addr = addr


def ip_getsockopt(sock: Socket, optname: int, buflen: int | None) -> int | bytes:
    """do_ip_getsockopt."""
    sk = sock.sk
    ns = sock.ns
    v: int | bytes
    try:
        if optname == IP_TOS:
            v = sk.tos
        elif optname == IP_TTL:
            v = sk.ttl or int(ns.sysctl.v["net.ipv4.ip_default_ttl"])  # type: ignore[call-overload]
        elif optname == IP_HDRINCL:
            v = int(sk.hdrincl)  # readable on any socket; settable on raw ones only
        elif optname == IP_NODEFRAG:
            v = int(sk.nodefrag)
        elif optname == IP_MTU_DISCOVER:
            v = sk.pmtudisc
        elif optname == IP_RECVERR:
            v = int(sk.recverr)
        elif optname == IP_MTU:
            v = _ip_mtu(sock)
        elif optname == IP_FREEBIND:
            v = int(sk.freebind)
        elif optname == IP_TRANSPARENT:
            v = int(sk.transparent)
        elif optname == IP_BIND_ADDRESS_NO_PORT:
            v = int(sk.bind_address_no_port)
        elif optname == IP_MULTICAST_TTL:
            v = sk.mc_ttl
        elif optname == IP_MULTICAST_LOOP:
            v = sk.mc_loop
        elif optname == IP_MULTICAST_ALL:
            v = sk.mc_all
        elif optname == IP_OPTIONS:
            v = sk.inet_opt
            if buflen is None:
                return v
        elif optname == IP_MULTICAST_IF:
            v = _U32.pack(sk.mc_addr)
            if buflen is None:
                return _INT.unpack(v)[0]
        elif optname == IP_UNICAST_IF:
            v = _INT.unpack(_U32.pack(sk.uc_index))[0]
        elif optname in CMSG_OPTS:
            v = 1 if CMSG_OPTS[optname] in sock.cmsg_flags else 0
        else:
            raise oserror(errno.ENOPROTOOPT)
    except AttributeError:
        raise oserror(errno.ENOPROTOOPT) from None
    if buflen is not None and 0 < buflen < 4 and isinstance(v, int) and 0 <= v <= 255:
        return bytes((v,))  # "a char is enough" (do_ip_getsockopt)
    return _out(v, buflen)


def _ip_mtu(sock: Socket) -> int:
    """IP_MTU: the path MTU of a connected socket's route (learned PMTU included)."""
    sk = sock.sk
    if sk.sk_dst is None or getattr(sk, "sk_state", 0) != TCP_ESTABLISHED and not sk.inet_daddr:
        raise oserror(errno.ENOTCONN)
    try:
        rt = sock.ns.route.output(sk.inet_daddr, sk.inet_saddr, sk.tos & 0x1E, sk.sk_bound_dev_if, sk.sk_mark)
    except OSError:
        raise oserror(errno.ENOTCONN) from None
    return int(rt.mtu)
