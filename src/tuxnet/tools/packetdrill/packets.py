"""Packets of a packetdrill run: what the script says, what the stack sent, and how the two map.

Follows packetdrill's tcp_packet.c (building script packets), socket.h (the script <-> live mapping
of addresses, ports and sequence numbers), run_packet.c (inbound mapping, outbound verification)
and packet_to_string.c / tcp_options_to_string.c (packet dumps in error messages).

Guarantees:
- ``script_tcp(pkt)`` turns a parsed ``TcpPacket`` into a ``TcpView`` with packetdrill's checks
  (``window must be specified for inbound packets``, option padding, flag letters), raising
  ``ScriptFailure`` with packetdrill's wording, or ``Unsupported`` for what tuxnet's runner does not
  emulate (encapsulation, fuzzing, unknown option keywords).
- Sequence numbers follow tcpdump's convention as packetdrill does: SYNs carry absolute numbers,
  other packets are relative to the ISNs (``SockRec`` holds the script and live ISNs and tuples).
  Inbound TS ecr values are mapped to the live TS val the script named earlier (or interpolated
  with ``--tcp_ts_ecr_scaled``); outbound TS vals are mapped to script space from the first one seen.
- ``verify_outbound`` compares an actual packet with the script's field by field in packetdrill's
  order and with its messages (``live packet field tcp_ack: expected: 1 (0x1) vs actual: 0 (0x0)``,
  ``bad outbound TCP options``, ``incorrect outbound data payload``); timing is checked by the runner.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace

from tuxnet.tools.packetdrill import TcpOption, TcpPacket
from tuxnet.tools.packetdrill.errors import ScriptFailure, Unsupported
from tuxnet.wire.checksum import csum_fold, csum_partial, pseudo_header_sum

U32 = 0xFFFFFFFF
IPPROTO_TCP = 6
ETH_HLEN = 14

OPT_EOL, OPT_NOP, OPT_MSS, OPT_WSCALE, OPT_SACKOK, OPT_SACK, OPT_TS = 0, 1, 2, 3, 4, 5, 8
OPT_MD5, OPT_FO, OPT_EXP = 19, 34, 254
FOEXP_MAGIC = b"\xf9\x89"

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
_FLAG_BITS = {"F": FIN, "S": SYN, "R": RST, "P": PSH, ".": ACK, "U": URG, "E": ECE, "W": CWR}
_ECN = {"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3}
INBOUND_TTL = 255  # the value reaches no TCP logic; packetdrill's injected packets use a fixed TTL

Opt = tuple[int, bytes]  # (kind, the option's bytes after kind and length); nop/eol: (kind, b"")

_IPH = struct.Struct("!BBHHHBBHII")
_TCPH = struct.Struct("!HHIIBBHHH")


# --- views -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class TcpView:
    """One TCP/IPv4 packet as packetdrill compares it (script expectations or a live packet)."""

    saddr: int = 0
    daddr: int = 0
    sport: int = 0
    dport: int = 0
    seq: int = 0
    ack: int = 0
    flags: int = 0  # FIN .. CWR
    ae: int = 0  # the AccECN bit next to the flags
    res1: int = 0  # the 3 reserved bits
    window: int = 0
    urg: int = 0
    options: list[Opt] | None = field(default_factory=list)  # None: <...>, not checked
    payload: bytes = b""
    tos: int = 0
    ttl: int = 0
    ihl: int = 5
    ip_id: int = 0
    version: int = 4
    protocol: int = IPPROTO_TCP
    ip_csum_ok: bool = True
    time_usecs: int = 0
    # script-side check modes (packetdrill's packet->flags and tos_chk)
    win_check: bool = True
    ace_check: bool = False
    tos_chk: str = "none"  # none, ecn, tos, ect01
    ttl_chk: bool = False
    line: int = 0

    @property
    def payload_len(self) -> int:
        return len(self.payload)

    @property
    def opt_len(self) -> int:
        return len(encode_options(self.options or []))

    @property
    def doff(self) -> int:
        return 5 + self.opt_len // 4

    @property
    def tot_len(self) -> int:
        return self.ihl * 4 + self.doff * 4 + self.payload_len

    def ts(self) -> tuple[int, int] | None:
        for kind, data in self.options or ():
            if kind == OPT_TS and len(data) == 8:
                return struct.unpack("!II", data)  # type: ignore[return-value]
        return None

    def set_ts(self, val: int | None = None, ecr: int | None = None) -> None:
        opts = self.options or []
        for i, (kind, data) in enumerate(opts):
            if kind == OPT_TS and len(data) == 8:
                v, e = struct.unpack("!II", data)
                opts[i] = (kind, struct.pack("!II", (v if val is None else val) & U32,
                                             (e if ecr is None else ecr) & U32))

    def offset_sack(self, off: int) -> None:
        opts = self.options or []
        for i, (kind, data) in enumerate(opts):
            if kind == OPT_SACK and len(data) % 8 == 0:
                vals = struct.unpack(f"!{len(data) // 4}I", data)
                opts[i] = (kind, struct.pack(f"!{len(vals)}I", *((v + off) & U32 for v in vals)))


# --- options ---------------------------------------------------------------------------------------


def encode_options(opts: list[Opt]) -> bytes:
    out = bytearray()
    for kind, data in opts:
        if kind in (OPT_EOL, OPT_NOP):
            out.append(kind)
        else:
            out += bytes((kind, 2 + len(data))) + data
    return bytes(out)


def parse_options(raw: bytes) -> list[Opt]:
    """The option walk of packetdrill's tcp_options_iterator: every byte-level option, EOL included."""
    opts: list[Opt] = []
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind in (OPT_EOL, OPT_NOP):
            opts.append((kind, b""))
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2 or i + raw[i + 1] > len(raw):
            opts.append((kind, bytes(raw[i + 2:])))  # malformed: keep what is there
            break
        ln = raw[i + 1]
        opts.append((kind, bytes(raw[i + 2:i + ln])))
        i += ln
    return opts


