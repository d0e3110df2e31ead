"""Segment-level harness for the TCP tests: a scripted remote end, packetdrill style.

Host ``h`` (192.0.2.1) runs the stack under test.  Host ``p`` (192.0.2.2) is the wire: its device
hands every IPv4 frame ``h`` sends to ``Harness.got`` instead of its own stack (ARP still works),
and the test injects hand-made segments from ``p`` through its IP layer.  ``Flow`` keeps the
remote end's sequence numbers so a test only says which flags and payload to send.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tuxnet.ipv4.tcp.tcp_output import ip_send_tcp
from tuxnet.lab.lab import Lab
from tuxnet.netns import Namespace
from tuxnet.socket import AF_INET, SOCK_STREAM, Socket
from tuxnet.tools import run_command
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.ipv4 import Ipv4Header
from tuxnet.wire.tcp import (
    TcpHeader,
    TcpOption,
    TcpOptMss,
    TcpOptSack,
    TcpOptTimestamp,
    TcpOptWscale,
    linux_data_options,
    linux_syn_options,
)

H = "192.0.2.1"
P = "192.0.2.2"
H_IP = ip_aton(H)
P_IP = ip_aton(P)
MS = 1_000_000
U32 = 0xFFFFFFFF

_LETTERS = (("S", 0x02), ("F", 0x01), ("R", 0x04), ("P", 0x08), ("U", 0x20), ("E", 0x40), ("W", 0x80))


def flag_str(flags: int) -> str:
    """tcpdump's flag letters: "S", "S.", "P.", "F.", "R", "R." ..."""
    s = "".join(c for c, b in _LETTERS if flags & b)
    if flags & 0x10:
        s += "."
    return s or "none"


def flag_bits(text: str) -> int:
    bits = 0x10 if "." in text else 0
    for c, b in _LETTERS:
        if c in text:
            bits |= b
    return bits


@dataclass
class Seg:
    """A segment ``h`` sent, as the wire saw it."""

    t: int
    ip: Ipv4Header
    tcp: TcpHeader
    data: bytes
    csum_ok: bool
    raw: bytes = b""  # the IP datagram as sent

    def quote(self) -> bytes:
        """What an ICMP error quotes: the IP header and the first 8 bytes of TCP."""
        return self.raw[:self.ip.hlen + 8]

    @property
    def flags(self) -> str:
        return flag_str(int(self.tcp.flags))

    @property
    def seq(self) -> int:
        return self.tcp.seq

    @property
    def ack(self) -> int:
        return self.tcp.ack

    @property
    def win(self) -> int:
        return self.tcp.window

    @property
    def end_seq(self) -> int:
        f = int(self.tcp.flags)
        return (self.tcp.seq + len(self.data) + bool(f & 0x02) + bool(f & 0x01)) & U32

    @property
    def opts(self) -> tuple[TcpOption, ...]:
        return tuple(self.tcp.options)

    def opt(self, cls: type) -> TcpOption | None:
        for o in self.tcp.options:
            if type(o) is cls:
                return o
        return None

    @property
    def ts(self) -> tuple[int, int] | None:
        return self.tcp.timestamp()

    @property
    def sacks(self) -> tuple[tuple[int, int], ...]:
        o = self.opt(TcpOptSack)
        return tuple(o[0]) if o is not None else ()

    def __repr__(self) -> str:
        return (f"<{self.t / 1e9:.6f} {self.flags} seq {self.seq} ack {self.ack} win {self.win} "
                f"len {len(self.data)} {list(self.opts)}>")


