"""traceroute (2.1.2) in a lab: hops through two routers, stars, annotations, methods, the wait
rules and the command line, checked on the output and on the wire.

h1 - r1 - r2 - h2 as in test_ping_tool.py, with 10 ms of netem delay each way on the h1 - r1 link: a
probe's answer takes 20 ms, plus 20 ms for ARP on a fresh lab.
"""

from __future__ import annotations

import struct

import pytest
from test_ping_tool import H2, R1A, R2A, Tap, make_lab, run

HDR = "traceroute to 10.0.2.2 (10.0.2.2), 30 hops max, 60 byte packets"
THREE_HOPS_40 = [f" 1  {R1A}  40.000 ms  40.000 ms  40.000 ms", f" 2  {R2A}  40.000 ms  40.000 ms  40.000 ms",
                 f" 3  {H2}  40.000 ms  40.000 ms  40.000 ms", ""]


@pytest.fixture
def lab():
    return make_lab("10ms")


def udp_probes(tap: Tap) -> list[tuple[int, int, int]]:
    """(destination port, TTL, total length) of the UDP probes h1 sent."""
    return [(struct.unpack_from("!H", p, 22)[0], p[8], struct.unpack_from("!H", p, 2)[0])
            for p in tap.ip(True, 17)]


def test_three_hops_with_names_as_failed_lookups_print_them(lab):
    tap = Tap(lab.host("h1").dev("eth0"))
    rc, lines, took = run(lab, "traceroute 10.0.2.2")
    assert lines == [HDR,
                     f" 1  {R1A} ({R1A})  40.000 ms  40.000 ms  40.000 ms",
                     f" 2  {R2A} ({R2A})  40.000 ms  40.000 ms  40.000 ms",
                     f" 3  {H2} ({H2})  40.000 ms  40.000 ms  40.000 ms", ""]
    assert rc == 0 and took == pytest.approx(0.040)
    # 16 probes at once (-N 16), one port each from 33434, three per TTL, 60 bytes
    probes = udp_probes(tap)
    assert probes == [(33434 + i, i // 3 + 1, 60) for i in range(16)]


def test_numeric_queries_first_hop_port_and_packet_length(lab):
    tap = Tap(lab.host("h1").dev("eth0"))
    rc, lines, _ = run(lab, "traceroute -n -q 1 -f 2 -p 5000 10.0.2.2 100")
    assert lines == ["traceroute to 10.0.2.2 (10.0.2.2), 30 hops max, 100 byte packets",
                     f" 2  {R2A}  40.000 ms", f" 3  {H2}  40.000 ms", ""]
    assert udp_probes(tap)[:3] == [(5000, 2, 100), (5001, 3, 100), (5002, 4, 100)]
    lab.run(10)  # let h2's ICMP rate limit refill
    rc, lines, _ = run(lab, "traceroute -n -m 2 10.0.2.2 10")
    assert lines == ["traceroute to 10.0.2.2 (10.0.2.2), 2 hops max, 28 byte packets",
                     f" 1  {R1A}  20.000 ms  20.000 ms  20.000 ms",
                     f" 2  {R2A}  20.000 ms  20.000 ms  20.000 ms", ""]


def test_silent_hop_and_the_adaptive_wait(lab):
    # r1 answers nothing: its per-destination ICMP bucket needs 1000 s per token
    lab.node("r1").cmd("sysctl -qw net.ipv4.icmp_ratelimit=1000000", check=True)
    rc, lines, took = run(lab, "traceroute -n 10.0.2.2")
    assert lines[1:4] == [" 1  * * *", f" 2  {R2A}  40.000 ms  40.000 ms  40.000 ms",
                          f" 3  {H2}  40.000 ms  40.000 ms  40.000 ms"]
    # NEAR: hop 1 expires 10 x (40 ms + 1 ms) after sending, not after 5 s
    assert rc == 0 and took == pytest.approx(0.41, abs=0.0011)  # poll() rounds up to whole ms
    lab.run(10)
    rc, lines, took = run(lab, "traceroute -n -w 2 10.0.2.2")
    assert lines[1] == " 1  * * *" and took == pytest.approx(2.0, abs=0.0011)  # -w MAX alone: HERE = NEAR = 0
    lab.run(10)
    rc, lines, took = run(lab, "traceroute -n -w 2,3,5 10.0.2.2")
    assert lines[1] == " 1  * * *" and took == pytest.approx(5 * 0.021, abs=0.0011)  # ARP known: 20 ms


def test_blackholed_path_stars_to_max_ttl(lab):
    lab.node("r2").cmd("ip route add blackhole 10.0.7.0/24", check=True)
    lab.node("r1").cmd("ip route add 10.0.7.0/24 via 10.0.3.2", check=True)
    rc, lines, took = run(lab, "traceroute -n -w 1 -m 4 10.0.7.1")
    assert lines == ["traceroute to 10.0.7.1 (10.0.7.1), 4 hops max, 60 byte packets",
                     f" 1  {R1A}  40.000 ms  40.000 ms  40.000 ms", " 2  * * *", " 3  * * *", " 4  * * *", ""]
    assert rc == 0 and took == pytest.approx(1.0)


@pytest.mark.parametrize(("route", "dst", "mark"), [
    ("unreachable 10.0.9.0/24", "10.0.9.1", "!H"),
    ("prohibit 10.0.9.0/24", "10.0.9.1", "!X"),
    (None, "10.0.9.1", "!N"),  # no route at all on r1: net unreachable
])
def test_unreachable_annotations_end_the_trace(lab, route, dst, mark):
    if route:
        lab.node("r1").cmd(f"ip route add {route}", check=True)
    rc, lines, _ = run(lab, f"traceroute -n -q 2 {dst}")
    assert lines[1:] == [f" 1  {R1A}  40.000 ms {mark}  40.000 ms {mark}", ""] and rc == 0


def test_frag_needed_and_mtu_discovery():
    lab = make_lab()
    lab.node("r2").cmd("ip link set eth1 mtu 1280", check=True)
    lab.node("h2").cmd("ip link set eth0 mtu 1280", check=True)
    rc, lines, _ = run(lab, "traceroute -n -F 10.0.2.2 1400")
    assert lines[1:] == [f" 1  {R1A}  0.000 ms  0.000 ms  0.000 ms",
                         f" 2  {R2A}  0.000 ms  0.000 ms  0.000 ms",
                         f" 3  {R2A}  0.000 ms !F-1280  0.000 ms !F-1280  0.000 ms !F-1280", ""]
    lab = make_lab()  # fresh: no PMTU learned yet
    lab.node("r2").cmd("ip link set eth1 mtu 1280", check=True)
    lab.node("h2").cmd("ip link set eth0 mtu 1280", check=True)
    rc, lines, _ = run(lab, "traceroute -n --mtu 10.0.2.2")
    assert lines == ["traceroute to 10.0.2.2 (10.0.2.2), 30 hops max, 65000 byte packets",
                     f" 1  {R1A}  0.000 ms F=1500  0.000 ms  0.000 ms",
                     f" 2  {R2A}  0.000 ms  0.000 ms  0.000 ms",
                     f" 3  {H2}  0.000 ms F=1280  0.000 ms  0.000 ms", ""]


def test_icmp_method(lab):
    tap = Tap(lab.host("h1").dev("eth0"))
    rc, lines, _ = run(lab, "traceroute -I -n 10.0.2.2")
    assert lines[1:] == THREE_HOPS_40
    echoes = [p for p in tap.ip(True, 1) if p[20] == 8]
    ids = {struct.unpack_from("!H", p, 24)[0] for p in echoes}
    assert len(ids) == 1 and [(struct.unpack_from("!H", p, 26)[0], p[8]) for p in echoes] == [
        (i + 1, i // 3 + 1) for i in range(16)]
    assert all(struct.unpack_from("!H", p, 2)[0] == 60 for p in echoes)


def test_tcp_syn_method(lab):
    tap = Tap(lab.host("h1").dev("eth0"))
    rc, lines, _ = run(lab, "traceroute -T -n 10.0.2.2")
    assert lines[1:] == THREE_HOPS_40
    syns = [p for p in tap.ip(True, 6) if p[20 + 13] == 0x02]
    assert len(syns) == 16 and {struct.unpack_from("!H", p, 22)[0] for p in syns} == {80}
    assert len({struct.unpack_from("!H", p, 20)[0] for p in syns}) == 16  # a held port each
    # MSS from the route's MTU, then SACK-permitted+timestamps and window scaling (the tcp_* sysctls)
    opts = syns[0][40:60]
    assert opts[:4] == b"\x02\x04\x05\xb4" and opts[4:8] == b"\x04\x02\x08\x0a"
    assert opts[16:] == b"\x01\x03\x03\x02"


def test_fixed_port_method_and_sendwait(lab):
    tap = Tap(lab.host("h1").dev("eth0"))
    t0 = lab.now
    times: list[int] = []
    lab.host("h1").dev("eth0").taps.append(
        lambda skb, out: out and skb.mac_bytes()[23] == 17 and times.append(lab.now - t0))
    rc, lines, _ = run(lab, "traceroute -U -n -q 1 -z 50 10.0.2.2")
    assert lines[1:] == [f" 1  {R1A}  40.000 ms", f" 2  {R2A}  20.000 ms", f" 3  {H2}  20.000 ms", ""]
    assert {d for d, _, _ in udp_probes(tap)} == {53}
    # -z 50 (more than 10: milliseconds): probes are sent at 0, 51 and 102 ms (50 ms apart, poll()
    # rounding the float wait up to the next ms); the wire sees them 10 ms later (netem), the first
    # 20 ms later still (ARP)
    ms = [round(t / 1e6) for t in times]
    assert ms == [30, 61, 112]


def test_one_probe_at_a_time(lab):
    rc, lines, took = run(lab, "traceroute -n -N 1 10.0.2.2")
    assert lines[1:] == [f" 1  {R1A}  40.000 ms  20.000 ms  20.000 ms",
                         f" 2  {R2A}  20.000 ms  20.000 ms  20.000 ms",
                         f" 3  {H2}  20.000 ms  20.000 ms  20.000 ms", ""]
    assert took == pytest.approx(0.040 + 8 * 0.020)


def test_interrupted(lab):
    lab.node("r1").cmd("ip route add blackhole 10.0.7.0/24", check=True)
    rc, lines, took = run(lab, "timeout 2 traceroute -n 10.0.7.1")
    assert rc == 124 and took == pytest.approx(2.0)
    assert lines == ["traceroute to 10.0.7.1 (10.0.7.1), 30 hops max, 60 byte packets"]


@pytest.mark.parametrize(("cmd", "text"), [
    ("traceroute -x 10.0.2.2", "Bad option `-x' (argc 1)\n"),
    ("traceroute --foo 10.0.2.2", "Bad option `--foo' (argc 1)\n"),
    ("traceroute -q", "Option `-q' (argc 1) requires an argument: `-q nqueries'\n"),
    ("traceroute --queries 2 10.0.2.2",
     "Option `--queries' (argc 1) requires an argument: `--queries=nqueries'\n"),
    ("traceroute -q abc 10.0.2.2", "Cannot handle `-q' option with arg `abc' (argc 2)\n"),
    ("traceroute -n -w abc 10.0.2.2", "Cannot handle `-w' option with arg `abc' (argc 3)\n"),
    ("traceroute 10.0.2.2 60 70", "Extra arg `70' (position 3, argc 3)\n"),
    ("traceroute 10.0.2.2 abc", "Cannot handle \"packetlen\" cmdline arg `abc' on position 2 (argc 2)\n"),
    ("traceroute nosuch", "nosuch: Name or service not known\n"
                          "Cannot handle \"host\" cmdline arg `nosuch' on position 1 (argc 1)\n"),
    ("traceroute -q 11 10.0.2.2", "no more than 10 probes per hop\n"),
    ("traceroute -m 300 10.0.2.2", "max hops cannot be more than 255\n"),
    ("traceroute -f 5 -m 3 10.0.2.2", "first hop out of range\n"),
    ("traceroute -w -1 10.0.2.2", "bad wait specifications `-1,0,0' used\n"),
    ("traceroute 10.0.2.2 70000", "too big packetlen 70000 specified\n"),
])
def test_command_line_errors_as_clif_words_them(lab, cmd, text):
    assert lab.node("h1").cmd_rc(cmd) == (2, text)


def test_help_version_and_runtime_errors(lab):
    rc, out = lab.node("h1").cmd_rc("traceroute")
    assert rc == 0 and out.startswith("Usage:\n  traceroute [ -46dFITnreAUDV ] [ -f first_ttl ]")
    assert lab.node("h1").cmd_rc("traceroute -V") == (0, "Modern traceroute for Linux, version 2.1.2\n"
                                                         "Copyright (c) 2016  Dmitry Butskoy,   License: "
                                                         "GPL v2 or any later\n")
    assert lab.node("h1").cmd_rc("traceroute -n -s 10.9.9.9 10.0.2.2") == (
        1, HDR + "\nbind: Cannot assign requested address\n")
    assert lab.node("h1").cmd_rc("traceroute -n -i eth9 10.0.2.2") == (
        1, HDR + "\nsetsockopt SO_BINDTODEVICE: No such device\n")