def _script_option(o: TcpOption, line: int) -> Opt:
    k = o.kind
    if k == "nop":
        return (OPT_NOP, b"")
    if k == "eol":
        return (OPT_EOL, b"")
    if k == "mss":
        return (OPT_MSS, struct.pack("!H", o.value or 0))
    if k == "wscale":
        return (OPT_WSCALE, bytes((o.value or 0,)))
    if k == "sackOK":
        return (OPT_SACKOK, b"")
    if k == "sack":
        return (OPT_SACK, b"".join(struct.pack("!II", a, b) for a, b in o.blocks))
    if k == "TS":
        return (OPT_TS, struct.pack("!II", o.val or 0, o.ecr or 0))
    if k == "FO":
        return (OPT_FO, bytes.fromhex(o.cookie or ""))
    if k == "FOEXP":
        return (OPT_EXP, FOEXP_MAGIC + bytes.fromhex(o.cookie or ""))
    if k == "md5":
        return (OPT_MD5, bytes.fromhex(o.cookie or "").ljust(16, b"\0"))
    raise Unsupported(f"TCP option '{k}'", line)


def options_to_string(opts: list[Opt]) -> str:
    """tcp_options_to_string: ``mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7``."""
    parts = []
    for kind, data in opts:
        if kind == OPT_EOL:
            parts.append("eol")
        elif kind == OPT_NOP:
            parts.append("nop")
        elif kind == OPT_MSS and len(data) == 2:
            parts.append(f"mss {struct.unpack('!H', data)[0]}")
        elif kind == OPT_WSCALE and len(data) == 1:
            parts.append(f"wscale {data[0]}")
        elif kind == OPT_SACKOK:
            parts.append("sackOK")
        elif kind == OPT_SACK and len(data) % 8 == 0:
            vals = struct.unpack(f"!{len(data) // 4}I", data)
            parts.append("sack " + " ".join(f"{vals[i]}:{vals[i + 1]}" for i in range(0, len(vals), 2)))
        elif kind == OPT_TS and len(data) == 8:
            v, e = struct.unpack("!II", data)
            parts.append(f"TS val {v} ecr {e}")
        elif kind == OPT_FO:
            parts.append(f"FO {data.hex()}" if data else "FO")
        elif kind == OPT_EXP and data[:2] == FOEXP_MAGIC:
            parts.append(f"FOEXP {data[2:].hex()}" if len(data) > 2 else "FOEXP")
        elif kind == OPT_MD5:
            parts.append(f"md5 {data.hex()}")
        else:
            parts.append(f"option {kind}")
    return ",".join(parts)


