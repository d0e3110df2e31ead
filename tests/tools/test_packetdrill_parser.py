"""The packetdrill script parser: the whole shared corpus parses, and representative lines give the
AST packetdrill's grammar defines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tuxnet.tools.packetdrill import (
    LINUX_IPV4_DEFINES,
    Binary,
    Code,
    Command,
    EllipsisExpr,
    Epollev,
    Event,
    EventTime,
    GreEncap,
    IcmpEchoed,
    IcmpPacket,
    Int,
    Iovec,
    IpEncap,
    IpInfo,
    Linger,
    ListExpr,
    MplsEncap,
    MplsEntry,
    Msghdr,
    Option,
    PacketdrillSyntaxError,
    Pollfd,
    Sockaddr,
    Str,
    Syscall,
    TcpOption,
    TcpPacket,
    UdpPacket,
    Word,
    parse_file,
    parse_script,
    tokenize,
)

CORPUS = Path(
    os.environ.get(
        "TUXNET_PACKETDRILL_CORPUS",
        Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "packetdrill",
    )
)
CORPUS_FILES = sorted(CORPUS.rglob("*.pkt")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS_FILES, reason=f"packetdrill corpus not found at {CORPUS}")


def one(line: str, **kw: object) -> Event:
    """Parse a one-event script and return its event."""
    script = parse_script(line + "\n", "t.pkt", **kw)  # type: ignore[arg-type]
    assert len(script.events) == 1
    return script.events[0]


# --- the corpus -------------------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_script_parses(path):
    script = parse_file(path, LINUX_IPV4_DEFINES)
    assert script.events
    assert all(e.line > 0 for e in script.events)
    lines = [e.line for e in script.events]
    assert lines == sorted(lines)


@needs_corpus
def test_corpus_size_and_portable_list():
    assert len(CORPUS_FILES) >= 171
    portable = [ln.strip() for ln in (CORPUS / "portable.txt").read_text().splitlines() if ln.strip()]
    assert portable
    for rel in portable:
        assert (CORPUS / rel) in CORPUS_FILES, rel


@needs_corpus
def test_corpus_symbols_need_the_runner_defines():
    path = CORPUS / "google/gtests/net/tcp/fastopen/server/basic-rw.pkt"
    with pytest.raises(PacketdrillSyntaxError) as ei:
        parse_file(path)  # packetdrill itself needs -D TFO_COOKIE=... for this script
    assert ei.value.path == str(path) and ei.value.line == 10
    assert "TFO_COOKIE" in str(ei.value)
    syn = parse_file(path, LINUX_IPV4_DEFINES).events[4].action
    assert isinstance(syn, TcpPacket)
    assert syn.options[-1] == TcpOption("FOEXP", cookie=LINUX_IPV4_DEFINES["TFO_COOKIE"])


# --- golden ASTs --------------------------------------------------------------------------------------


def test_socket_call():
    e = one("    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3")
    assert e == Event(
        EventTime("absolute", 0),
        Syscall("socket", (EllipsisExpr(), Word("SOCK_STREAM"), Word("IPPROTO_TCP")), Int(3)),
    )


def test_errno_and_strerror():
    e = one("+.1 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)")
    assert e.time == EventTime("relative", 100_000)
    assert e.action == Syscall(
        "connect",
        (Int(3), EllipsisExpr(), EllipsisExpr()),
        Int(-1),
        errno="EINPROGRESS",
        strerror="Operation now in progress",
    )


def test_blocking_call_end_time_and_flags_or():
    e = one("+0...0.1 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK|0x10) = 0")
    assert e.action.end_usecs == 100_000
    assert e.action.args[2] == Binary("|", Word("O_RDWR"), Binary("|", Word("O_NONBLOCK"), Int(16, hex=True)))


def test_structs():
    e = one("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0")
    assert e.action.args[3] == Linger(1, 0)
    e = one(
        '+0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0'
    )
    assert e.action.args[1] == Sockaddr("AF_INET", 8080, "192.0.2.1")
    e = one("+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1")
    assert e.action.args[0] == ListExpr(
        (Pollfd(Int(3), Binary("|", Word("POLLIN"), Word("POLLOUT")), Word("POLLOUT")),)
    )
    e = one("+0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 1")
    assert e.action.args[1] == Epollev(Word("EPOLLIN"), "fd", Int(4))
    e = one("+0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 10}, {..., 20}], msg_flags=0}, 0) = 30")
    assert e.action.args[1] == Msghdr(2, ListExpr((Iovec(10), Iovec(20))), Int(0))
    e = one("+0 setsockopt(3, SOL_TCP, TCP_X, {l_onoff=1, l_linger=0}, 8) = 0")  # generic brace list
    assert e.action.args[3] == ListExpr(
        (Binary("=", Word("l_onoff"), Int(1)), Binary("=", Word("l_linger"), Int(0))), brace=True
    )


def test_strings():
    e = one('+0 write(3, "abc" "def", 6) = 6')
    assert e.action.args[1] == Binary(".", Str("abc"), Str("def"))
    e = one('+0 getsockopt(3, SOL_TCP, TCP_CONGESTION, "cub"..., [16]) = 0')
    assert e.action.args[3] == Str("cub", ellipsis=True)


def test_inbound_syn_with_options():
    e = one("+0 < S 0:0(0) win 32792 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>")
    assert e.action == TcpPacket(
        "<",
        "S",
        0,
        0,
        0,
        win=32792,
        options=(
            TcpOption("mss", 1460),
            TcpOption("sackOK"),
            TcpOption("TS", val=100, ecr=0),
            TcpOption("nop"),
            TcpOption("wscale", 7),
        ),
    )


def test_outbound_data_with_ecn_and_unchecked_options():
    e = one("+0 > [ect0] P. 1:1001(1000) ack 1 <...>")
    assert e.action == TcpPacket(">", "P.", 1, 1001, 1000, ack=1, options=None, ip=IpInfo(ecn="ect0"))


def test_time_range_star_and_sack_blocks():
    e = one("+.1~+.105 > . 1:1(0) ack 1001 <nop,nop,sack 1001:2001 3001:4001>")
    assert e.time == EventTime("relative_range", 100_000, 105_000)
    assert e.action.options[2] == TcpOption("sack", blocks=((1001, 2001), (3001, 4001)))
    e = one("* > F. 1:1(0) ack 1")
    assert e.time == EventTime("any") and e.action.flags == "F."
    e = one("0.100~0.200 > R 1:1(0)")
    assert e.time == EventTime("absolute_range", 100_000, 200_000)


def test_other_tcp_fields_and_options():
    e = one("+0 < U. 1:101(100) ack 1 win 257 urg 100")
    assert (e.action.flags, e.action.urg) == ("U.", 100)
    e = one("+0 < - 1:1(0) win 100")
    assert e.action.flags == ""
    e = one("+0 < 8080 > 9090 S. 0:0(0) ack 1 win 100 <FO 0123abcd,eol,md5 000102,exp 0xf989 12>")
    assert (e.action.src_port, e.action.dst_port) == (8080, 9090)
    assert e.action.options == (
        TcpOption("FO", cookie="0123abcd"),
        TcpOption("eol"),
        TcpOption("md5", cookie="000102"),
        TcpOption("exp", args=("0xf989", "12")),  # unknown option: kept generic
    )


def test_udp_icmp_and_encapsulation():
    e = one("+0 < udp 1000 > 2000 (100)")
    assert e.action == UdpPacket("<", 100, src_port=1000, dst_port=2000)
    e = one("+.01 < icmp unreachable frag_needed mtu 1400 [1:1001(1000)]")
    assert e.action == IcmpPacket(
        "<", "unreachable", "frag_needed", mtu=1400, echoed=IcmpEchoed("tcp", 1, 1001, 1000)
    )
    e = one("+0 < icmp unreachable CODE [udp (10)]", defines=LINUX_IPV4_DEFINES)
    assert (e.action.icmp_code, e.action.echoed) == ("host_unreachable", IcmpEchoed("udp", 0, 0, 10))
    e = one(
        "+0 < ipv4 192.168.0.2 > 192.168.0.1: gre: mpls (label 123, tc 1, [S], ttl 255): . 1:1(0) ack 1 win 9"
    )
    assert e.action.encap == (
        IpEncap(4, "192.168.0.2", "192.168.0.1"),
        GreEncap(),
        MplsEncap((MplsEntry(123, 1, True, 255),)),
    )


def test_commands_code_options_and_comments():
    text = """// leading comment
