"""tcpdump's TCP: print-tcp.c (flags, relative sequence numbers, options, checksums, RST text)
and print-txtproto.c (the first lines of HTTP, FTP and SMTP), with print-ssh.c's banner."""

from __future__ import annotations

import struct

from tuxnet.wire.errors import WireError
from tuxnet.wire.ipv4 import Ipv4Header
from tuxnet.wire.tcp import TcpHeader

from .common import PrinterBase, Stop, Trunc, printable, v6_sum_ok

_M32 = 0xFFFFFFFF

# fmt: off
_TCPOPT_NAMES = {
    0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 6: "echo", 7: "echoreply", 8: "TS",
    11: "cc", 12: "ccnew", 13: "", 19: "md5", 20: "scps", 28: "uto", 29: "tcp-ao", 30: "mptcp", 34: "tfo",
    254: "exp",
}
# fmt: on
_TCP_FLAGS = (
    (0x01, "F"),
    (0x02, "S"),
    (0x04, "R"),
    (0x08, "P"),
    (0x10, "."),
    (0x20, "U"),
    (0x40, "E"),
    (0x80, "W"),
)
_HTTP_CMDS = frozenset(
    "OPTIONS GET HEAD POST PUT DELETE TRACE CONNECT PATCH COPY LOCK MOVE POLL BCOPY BMOVE MKCOL LABEL "
    "MERGE SEARCH UNLOCK REPORT UPDATE NOTIFY BDELETE CHECKIN PROPFIND CHECKOUT CCM_POST SUBSCRIBE "
    "PROPPATCH BPROPFIND BPROPPATCH UNCHECKOUT MKACTIVITY MKWORKSPACE UNSUBSCRIBE RPC_CONNECT "
    "VERSION-CONTROL BASELINE-CONTROL".split()
)


class TcpdumpState:
    """Per-connection initial sequence numbers, for tcpdump's relative TCP numbers.

    Mirrors print-tcp.c's ``tcp_seq_hash``: a connection is recorded (or reset, on SYN) by the
    first segment carrying ACK; later ACK-bearing segments print seq and ack relative to it.
    Keep one per capture; ``format_packet`` without a state prints absolute numbers, like
    ``tcpdump -S``.
    """

    __slots__ = ("_conns",)

    def __init__(self) -> None:
        self._conns: dict[tuple[bytes, bytes, int, int], list[int]] = {}

    def relative(
        self, src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int
    ) -> tuple[int, int, int, int, bool]:
        """(seq, ack, base seq, base ack, reversed) as tcp_print() computes them."""
        rev = sport > dport or (sport == dport and src > dst)
        key = (dst, src, dport, sport) if rev else (src, dst, sport, dport)
        th = self._conns.get(key)
        if th is None or flags & 0x02:
            th = [ack - 1 & _M32, seq] if rev else [seq, ack - 1 & _M32]  # [th_seq, th_ack]
            self._conns[key] = th
        elif rev:
            seq, ack = (seq - th[1]) & _M32, (ack - th[0]) & _M32
        else:
            seq, ack = (seq - th[0]) & _M32, (ack - th[1]) & _M32
        return seq, ack, th[0], th[1], rev

    def clear(self) -> None:
        self._conns.clear()