def flags_to_string(v: TcpView) -> str:
    s = "".join(c for c, bit in (("F", FIN), ("S", SYN), ("R", RST), ("P", PSH), (".", ACK), ("U", URG))
                if v.flags & bit)
    if v.ace_check and not v.flags & SYN:
        return s + str((v.ae << 2) | (2 if v.flags & CWR else 0) | (1 if v.flags & ECE else 0))
    return s + ("E" if v.flags & ECE else "") + ("W" if v.flags & CWR else "") + ("A" if v.ae else "")


def packet_to_string(v: TcpView) -> str:
    """packetdrill's DUMP_SHORT form: ``S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7>``."""
    s = f"{flags_to_string(v) or '-'} {v.seq}:{(v.seq + v.payload_len) & U32}({v.payload_len}) "
    if v.flags & ACK:
        s += f"ack {v.ack} "
    if v.win_check:
        s += f"win {v.window} "
    if v.options:
        s += f"<{options_to_string(v.options)}>"
    return s.rstrip()


# --- script packets --------------------------------------------------------------------------------


def _flags(text: str, line: int) -> tuple[int, int, bool]:
    flags = ae = 0
    ace = False
    has_ecn = False
    for c in text:
        if c in _FLAG_BITS:
            if c in "EW":
                if ace:
                    raise ScriptFailure(line, f"semantic error: Conflicting TCP flag: '{c}'")
                has_ecn = True
            flags |= _FLAG_BITS[c]
        elif c == "A":
            if ace:
                raise ScriptFailure(line, f"semantic error: Conflicting TCP flag: '{c}'")
            has_ecn = True
            ae = 1
        elif c in "01234567":
            if ace or has_ecn:
                raise ScriptFailure(line, f"semantic error: Conflicting TCP flag: '{c}'")
            ace = True
            n = int(c)
            flags |= (ECE if n & 1 else 0) | (CWR if n & 2 else 0)
            ae = 1 if n & 4 else 0
        else:
            raise ScriptFailure(line, f"semantic error: Invalid TCP flag: '{c}'")
    return flags, ae, ace


def script_tcp(p: TcpPacket) -> TcpView:
    """new_tcp_packet: the script's TCP packet, with packetdrill's semantic checks."""
    line = p.line
    if p.encap:
        raise Unsupported("encapsulated packets", line)
    if p.fuzz:
        raise Unsupported("packet fuzzing", line)
    flags, ae, ace = _flags(p.flags, line)
    opts: list[Opt] | None = None
    if p.options is not None:
        opts = [_script_option(o, line) for o in p.options]
        excess = len(encode_options(opts)) & 3
        if excess:
            raise ScriptFailure(line, "semantic error: TCP options are not padded correctly to ensure TCP "
                                f"header is a multiple of 4 bytes: {excess} excess bytes")
    if p.win is None and p.direction == "<":
        raise ScriptFailure(line, "semantic error: window must be specified for inbound packets")
    v = TcpView(sport=p.src_port or 0, dport=p.dst_port or 0, seq=p.start_seq, ack=p.ack or 0,
                flags=flags, ae=ae, window=p.win or 0, urg=p.urg or 0, options=opts,
                payload=bytes(p.payload_len), win_check=p.win is not None, ace_check=ace, line=line)
    ip = p.ip
    if ip is not None:
        if ip.flow_label is not None:
            raise Unsupported("IPv6 flow labels", line)
        if ip.ecn == "ect01":
            v.tos_chk = "ect01"
        elif ip.ecn is not None:
            v.tos_chk, v.tos = "ecn", _ECN[ip.ecn]
        elif ip.tos is not None:
            v.tos_chk, v.tos = "tos", ip.tos
        if ip.ttl is not None:
            v.ttl_chk, v.ttl = True, ip.ttl
    return v


