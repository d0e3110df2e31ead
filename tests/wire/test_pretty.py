"""tcpdump's one-line decode: tuxnet's lines against Debian's tcpdump 4.99 on the same capture.

A capture of the traffic a lab produces (ARP, ping, traceroute and its ICMP errors, DNS, a TCP
connection with Linux's options, HTTP, fragments, VLAN, IP options, broadcast and multicast,
snaplen-truncated and short frames) is written with scapy and read back by ``tcpdump -r`` in
several modes (``-nn``, ``-e``, ``-v``, ``-X``, ``-A``); every packet's text must be the same.
Golden lines recorded from tcpdump 4.99.3 keep the checks when tcpdump is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.wire.pretty import (
    TcpdumpState,
    ascii_A,
    format_packet,
    format_timestamp,
    hexdump_X,
)

TCPDUMP = shutil.which("tcpdump")
needs_tcpdump = pytest.mark.skipif(
    TCPDUMP is None, reason="tcpdump is not installed (apt-get install tcpdump)"
)
M1, M2, M3 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"
A, B, R = "10.0.0.1", "10.0.0.2", "10.0.1.254"


def lab_frames() -> list[tuple[bytes, int]]:
    """(captured bytes, wire length) of frames like a lab's."""
    scapy = pytest.importorskip("scapy.all")
    from scapy.all import ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPOption_Router_Alert, IPOption_RR, Raw, raw
    from scapy.layers.dns import DNS, DNSQR, DNSRR

    assert scapy
    e12, e21 = Ether(src=M1, dst=M2), Ether(src=M2, dst=M1)
    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1000, 0)), ("NOP", None), ("WScale", 7)]
    synack_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (2000, 1000)), ("NOP", None), ("WScale", 7)]
    ts = [("NOP", None), ("NOP", None), ("Timestamp", (1010, 2000))]
    get = b"GET /index.html HTTP/1.1\r\nHost: h2\r\nUser-Agent: tuxnet\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    frames = [
        Ether(src=M1, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=M1, psrc=A, pdst=B),
        Ether(src=M1, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=M1, psrc=A, pdst=B) / Raw(b"\0" * 18),
        e21 / ARP(op=2, hwsrc=M2, psrc=B, hwdst=M1, pdst=A),
        Ether(src=M1, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=M1, psrc=A, pdst=A),
        e12 / ARP(op=1, hwsrc=M1, psrc=A, hwdst=M2, pdst=B),
        e12 / IP(src=A, dst=B, id=0x1234, flags="DF") / ICMP(type=8, id=77, seq=1) / Raw(bytes(range(56))),
        e21 / IP(src=B, dst=A, id=0x4321) / ICMP(type=0, id=77, seq=1) / Raw(bytes(range(56))),
        e12 / IP(src=A, dst=B, ttl=1, id=5) / UDP(sport=40001, dport=33434) / Raw(b"\0" * 32),
        e21
        / IP(src=R, dst=A, tos=0xC0)
        / ICMP(type=11, code=0)
        / IP(src=A, dst=B, ttl=1, id=5)
        / UDP(sport=40001, dport=33434, len=40, chksum=0x1234),
        e21
        / IP(src=B, dst=A, tos=0xC0)
        / ICMP(type=3, code=3)
        / IP(src=A, dst=B, id=6)
        / UDP(sport=40001, dport=33435, len=40),
        e21
        / IP(src=R, dst=A)
        / ICMP(type=3, code=4, nexthopmtu=1400)
        / IP(src=A, dst=B, id=7, flags="DF")
        / TCP(sport=40000, dport=80, flags="PA", seq=1),
        e21 / IP(src=R, dst=A) / ICMP(type=3, code=1) / IP(src=A, dst="10.9.9.9") / ICMP(type=8, id=1, seq=9),
        e21 / IP(src=R, dst=A) / ICMP(type=3, code=0) / IP(src=A, dst="10.9.9.9") / UDP(dport=53),
        e21 / IP(src=R, dst=A) / ICMP(type=3, code=13) / IP(src=A, dst=B) / TCP(sport=1, dport=22, flags="S"),
        e21 / IP(src=R, dst=A) / ICMP(type=5, code=1, gw="10.0.0.3") / IP(src=A, dst="10.9.9.9") / UDP(),
        e21 / IP(src=R, dst=A) / ICMP(type=12, ptr=21) / IP(src=A, dst=B) / UDP(),
        e12 / IP(src=A, dst=B) / UDP(sport=45000, dport=53) / DNS(id=4660, rd=1, qd=DNSQR(qname="h2.lab")),
        e21
        / IP(src=B, dst=A)
        / UDP(sport=53, dport=45000)
        / DNS(id=4660, qr=1, aa=1, rd=1, ra=1, qd=DNSQR(qname="h2.lab"), an=DNSRR(rrname="h2.lab", rdata=B)),
        e12
        / IP(src=A, dst=B)
        / UDP(sport=45001, dport=53)
        / DNS(id=2, rd=1, qd=DNSQR(qname="www.lab", qtype="AAAA")),
        e21
        / IP(src=B, dst=A)
        / UDP(sport=53, dport=45001)
        / DNS(
            id=2,
            qr=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname="www.lab", qtype="AAAA"),
            an=[
                DNSRR(rrname="www.lab", type="CNAME", rdata="h2.lab"),
                DNSRR(rrname="h2.lab", type="AAAA", rdata="2001:db8::2"),
            ],
        ),
        e21
        / IP(src=B, dst=A)
        / UDP(sport=53, dport=45002)
        / DNS(id=3, qr=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname="nope.lab")),
        e12
        / IP(src=A, dst=B)
        / UDP(sport=45003, dport=53)
        / DNS(id=4, rd=1, qd=DNSQR(qname="2.0.0.10.in-addr.arpa", qtype="PTR")),
        e21
        / IP(src=B, dst=A)
        / UDP(sport=53, dport=45003)
        / DNS(
            id=4,
            qr=1,
            aa=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname="2.0.0.10.in-addr.arpa", qtype="PTR"),
            an=DNSRR(rrname="2.0.0.10.in-addr.arpa", type="PTR", rdata="h2.lab"),
        ),
        e12
        / IP(src=A, dst=B)
        / UDP(sport=45004, dport=53)
        / DNS(id=5, rd=1, qd=DNSQR(qname="lab", qtype="MX")),
        e21
        / IP(src=B, dst=A)
        / UDP(sport=53, dport=45004)
        / DNS(
            id=5,
            qr=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname="lab", qtype="MX"),
            an=DNSRR(rrname="lab", type="MX", rdata=b"\x00\x0a\x04mail\x03lab\x00"),
        ),
        e12
        / IP(src=A, dst=B, flags="DF")
        / TCP(sport=40000, dport=80, flags="S", seq=3000000000, window=64240, options=syn_opts),
        e21
        / IP(src=B, dst=A, flags="DF")
        / TCP(
            sport=80, dport=40000, flags="SA", seq=12345, ack=3000000001, window=65160, options=synack_opts
        ),
        e12
        / IP(src=A, dst=B, flags="DF")
        / TCP(sport=40000, dport=80, flags="A", seq=3000000001, ack=12346, window=502, options=ts),
        e12
        / IP(src=A, dst=B, flags="DF")
        / TCP(sport=40000, dport=80, flags="PA", seq=3000000001, ack=12346, window=502, options=ts)
        / Raw(get),
        e21
        / IP(src=B, dst=A, flags="DF")
        / TCP(sport=80, dport=40000, flags="A", seq=12346, ack=3000000001 + len(get), window=509, options=ts),
        e21
        / IP(src=B, dst=A, flags="DF")
        / TCP(sport=80, dport=40000, flags="PA", seq=12346, ack=3000000001 + len(get), window=509, options=ts)
        / Raw(resp),
        e12
        / IP(src=A, dst=B, flags="DF")
        / TCP(
            sport=40000,
            dport=80,
            flags="A",
            seq=3000000001 + len(get),
            ack=12346 + len(resp),
            window=501,
            options=[("NOP", None), ("NOP", None), ("SAck", (12346 + 10, 12346 + 20))],
        ),
        e12
        / IP(src=A, dst=B, flags="DF")
        / TCP(
            sport=40000,
            dport=80,
            flags="FA",
            seq=3000000001 + len(get),
            ack=12346 + len(resp),
            window=501,
            options=ts,
        ),
        e21
        / IP(src=B, dst=A, flags="DF")
        / TCP(
            sport=80,
            dport=40000,
            flags="FA",
            seq=12346 + len(resp),
            ack=3000000002 + len(get),
            window=509,
            options=ts,
        ),
        e12
        / IP(src=A, dst=B, flags="DF")
        / TCP(
            sport=40000,
            dport=80,
            flags="A",
            seq=3000000002 + len(get),
            ack=12347 + len(resp),
            window=501,
            options=ts,
        ),
        e12 / IP(src=A, dst=B) / TCP(sport=40100, dport=7, flags="S", seq=1),
        e21 / IP(src=B, dst=A) / TCP(sport=7, dport=40100, flags="RA", seq=0, ack=2, window=0),
        e12
        / IP(src=A, dst=B)
        / TCP(sport=40101, dport=22, flags="PA", seq=5, ack=6)
        / Raw(b"SSH-2.0-tuxnet_1.0\r\n"),
        e12 / IP(src=A, dst=B) / TCP(sport=40102, dport=9000, flags="PA", seq=5, ack=6) / Raw(b"x" * 100),
        e12 / IP(src=A, dst=B) / TCP(sport=40103, dport=8080, flags="PA", seq=5, ack=6) / Raw(b"\x00binary"),
        e12 / IP(src=A, dst=B, tos=0x10) / TCP(sport=40104, dport=9001, flags="SEC", seq=77, window=1024),
        e12
        / IP(src=A, dst=B)
        / TCP(sport=40105, dport=9002, flags="UA", seq=1, ack=1, urgptr=3)
        / Raw(b"abc"),
        e12
        / IP(src=A, dst=B)
        / TCP(
            sport=40106,
            dport=9003,
            flags="A",
            seq=1,
            ack=1,
            options=[("WScale", 14), ("MSS", 536), (99, b"\x00\x01"), ("EOL", None)],
        ),
        e12 / IP(src=A, dst=B) / TCP(sport=40107, dport=9004, flags="A", chksum=0xBEEF),
        e12
        / IP(src=A, dst=B, id=999, flags="MF", proto=17)
        / Raw(struct.pack("!HHHH", 5000, 6000, 2008, 0) + b"F" * 1472),
        e12 / IP(src=A, dst=B, id=999, frag=185, proto=17) / Raw(b"G" * 528),
        e12
        / IP(src=A, dst=B, id=1000, flags="MF", proto=1)
        / Raw(b"\x08\x00\x00\x00\x00\x01\x00\x01" + b"p" * 32),
        e12 / IP(src=A, dst=B, id=1000, frag=5, proto=1) / Raw(b"p" * 24),
        Ether(src=M1, dst=M2) / Dot1Q(vlan=10, prio=5) / IP(src=A, dst=B) / ICMP(id=9, seq=9),
        Ether(src=M1, dst=M2) / Dot1Q(vlan=20) / ARP(hwsrc=M1, psrc=A, pdst=B),
        e12 / IP(src=A, dst=B, options=[IPOption_RR(routers=["0.0.0.0"] * 3)]) / ICMP(id=1, seq=1),
        e12
        / IP(src=A, dst="224.0.0.22", ttl=1, options=[IPOption_Router_Alert()])
        / Raw(b"\x22\0\0\0\0\0\0\0"),
        Ether(src=M1, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=A, dst="10.0.0.255")
        / UDP(sport=5200, dport=9)
        / Raw(b"r"),
        Ether(src=M1, dst="01:00:5e:00:00:01") / IP(src=A, dst="224.0.0.1", ttl=1) / UDP(sport=1, dport=2),
        e12 / IP(src=A, dst=B, proto=99) / Raw(b"z" * 13),
        e12 / IP(src=A, dst=B, chksum=0x1111) / ICMP(id=3, seq=3),
        e12 / IP(src=A, dst=B) / ICMP(id=3, seq=4, chksum=0x2222),
        e12 / IP(src=A, dst=B) / UDP(sport=7, dport=7, len=50) / Raw(b"short"),
        e12 / IP(src=A, dst=B) / UDP(sport=9, dport=9) / Raw(b"discard me"),
        Ether(src=M1, dst=M2, type=0x88B5) / Raw(b"experimental payload 0123456789"),
    ]
    out = [(raw(f), len(raw(f))) for f in frames]
    syn = raw(frames[25])
    get_seg = raw(frames[28])
    out += [(syn[:n], len(syn)) for n in (10, 20, 30, 37, 45, 54, 60, 70)]  # snaplen cuts
    out += [(syn[:n], n) for n in (20, 36, 54)]  # frames genuinely short
    out += [(get_seg[:80], len(get_seg)), (raw(frames[5])[:40], len(raw(frames[5])))]
    return out