class TcpPrinter(PrinterBase):
    """print-tcp.c, print-txtproto.c and print-ssh.c."""

    def tcp(
        self,
        off: int,
        length: int,
        iph: Ipv4Header | tuple[str, str],
        fragmented: bool,
        v6: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.proto = "tcp"
        end = self.snapend
        p = self.p
        if end - off < 4:
            self.addrs(iph, None, None, "tcp")
            raise Trunc("tcp")
        sport, dport = struct.unpack_from("!HH", p, off)
        self.addrs(iph, sport, dport, "tcp")
        if end - off < 20:
            raise Trunc("tcp")
        hlen = (p[off + 12] >> 4) * 4
        if hlen < 20:
            self.w(f" tcp {length - hlen} [bad hdr length {hlen} - too short, < 20]")
            return
        seq, ack = struct.unpack_from("!II", p, off + 4)
        flags = p[off + 13]
        win, _sum, urp = struct.unpack_from("!HHH", p, off + 14)
        names = "".join(n for bit, n in _TCP_FLAGS if flags & bit) or "none"
        self.w(f"Flags [{names}]")
        thseq = thack = 0
        rev = False
        if self.state is not None and flags & 0x10:
            if isinstance(iph, Ipv4Header):
                src, dst = iph.saddr.to_bytes(4, "big"), iph.daddr.to_bytes(4, "big")
            else:
                src, dst = v6 or (b"", b"")
            seq, ack, thseq, thack, rev = self.state.relative(src, dst, sport, dport, seq, ack, flags)
        if hlen > length:
            self.w(f" [bad hdr length {hlen} - too long, > {length}]")
            return
        if self.v and not fragmented and off + length <= len(p):
            if isinstance(iph, Ipv4Header):
                try:
                    th = TcpHeader.parse(p, off, off + length)
                    good = th.compute_checksum(iph.saddr, iph.daddr, p[off + hlen : off + length])
                except WireError:
                    good = _sum
            else:
                good = v6_sum_ok(*(v6 or (b"", b"")), 6, p[off : off + length])[1]
            self.w(f", cksum 0x{_sum:04x}")
            self.w(" (correct)" if good == _sum else f" (incorrect -> 0x{good:04x})")
        length -= hlen
        if self.v > 1 or length > 0 or flags & 0x07:
            self.w(f", seq {seq}")
            if length > 0:
                self.w(f":{(seq + length) & _M32}")
        if flags & 0x10:
            self.w(f", ack {ack}")
        self.w(f", win {win}")
        if flags & 0x20:
            self.w(f", urg {urp}")
        if hlen > 20:
            self.w(", options [")
            self.tcp_options(off + 20, hlen - 20, rev, thseq, thack)
            self.w("]")
        self.w(f", length {length}")
        if length <= 0:
            return
        data = p[off + hlen : end]
        if flags & 0x04 and self.v:
            # print_tcp_rst_data(): RFC 1122 lets a RST carry text explaining it
            whole = len(p) >= off + hlen + length
            n = min(length, 30)
            self.w((" [RST" if whole else " [!RST") + ("+" if length > 30 else "") + " ")
            self.w("".join(_fn_char(c) for c in p[off + hlen : min(off + hlen + n, end)]) + "]")
            return
        ports = (sport, dport)
        if 80 in ports or 8080 in ports:
            self.w(": ")
            self.txtproto(data, length, "HTTP", http=True)
        elif 22 in ports:
            self.ssh(data)
        elif 21 in ports:
            self.w(": ")
            self.txtproto(data, length, "FTP")
        elif 25 in ports:
            self.w(": ")
            self.txtproto(data, length, "SMTP")

    def tcp_options(self, off: int, hlen: int, rev: bool, thseq: int, thack: int) -> None:
        p = self.p
        ch = ""
        cp = off
        try:
            while hlen > 0:
                self.w(ch)
                if cp >= self.snapend:
                    raise Trunc("tcp", jump=True)
                opt = p[cp]
                cp += 1
                if opt in (0, 1):
                    olen = 1
                else:
                    if cp >= self.snapend:
                        raise Trunc("tcp", jump=True)
                    olen = p[cp]
                    cp += 1
                    if olen < 2 or olen > hlen:
                        raise _BadOpt
                    hlen -= 1
                hlen -= 1
                self.w(_TCPOPT_NAMES.get(opt, f"unknown-{opt}"))

                def need(n: int, cp: int = cp, hlen: int = hlen) -> None:
                    if n > hlen:
                        raise _BadOpt
                    if cp + n > self.snapend:
                        raise Trunc("tcp", jump=True)

                if opt == 2:
                    datalen = 2
                    need(2)
                    self.w(f" {int.from_bytes(p[cp : cp + 2], 'big')}")
                elif opt == 3:
                    datalen = 1
                    need(1)
                    self.w(f" {p[cp]}")
                elif opt == 5:
                    datalen = olen - 2
                    if datalen % 8:
                        self.w(" invalid sack")
                    else:
                        self.w(f" {datalen // 8} ")
                        for i in range(0, datalen, 8):
                            need(i + 8)
                            s, e = struct.unpack_from("!II", p, cp + i)
                            base = thseq if rev else thack
                            self.w(f"{{{(s - base) & _M32}:{(e - base) & _M32}}}")
                elif opt in (11, 12, 13):
                    datalen = 4
                    need(4)
                    self.w(f" {int.from_bytes(p[cp : cp + 4], 'big')}")
                elif opt == 8:
                    datalen = 8
                    need(8)
                    tsval, tsecr = struct.unpack_from("!II", p, cp)
                    self.w(f" val {tsval} ecr {tsecr}")
                elif opt in (0, 1, 4):
                    datalen = 0
                else:
                    datalen = olen - 2
                    for i in range(datalen):
                        need(i + 1)
                        self.w(f"{' 0x' if i == 0 else ''}{p[cp + i]:02x}")
                cp += datalen
                hlen -= datalen
                datalen += 1 if opt in (0, 1) else 2
                if datalen != olen:
                    self.w(f"[len {olen}]")
                ch = ","
                if opt == 0:
                    break
        except _BadOpt:
            self.w("[bad opt]")
            if ch:
                self.w("]")
            raise Stop from None
        except Trunc:
            raise

    def txtproto(self, data: bytes, length: int, name: str, http: bool = False) -> None:
        """print-txtproto: the protocol name, then the first line (all lines with -v)."""
        data = data[:length]
        complete = len(data) >= length
        show = not http
        if http:
            tok, idx = _fetch_token(data, 0, complete)
            if tok is not None:
                if tok.upper() in _HTTP_CMDS:
                    show = True
                tok, idx = _fetch_token(data, idx, complete)
                if tok is not None and len(tok) == 3 and tok.isdigit():
                    show = True
        self.w(name)
        if not show:
            return
        proto = name.lower()
        if self.v:
            self.w(f", length: {length}")
            idx = 0
            while idx < len(data):
                line, nxt = _txt_line(data, idx)
                if line is None:
                    break
                if nxt is None:
                    if not complete:
                        raise Trunc(proto, jump=True)
                    self.w("\n\t" + line)
                    raise Trunc(proto, jump=True)
                self.w("\n\t" + line)
                idx = nxt
        else:
            line, nxt = _txt_line(data, 0)
            if line is not None:
                if nxt is None and not complete:
                    raise Trunc(proto, jump=True)
                self.w(": " + line)
                if nxt is None:
                    raise Trunc(proto, jump=True)

    def ssh(self, data: bytes) -> None:
        if not data.startswith(b"SSH-"):
            return
        for i in range(4, len(data)):
            c = data[i]
            if c == 0x0A or (c == 0x0D and data[i + 1 : i + 2] == b"\n"):
                self.w(": SSH: " + data[:i].decode("ascii"))
                return
            if c == 0x0D or not printable(c):
                return


class _BadOpt(Exception):
    pass


def _fn_char(c: int) -> str:
    """fn_print_char(): ``M-`` for 8-bit bytes, ``^X`` for control characters."""
    out = ""
    if c >= 0x80:
        c &= 0x7F
        out = "M-"
    if not 0x20 <= c < 0x7F:
        return out + "^" + chr(c ^ 0x40)
    return out + chr(c)


def _fetch_token(data: bytes, idx: int, complete: bool) -> tuple[str | None, int]:
    """print-txtproto.c fetch_token(): the token at ``idx`` and where the next one starts (no
    token when it runs past the captured bytes)."""
    start = idx
    n = len(data)
    while True:
        if idx >= n:
            if not complete:
                return None, idx
            break
        c = data[idx]
        if c >= 0x80:
            return None, idx
        if c in b" \t\r\n":
            break
        if not printable(c) or idx - start >= 127:
            return None, idx
        idx += 1
    if idx == start:
        return None, idx
    tok = data[start:idx].decode("ascii")
    while idx < n:
        c = data[idx]
        if c in b"\r\n" or not printable(c) or c not in b" \t":
            break
        idx += 1
    return tok, idx


def _txt_line(data: bytes, idx: int) -> tuple[str | None, int | None]:
    """print_txt_line(): (line, index after it); (line, None) when cut; (None, _) for binary."""
    start = idx
    n = len(data)
    while idx < n:
        c = data[idx]
        if c == 0x0A:
            return data[start:idx].decode("ascii"), idx + 1
        if c == 0x0D:
            if idx + 1 >= n:
                return None, None
            if data[idx + 1] == 0x0A:
                return data[start:idx].decode("ascii"), idx + 2
            return None, None
        if not printable(c) and c != 0x09:
            return None, None
        idx += 1
    return data[start:idx].decode("ascii"), None