# --- live packets ----------------------------------------------------------------------------------


def parse_frame(frame: bytes, time_usecs: int) -> TcpView | None:
    """An Ethernet frame the device sent, as a TcpView (None unless TCP over IPv4)."""
    if len(frame) < ETH_HLEN + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[ETH_HLEN:]
    vihl, tos, tot_len, ip_id, _frag, ttl, proto, _csum, saddr, daddr = _IPH.unpack_from(ip, 0)
    ihl = vihl & 15
    if vihl >> 4 != 4 or ihl < 5 or proto != IPPROTO_TCP or tot_len > len(ip) or tot_len < ihl * 4 + 20:
        return None
    csum_ok = csum_fold(csum_partial(ip[:ihl * 4])) == 0
    t = ip[ihl * 4:tot_len]
    sport, dport, seq, ack, offres, flags, window, _check, urg = _TCPH.unpack_from(t, 0)
    hlen = (offres >> 4) * 4
    if hlen < 20 or hlen > len(t):
        return None
    return TcpView(saddr=saddr, daddr=daddr, sport=sport, dport=dport, seq=seq, ack=ack, flags=flags,
                   ae=offres & 1, res1=(offres >> 1) & 7, window=window, urg=urg,
                   options=parse_options(bytes(t[20:hlen])), payload=bytes(t[hlen:]), tos=tos, ttl=ttl,
                   ihl=ihl, ip_id=ip_id, ip_csum_ok=csum_ok, time_usecs=time_usecs)