def write_pcap(path: Path, frames: list[tuple[bytes, int]]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        for i, (data, wirelen) in enumerate(frames):
            f.write(struct.pack("<IIII", 3600 * 5 + i, 123456789 + i * 1000, len(data), wirelen))
            f.write(data)


def tcpdump_packets(pcap: Path, *opts: str) -> list[str]:
    """tcpdump's text for each packet (continuation lines joined with newlines)."""
    env = dict(os.environ, TZ="UTC")
    r = subprocess.run([TCPDUMP, "-r", str(pcap), *opts], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    packets: list[str] = []
    for line in r.stdout.split("\n"):
        if re.match(r"\d\d:\d\d:\d\d\.\d{6} ", line):
            packets.append(line)
        elif packets:
            packets[-1] += "\n" + line
    return [p[:-1] if p.endswith("\n") else p for p in packets]


MODES = {
    "nn": ("-nn",),
    "e": ("-nn", "-e"),
    "v": ("-nn", "-v"),
    "ev": ("-nn", "-e", "-v"),
    "X": ("-nn", "-X"),
    "XX": ("-nn", "-XX"),
    "A": ("-nn", "-A"),
}


def tuxnet_packets(frames: list[tuple[bytes, int]], mode: str) -> list[str]:
    state = TcpdumpState()
    out = []
    for i, (data, wirelen) in enumerate(frames):
        ts = (3600 * 5 + i) * 1_000_000_000 + 123456789 + i * 1000
        text = format_packet(
            data,
            ts_ns=ts,
            link="e" in mode,
            verbose=mode.count("v"),
            state=state,
            wirelen=wirelen,
            hex_ascii=mode.count("X"),
            ascii=mode.count("A"),
        )
        out.append(text)
    return out


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[bytes, int]]]:
    frames = lab_frames()
    path = tmp_path_factory.mktemp("pretty") / "lab.pcap"
    write_pcap(path, frames)
    return path, frames