class Harness:
    """Two hosts on a veth pair; ``p``'s IPv4 input is replaced by a recorder."""

    def __init__(self, seed: int = 1, mtu: int = 1500, sysctls: dict[str, str] | None = None,
                 delay_ms: float = 0) -> None:
        """``delay_ms``: one-way delay of the wire (netem on both ends), so the RTT is twice that."""
        self.lab = Lab(seed)
        self.h: Namespace = self.lab.add_host("h")
        self.p: Namespace = self.lab.add_host("p")
        impair = {"delay": f"{delay_ms}ms"} if delay_ms else None
        dh, dp = self.lab.add_link(self.h, "eth0", self.p, "eth0", mtu=mtu, impair=impair)
        self.delay_ns = int(delay_ms * MS)
        self.dh, self.dp = dh, dp
        self.h.devinet.add(dh, H_IP, 24)
        self.p.devinet.add(dp, P_IP, 24)
        # static neighbours: no ARP exchange delays the first segments
        run_command(self.h, f"ip neigh add {P} lladdr {dp.mac.hex(':')} dev eth0 nud permanent")
        run_command(self.p, f"ip neigh add {H} lladdr {dh.mac.hex(':')} dev eth0 nud permanent")
        for k, v in (sysctls or {}).items():
            self.h.sysctl.set(k, v)
        self.got: list[Seg] = []
        self.icmp: list[bytes] = []
        self.flows: dict[tuple[int, int], Flow] = {}
        dp.rx_handler = self._rx
        self.run(0)

    # --------------------------------------------------------------- wire
    def _rx(self, skb: object) -> bool:
        if skb.protocol != 0x0800:  # type: ignore[attr-defined]
            return False
        raw = bytes(skb.buf[skb.data:skb.data + skb.len])  # type: ignore[attr-defined]
        ip = Ipv4Header.parse(raw)
        body = raw[ip.hlen:ip.tot_len]
        if ip.protocol == 6:
            tcp = TcpHeader.parse(body)
            data = bytes(body[tcp.hlen:])
            ok = tcp.compute_checksum(ip.saddr, ip.daddr, data) == tcp.check
            seg = Seg(self.lab.now, ip, tcp, data, ok, raw)
            self.got.append(seg)
            fl = self.flows.get((tcp.dport, tcp.sport))
            if fl is not None:
                fl.observe(seg)
        elif ip.protocol == 1:
            self.icmp.append(body)
        return True

    @property
    def now(self) -> int:
        return self.lab.now

    def run(self, seconds: float) -> None:
        self.lab.run(seconds)

    def inject(self, sport: int, dport: int, seq: int, ack: int, flags: int | str, win: int = 65535,
               options: Iterable[TcpOption] = (), data: bytes = b"", bad_csum: bool = False,
               saddr: int = P_IP, urg: int = 0) -> None:
        """Send a raw segment from the peer to h, and let it be processed."""
        if isinstance(flags, str):
            flags = flag_bits(flags)
        hdr = TcpHeader(sport, dport, seq & U32, ack & U32, flags, win, 0, urg, tuple(options))
        if bad_csum:
            # a wrong checksum: the helper computes it; flip the payload afterwards
            hdr2 = TcpHeader(sport, dport, seq & U32, ack & U32, flags, win ^ 1, 0, urg, tuple(options))
            hdr.check = hdr2.compute_checksum(saddr, H_IP, data)
        err = _send(self.p, saddr, hdr, data, keep_check=bad_csum)
        assert err == 0, err
        self.run(self.delay_ns / 1e9)

    def take(self) -> list[Seg]:
        out, self.got = self.got, []
        return out

    def next(self) -> Seg:
        if not self.got:
            self.run(0)
        if not self.got and self.delay_ns:
            self.run(self.delay_ns / 1e9)
        assert self.got, "h sent nothing"
        return self.got.pop(0)

    def expect_none(self) -> None:
        assert not self.got, f"unexpected: {self.got}"

    def proc_tcp(self) -> list[dict]:
        """h's /proc/net/tcp as rows: local/remote (ip, port), state name, timer, time left (s)."""
        from tuxnet.ipv4.tcp.tcp_sock import TcpState
        from tuxnet.procfs import read_proc

        rows = []
        for line in read_proc(self.h, "/proc/net/tcp").splitlines()[1:]:
            f = line.split()

            def addr(x: str) -> tuple[str, int]:
                a, p = x.split(":")
                return ".".join(str(b) for b in bytes.fromhex(a)[::-1]), int(p, 16)

            tr, when = f[5].split(":")
            rows.append({"local": addr(f[1]), "remote": addr(f[2]),
                         "state": TcpState(int(f[3], 16)).name.removeprefix("TCP_"),
                         "timer": int(tr), "left": int(when, 16) / 100})
        return rows

    def states(self) -> dict[tuple[int, int], str]:
        """(local port, remote port) -> state, from /proc/net/tcp."""
        return {(r["local"][1], r["remote"][1]): r["state"] for r in self.proc_tcp()}

    # --------------------------------------------------------------- sockets on h
    def socket(self) -> Socket:
        return self.h.socket(AF_INET, SOCK_STREAM)

    def listener(self, port: int = 8080, backlog: int = 128) -> Socket:
        s = self.socket()
        s.setblocking(False)
        s.bind((H, port))
        s.listen(backlog)
        return s


def _send(ns: Namespace, saddr: int, hdr: TcpHeader, data: bytes, keep_check: bool = False) -> int:
    if not keep_check:
        return ip_send_tcp(ns, saddr, H_IP, hdr, data, df=True)
    # a segment with a deliberately wrong checksum
    from tuxnet.ipv4.tcp import tcp_output
    from tuxnet.skb import Csum, SkBuff

    check = hdr.check
    skb = SkBuff.alloc(hdr.hlen + len(data))
    off = skb.put(hdr.hlen)
    hdr.pack_into(skb.buf, off, saddr, H_IP, data)
    skb.buf[off + 16:off + 18] = check.to_bytes(2, "big")
    if data:
        skb.put_data(data)
    skb.transport_header = off
    skb.ip_summed = Csum.NONE  # as if from a real wire: the receiver must verify it
    return ns.ip.send(skb, saddr, H_IP, tcp_output.IPPROTO_TCP, df=True)