--tolerance_usecs=10000
--local_ip=192.168.0.1
--ip_version=ipv6
--mss=1000
`./defaults.sh
sysctl -q net.ipv4.tcp_sack=0`
/* a block
   comment */
   0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3   // trailing comment
  +0 `echo hi`
  +0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
`cleanup`
"""
    s = parse_script(text, "c.pkt")
    assert s.options == (
        Option("tolerance_usecs", "10000"),
        Option("local_ip", "192.168.0.1"),
        Option("ip_version", "ipv6"),
        Option("mss", "1000"),
    )
    assert [o.line for o in s.options] == [2, 3, 4, 5]
    assert s.init_command == Command("./defaults.sh\nsysctl -q net.ipv4.tcp_sack=0")
    assert [e.line for e in s.events] == [10, 11, 12]
    assert s.events[1].action == Command("echo hi")
    assert s.events[2].action == Code("assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd")
    assert s.cleanup_command == Command("cleanup")


def test_define_option_substitutes_symbols():
    s = parse_script("--define=PROTO=IPPROTO_UDP\n0 socket(..., SOCK_DGRAM, PROTO) = 3\n", "d.pkt")
    assert s.options == (Option("define", "PROTO=IPPROTO_UDP"),)
    assert s.events[0].action.args[2] == Word("IPPROTO_UDP")


def test_times_are_microseconds_like_packetdrill():
    for text, usecs in (("0.095", 95_000), ("1.1", 1_100_000), (".3", 300_000), ("2", 2_000_000)):
        assert one(f"{text} close(3) = 0").time.usecs == usecs
        assert one(f"{text} close(3) = 0").time.usecs == int(float(text) * 1.0e6)


def test_lexer_longest_match():
    kinds = [t.kind for t in tokenize("ack acked 0x1f 1234 1e2f 192.0.2.1 fd::1 1:1001 ... .5 -1 --x")]
    assert kinds == [
        "ACK", "WORD", "HEX_INTEGER", "INTEGER", "WORD", "IPV4_ADDR", "IPV6_ADDR",
        "INTEGER", ":", "INTEGER", "ELLIPSIS", "FLOAT", "INTEGER", "OPTION", "EOF",
    ]  # fmt: skip


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S 0:0 ack 1\n", 2, "parse error at 'ack'"),
        ("0 socket(..., 1, 2) = 3\n\n+0 > P. 1:100(1000) ack 1\n", 3, "inconsistent TCP sequence numbers"),
        ("* < S 0:0(0) win 1\n", 1, "event time <star> can only be used with outbound packets"),
        ("+.2~+.1 > S 0:0(0)\n", 1, "time range is backwards"),
        ("0.1~0.2 close(3) = 0\n", 1, "time range can only be used with outbound packets"),
        ("+0 < S 0:0(0) win 1 <...>\n", 1, "<...> for TCP options can only be used with outbound"),
        ("+0 < S 0:0(0) win 1 <wscale 300>\n", 1, "window scale shift count out of range"),
        ("+0 < S 0:0(0) win 70000\n", 1, "TCP window value out of range"),
        ("+0 > . 1:1(0) <sack 1:2 3:4 5:6 7:8 9:10>\n", 1, "TCP option list too long"),
        ("+0 > S 0:0(0) <FO abc>\n", 1, "odd number of digits"),
        ("+0 < S 0:0(0) win 1 <md5 0g>\n", 1, "TCP MD5 digest is not a valid hex string"),
        ("/* never closed\n0 close(3) = 0\n", 1, "unterminated /* comment"),
        ("0 close(3) = 0\n`unterminated\n", 2, "unterminated `command`"),
        ("--mss=1000\n", 2, "expecting an event"),  # found end of file, after line 1's newline
        ("0 close(3) = 0\n`cleanup`\n+1 close(4) = 0\n", 3, "expecting an event time"),
    ],
)
def test_errors_name_file_and_line(text, line, fragment):
    with pytest.raises(PacketdrillSyntaxError) as ei:
        parse_script(text, "bad.pkt")
    err = ei.value
    assert (err.path, err.line) == ("bad.pkt", line)
    assert str(err).startswith(f"bad.pkt:{line}: ")
    assert fragment in str(err)