@needs_tcpdump
@pytest.mark.parametrize("mode", sorted(MODES))
def test_same_text_as_tcpdump(capture: tuple[Path, list[tuple[bytes, int]]], mode: str) -> None:
    path, frames = capture
    real = tcpdump_packets(path, *MODES[mode])
    mine = tuxnet_packets(frames, mode)
    assert len(real) == len(mine)
    diffs = [
        f"#{i}\n  tcpdump: {r!r}\n  tuxnet:  {m!r}"
        for i, (r, m) in enumerate(zip(real, mine, strict=True))
        if r.rstrip() != m.rstrip()
    ]
    assert not diffs, f"{len(diffs)} of {len(real)} packets differ (-{mode}):\n" + "\n".join(diffs[:8])


# Lines recorded from tcpdump 4.99.3 -nn on this capture (checked above when tcpdump is here).
GOLDEN = {
    0: "05:00:00.123456 ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28",
    1: "05:00:01.123457 ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 46",
    2: "05:00:02.123458 ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28",
    5: "05:00:05.123461 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 77, seq 1, length 64",
    8: "05:00:08.123464 IP 10.0.1.254 > 10.0.0.1: ICMP time exceeded in-transit, length 36",
    9: "05:00:09.123465 IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 33435 unreachable, length 36",
    10: "05:00:10.123466 IP 10.0.1.254 > 10.0.0.1: ICMP 10.0.0.2 unreachable - need to frag (mtu 1400), "
    "length 48",
    16: "05:00:16.123472 IP 10.0.0.1.45000 > 10.0.0.2.53: 4660+ A? h2.lab. (24)",
    17: "05:00:17.123473 IP 10.0.0.2.53 > 10.0.0.1.45000: 4660* 1/0/0 A 10.0.0.2 (46)",
    25: "05:00:25.123481 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 3000000000, win 64240, "
    "options [mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7], length 0",
    26: "05:00:26.123482 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 12345, ack 3000000001, win 65160, "
    "options [mss 1460,sackOK,TS val 2000 ecr 1000,nop,wscale 7], length 0",
    27: "05:00:27.123483 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, "
    "options [nop,nop,TS val 1010 ecr 2000], length 0",
    28: "05:00:28.123484 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1:59, ack 1, win 502, "
    "options [nop,nop,TS val 1010 ecr 2000], length 58: HTTP: GET /index.html HTTP/1.1",
    44: "05:00:44.123500 IP 10.0.0.1.5000 > 10.0.0.2.6000: UDP, length 2000",
    45: "05:00:45.123501 IP 10.0.0.1 > 10.0.0.2: ip-proto-17",
}