@dataclass
class Flow:
    """The remote end of one connection with ``h``: its sequence space and timestamp clock."""

    hs: Harness
    sport: int  # the peer's port
    dport: int  # h's port
    seq: int = 1000  # the peer's next sequence number
    ack: int = 0  # what the peer acknowledges (h's next byte)
    win: int = 65535
    ts: bool = True
    ts_base: int = 5000
    ts_ecr: int = 0
    wscale: int | None = 7
    mss: int = 1460
    sack: bool = True
    iss_h: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hs.flows[(self.sport, self.dport)] = self

    def observe(self, seg: Seg) -> None:
        """RFC 7323 receiver rule: TS.Recent follows segments that start at or before the point the
        peer has acknowledged (so dup ACKs for a hole echo the last in-order TSval)."""
        ts = seg.ts
        if ts is not None and (not self.ack or seq_after_eq(self.ack, seg.seq)):
            self.ts_ecr = ts[0]

    def tsval(self) -> int:
        return (self.ts_base + self.hs.now // MS) & U32

    def data_opts(self, sacks: Iterable[tuple[int, int]] = ()) -> tuple[TcpOption, ...]:
        return linux_data_options((self.tsval(), self.ts_ecr) if self.ts else None, tuple(sacks))

    def syn_opts(self) -> tuple[TcpOption, ...]:
        ts = (self.tsval(), self.ts_ecr) if self.ts else None
        return linux_syn_options(self.mss, sack=self.sack, ts=ts, wscale=self.wscale)

    def send(self, flags: str = ".", data: bytes = b"", *, seq: int | None = None, ack: int | None = None,
             win: int | None = None, options: Iterable[TcpOption] | None = None,
             sacks: Iterable[tuple[int, int]] = (), advance: bool = True, urg: int = 0,
             bad_csum: bool = False) -> None:
        bits = flag_bits(flags)
        s = self.seq if seq is None else seq
        a = self.ack if ack is None else ack
        if options is None:
            options = self.syn_opts() if bits & 0x02 else self.data_opts(sacks)
        self.hs.inject(self.sport, self.dport, s, a, bits, self.win if win is None else win, options, data,
                       bad_csum=bad_csum, urg=urg)
        if advance and seq is None:
            self.seq = (s + len(data) + bool(bits & 0x02) + bool(bits & 0x01)) & U32

    def recv(self) -> Seg:
        """The next segment h sent on this flow; the peer's view (ack, ts_ecr) follows it."""
        hs = self.hs
        for attempt in range(3):
            for i, seg in enumerate(hs.got):
                if seg.tcp.sport == self.dport and seg.tcp.dport == self.sport:
                    del hs.got[i]
                    self.note(seg)
                    return seg
            hs.run(0 if attempt == 0 else hs.delay_ns / 1e9)
        raise AssertionError(f"h sent nothing to port {self.sport}")

    def note(self, seg: Seg) -> None:
        """Acknowledge ``seg`` from now on (and echo its timestamp)."""
        if seq_after_eq(seg.end_seq, self.ack) or not self.ack:
            self.ack = seg.end_seq
        ts = seg.ts
        if ts is not None:
            self.ts_ecr = ts[0]


def seq_after_eq(a: int, b: int) -> bool:
    return ((a - b) & U32) < 0x80000000


# ------------------------------------------------------------------- connection set-up helpers
def passive_open(hs: Harness, port: int = 8080, peer_port: int = 40000, *, backlog: int = 128,
                 **flow_kw: object) -> tuple[Socket, Socket, Flow]:
    """Listener on h, the peer's three-way handshake, accept(): (listener, connection, flow)."""
    lst = hs.listener(port, backlog)
    fl = Flow(hs, peer_port, port, **flow_kw)  # type: ignore[arg-type]
    fl.send("S")
    synack = fl.recv()
    assert synack.flags == "S.", synack
    fl.iss_h = synack.seq
    fl.send(".")
    conn, _ = lst.accept()
    conn.setblocking(False)
    return lst, conn, fl


def active_open(hs: Harness, port: int = 80, **flow_kw: object) -> tuple[Socket, Flow]:
    """connect() from h to the peer, which answers SYN-ACK; h's ACK is consumed."""
    s = hs.socket()
    s.setblocking(False)
    err = s.connect_ex((P, port))
    assert err == 115, err  # EINPROGRESS
    hs.run(0)
    syn = hs.next()
    assert syn.flags == "S", syn
    fl = Flow(hs, port, syn.tcp.sport, **flow_kw)  # type: ignore[arg-type]
    fl.note(syn)
    fl.iss_h = syn.seq
    fl.send("S.")
    ack = fl.recv()
    assert ack.flags == ".", ack
    return s, fl


__all__ = ["Harness", "Flow", "Seg", "passive_open", "active_open", "flag_str", "flag_bits", "H", "P",
           "H_IP", "P_IP", "MS", "U32", "TcpOptMss", "TcpOptTimestamp", "TcpOptWscale", "TcpOptSack"]