def build_ipv4_tcp(v: TcpView) -> bytes:
    """The IPv4 datagram for an inbound packet, with both checksums (checksum_packet)."""
    opts = encode_options(v.options or [])
    hlen = 20 + len(opts)
    tcp = bytearray(_TCPH.pack(v.sport, v.dport, v.seq & U32, v.ack & U32,
                               (hlen // 4) << 4 | (v.res1 & 7) << 1 | (v.ae & 1), v.flags, v.window,
                               0, v.urg) + opts + v.payload)
    csum = csum_fold(csum_partial(tcp, pseudo_header_sum(v.saddr, v.daddr, IPPROTO_TCP, len(tcp))))
    struct.pack_into("!H", tcp, 16, csum)
    iph = bytearray(_IPH.pack(0x45, v.tos, 20 + len(tcp), v.ip_id, 0, v.ttl or INBOUND_TTL, IPPROTO_TCP,
                              0, v.saddr, v.daddr))
    struct.pack_into("!H", iph, 10, csum_fold(csum_partial(iph)))
    return bytes(iph + tcp)


# --- the socket under test: script <-> live mapping ------------------------------------------------


@dataclass(slots=True, eq=False)
class SockRec:
    """packetdrill's struct socket: one socket the script knows, its fd and its two address spaces."""

    state: str = "init"  # new, listening, passive_packet_received, passive_synack_sent,
    # passive_synack_acked, active_connecting, active_syn_sent, active_syn_acked
    script_fd: int = -1
    sock: object = None  # the tuxnet Socket (the live fd)
    protocol: int = IPPROTO_TCP
    type: int = 1
    closed: bool = False
    script_local: tuple[int, int] = (0, 0)  # (ip, port)
    script_remote: tuple[int, int] = (0, 0)
    live_local: tuple[int, int] = (0, 0)
    live_remote: tuple[int, int] = (0, 0)
    script_local_isn: int = 0
    script_remote_isn: int = 0
    live_local_isn: int = 0
    live_remote_isn: int = 0
    ts_val_map: dict[int, int] = field(default_factory=dict)
    first_ts: tuple[int, int] | None = None  # (first script TS val, first actual TS val)
    last_outbound: TcpView | None = None
    last_injected: TcpView | None = None

    # socket.h's offsets
    def remote_script_to_live(self, is_syn: bool) -> int:
        return 0 if is_syn else self.live_remote_isn

    def local_script_to_live(self, is_syn: bool) -> int:
        return (self.live_local_isn - self.script_local_isn) & U32 if is_syn else self.live_local_isn

    def live_outbound_tuple(self) -> tuple[int, int, int, int]:
        return (self.live_local[0], self.live_local[1], self.live_remote[0], self.live_remote[1])


def map_inbound(sr: SockRec, script: TcpView, tcp_ts_ecr_scaled: bool) -> TcpView:
    """map_inbound_packet: the script packet with live addresses, ports, sequence numbers, TS ecr."""
    v = replace(script, options=list(script.options or []))
    v.saddr, v.sport = sr.live_remote
    v.daddr, v.dport = sr.live_local
    if script.sport:
        v.sport = script.sport
    if script.dport:
        v.dport = script.dport
    is_syn = bool(v.flags & SYN)
    v.seq = (v.seq + sr.remote_script_to_live(is_syn)) & U32
    off = sr.local_script_to_live(is_syn)
    if v.flags & ACK:
        v.ack = (v.ack + off) & U32
    v.offset_sack(off)
    ts = v.ts()
    if v.flags & ACK and ts is not None:
        ecr = ts[1]
        if ecr in sr.ts_val_map:
            v.set_ts(ecr=sr.ts_val_map[ecr])
        elif tcp_ts_ecr_scaled and sr.first_ts is not None:
            v.set_ts(ecr=(ecr - sr.first_ts[0] + sr.first_ts[1]) & U32)
        else:
            raise ScriptFailure(script.line, "error handling packet: unable to infer live TS ecr for "
                                f"script TS ecr {ecr};  no matching or preceding outbound TS val")
    return v


def live_to_script(sr: SockRec, live: TcpView) -> TcpView:
    """tcp_convert_seq_number and the 4-tuple rewrite: a sniffed packet in script space."""
    v = replace(live, options=None if live.options is None else list(live.options))
    v.saddr, v.sport = sr.script_local
    v.daddr, v.dport = sr.script_remote
    is_syn = bool(v.flags & SYN)
    v.seq = (v.seq - sr.local_script_to_live(is_syn)) & U32
    off = -sr.remote_script_to_live(is_syn)
    if v.flags & ACK:
        v.ack = (v.ack + off) & U32
    v.offset_sack(off)
    return v


def map_outbound_ts(sr: SockRec, script: TcpView, actual: TcpView) -> None:
    """map_outbound_live_packet's timestamp part: remember script->live TS val, rebase to script."""
    s_ts, a_ts = script.ts(), actual.ts()
    if s_ts is None or a_ts is None:
        return
    sr.ts_val_map[s_ts[0]] = a_ts[0]
    if sr.first_ts is None:
        sr.first_ts = (s_ts[0], a_ts[0])
    actual.set_ts(val=(sr.first_ts[0] + a_ts[0] - sr.first_ts[1]) & U32)


# --- verification ----------------------------------------------------------------------------------


class Mismatch(Exception):
    """One failed check; the text is packetdrill's."""


def check_field(name: str, expected: int, actual: int) -> None:
    if expected != actual:
        raise Mismatch(f"live packet field {name}: expected: {expected} ({expected:#x}) "
                       f"vs actual: {actual} ({actual:#x})")


def _bit(flags: int, bit: int) -> int:
    return 1 if flags & bit else 0


def verify_headers(actual: TcpView, script: TcpView, strict: bool) -> None:
    """verify_ipv4 + verify_tcp (strict: against the script; else fragment against fragment)."""
    allowance = actual.opt_len if script.options is None else 0
    check_field("ipv4_version", script.version, actual.version)
    check_field("ipv4_protocol", script.protocol, actual.protocol)
    check_field("ipv4_header_length", script.ihl, actual.ihl)
    if strict:
        check_field("ipv4_total_length", script.tot_len + allowance, actual.tot_len)
    ecn = actual.tos & 3
    if script.tos_chk == "ect01":
        if ecn not in (1, 2):
            raise Mismatch(f"live packet field ip_ecn: expected: 0x1 or 0x2 vs actual: {ecn:#x}")
    elif script.tos_chk == "ecn":
        check_field("ip_ecn", script.tos, ecn)
    elif script.tos_chk == "tos":
        check_field("tos", script.tos, actual.tos)
    if script.ttl_chk:
        check_field("ttl", script.ttl, actual.ttl)
    s, a = script.flags, actual.flags
    check_field("tcp_data_offset", script.doff + allowance // 4, actual.doff)
    if strict:
        check_field("tcp_fin", _bit(s, FIN), _bit(a, FIN))
    check_field("tcp_syn", _bit(s, SYN), _bit(a, SYN))
    check_field("tcp_rst", _bit(s, RST), _bit(a, RST))
    if strict:
        check_field("tcp_psh", _bit(s, PSH), _bit(a, PSH))
    check_field("tcp_ack", _bit(s, ACK), _bit(a, ACK))
    check_field("tcp_urg", _bit(s, URG), _bit(a, URG))
    if script.ace_check:
        ace = (script.ae << 2) | (2 if s & CWR else 0) | (1 if s & ECE else 0)
        check_field("tcp_ace", ace, (actual.ae << 2) | (2 if a & CWR else 0) | (1 if a & ECE else 0))
    else:
        check_field("tcp_ece", _bit(s, ECE), _bit(a, ECE))
        if strict:
            check_field("tcp_cwr", _bit(s, CWR), _bit(a, CWR))
        check_field("tcp_ae", script.ae, actual.ae)
    check_field("tcp_reserved_bits", script.res1, actual.res1)
    if strict:
        check_field("tcp_seq", script.seq, actual.seq)
    else:
        check_field("tcp_seq", (script.seq + script.payload_len) & U32, actual.seq)
    check_field("tcp_ack_seq", script.ack, actual.ack)
    if script.win_check:
        check_field("tcp_window", script.window, actual.window)
    check_field("tcp_urg_ptr", script.urg, actual.urg)


def verify_options(actual: TcpView, script: TcpView, ts_tick_usecs: int, tolerance_usecs: int) -> None:
    """verify_outbound_live_tcp_options: same kinds in the same order, same bytes (TS val within
    tolerance only when --tcp_ts_tick_usecs is set)."""
    if script.options is None:
        return
    a_opts, s_opts = actual.options or [], script.options
    for i in range(max(len(a_opts), len(s_opts))):
        if i >= len(a_opts) or i >= len(s_opts) or a_opts[i][0] != s_opts[i][0]:
            raise Mismatch("bad outbound TCP options")
        (kind, a_data), (_, s_data) = a_opts[i], s_opts[i]
        if kind in (OPT_EOL, OPT_NOP):
            continue
        if kind == OPT_TS:
            a_ts, s_ts = actual.ts(), script.ts()
            if ts_tick_usecs and a_ts and s_ts:
                delta = ((a_ts[0] - s_ts[0] + 2**31) & U32) - 2**31
                if abs(delta) * ts_tick_usecs > tolerance_usecs:
                    raise Mismatch(f"bad outbound TCP timestamp value, tolerance {tolerance_usecs}")
            continue
        if len(a_data) != len(s_data):
            raise Mismatch(f"bad lengths for outbound TCP option {kind}")
        if a_data != s_data:
            raise Mismatch(f"bad value outbound TCP option {kind}")


def verify_payload(actual: TcpView, script: TcpView) -> None:
    if actual.payload != script.payload:
        raise Mismatch("incorrect outbound data payload")


def aggregate(frags: list[TcpView]) -> TcpView:
    """One packet from consecutive segments of one TSO/GSO burst, as packetdrill's aggregate_packets
    builds it: the headers (flags, window, options, time) of the last segment, the sequence number
    and CWR of the first, the payloads joined. GSO puts PSH and FIN on the last segment of a TSO
    packet and CWR on the first, so a TSO packet split by a device comes back whole."""
    if len(frags) == 1:
        return frags[0]
    first, last = frags[0], frags[-1]
    agg = replace(last, options=None if last.options is None else list(last.options))
    agg.payload = b"".join(f.payload for f in frags)
    agg.seq = first.seq
    agg.flags = (last.flags & ~CWR) | (first.flags & CWR)
    return agg


def dump(kind: str, v: TcpView, usecs: int) -> str:
    return f"{kind} packet: {usecs / 1e6:9.6f} {packet_to_string(v)}"


# --- inbound ICMP (icmp_packet.c) ------------------------------------------------------------------

ICMP_TYPES = {"echo_reply": 0, "unreachable": 3, "source_quench": 4, "redirect": 5, "echo_request": 8,
              "time_exceeded": 11, "parameter_problem": 12, "timestamp_request": 13,
              "timestamp_reply": 14, "information_request": 15, "information_reply": 16,
              "address_mask_request": 17, "address_mask_reply": 18}
ICMP_UNREACH_CODES = {"net_unreachable": 0, "host_unreachable": 1, "protocol_unreachable": 2,
                      "port_unreachable": 3, "frag_needed": 4, "source_route_failed": 5, "net_unknown": 6,
                      "host_unknown": 7, "source_host_isolated": 8, "net_prohibited": 9,
                      "host_prohibited": 10, "net_unreachable_for_tos": 11, "host_unreachable_for_tos": 12,
                      "packet_filtered": 13, "precedence_violation": 14, "precedence_cutoff": 15}
ICMP_ECHO_BYTES = 8  # the quoted transport header bytes: ports and sequence number


def icmp_type_code(type_name: str, code_name: str | None, line: int) -> tuple[int, int]:
    """parse_icmp_type_and_code: names from the tables, or ``type_N`` / ``code_N``."""
    if type_name.startswith("type_") and type_name[5:].isdigit():
        t = int(type_name[5:])
    elif type_name in ICMP_TYPES:
        t = ICMP_TYPES[type_name]
    else:
        raise ScriptFailure(line, f"semantic error: bad ICMP type {type_name}")
    if code_name is None:
        c = 0
    elif code_name.startswith("code_") and code_name[5:].isdigit():
        c = int(code_name[5:])
    elif t == 3 and code_name in ICMP_UNREACH_CODES:
        c = ICMP_UNREACH_CODES[code_name]
    else:
        raise ScriptFailure(line, f"semantic error: bad ICMP code {code_name}")
    if t > 255 or c > 255:
        raise ScriptFailure(line, f"semantic error: bad ICMP type {type_name}")
    return t, c


def build_icmp_error(sr: SockRec, icmp_type: int, code: int, mtu: int | None, echoed_seq: int,
                     echoed_len: int, tos: int = 0, ttl: int = 0) -> bytes:
    """An ICMP error from the remote end quoting our TCP packet: the quoted header carries the live
    4-tuple (from us to the remote) and our sequence number mapped to live space."""
    (lip, lport), (rip, rport) = sr.live_local, sr.live_remote
    quoted_ip = bytearray(_IPH.pack(0x45, 0, 20 + 20 + echoed_len, 0, 0, 0, IPPROTO_TCP, 0, lip, rip))
    seq = (echoed_seq + sr.local_script_to_live(False)) & U32
    quoted = bytes(quoted_ip) + struct.pack("!HHI", lport, rport, seq) + bytes(echoed_len)
    icmp = bytearray(struct.pack("!BBHHH", icmp_type, code, 0, 0, mtu or 0) + quoted)
    struct.pack_into("!H", icmp, 2, csum_fold(csum_partial(icmp)))
    iph = bytearray(_IPH.pack(0x45, tos, 20 + len(icmp), 0, 0, ttl or INBOUND_TTL, 1, 0, rip, lip))
    struct.pack_into("!H", iph, 10, csum_fold(csum_partial(iph)))
    return bytes(iph + icmp)