def test_golden_lines() -> None:
    frames = lab_frames()
    mine = tuxnet_packets(frames, "nn")
    for i, line in GOLDEN.items():
        assert mine[i] == line, i


def test_link_and_verbose_forms() -> None:
    frames = lab_frames()
    e = tuxnet_packets(frames, "e")
    assert e[5].startswith(
        "05:00:05.123461 02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv4 (0x0800), "
        "length 98: 10.0.0.1 > 10.0.0.2: ICMP echo request"
    )
    v = tuxnet_packets(frames, "v")
    assert (
        v[5]
        .split("\n")[0]
        .endswith("IP (tos 0x0, ttl 64, id 4660, offset 0, flags [DF], proto ICMP (1), length 84)")
    )


def test_relative_sequence_numbers_need_state() -> None:
    frames = lab_frames()
    data = frames[27][0]
    assert "ack 12346," in format_packet(data)  # no state: absolute, as tcpdump -S
    st = TcpdumpState()
    format_packet(frames[26][0], state=st)
    assert "ack 1," in format_packet(data, state=st)


def test_timestamp_is_time_of_day() -> None:
    assert format_timestamp(0) == "00:00:00.000000"
    assert format_timestamp(86400 * 10**9 + 3_723_000_001_999) == "01:02:03.000001"


def test_hexdump_and_ascii_forms() -> None:
    frame = bytes.fromhex("0200000000020200000000010800") + b"hello world\r\nline2\x00"
    assert (
        hexdump_X(frame) == "\t0x0000:  6865 6c6c 6f20 776f 726c 640d 0a6c 696e  hello.world..lin\n"
        "\t0x0010:  6532 00                                  e2."
    )
    assert ascii_A(frame) == "hello world\nline2."


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 3), st.booleans())
def test_fuzz_never_raises(frame: bytes, verbose: int, link: bool) -> None:
    st_ = TcpdumpState()
    format_packet(frame, ts_ns=1, verbose=verbose, link=link, state=st_)
    format_packet(frame, numeric=False, wirelen=len(frame) + 10)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 60),
    st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), max_size=8),
    st.integers(0, 3),
)
def test_fuzz_mutated_lab_frames_never_raise(index: int, flips: list[tuple[int, int]], verbose: int) -> None:
    frames = _FRAMES_CACHE or _FRAMES_CACHE.extend(lab_frames()) or _FRAMES_CACHE
    data = bytearray(frames[index % len(frames)][0])
    for pos, val in flips:
        if pos < len(data):
            data[pos] = val
    format_packet(bytes(data), verbose=verbose, state=TcpdumpState())


_FRAMES_CACHE: list[tuple[bytes, int]] = []
