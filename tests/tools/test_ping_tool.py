"""ping (iputils 20221126) in a lab: output lines, summaries, errors and packets on the wire.

The lab is h1 - r1 - r2 - h2 (10.0.1.0/24, 10.0.3.0/24, 10.0.2.0/24), the same addresses as the
network namespaces of test_ping_kernel.py; the expected texts follow what the real ping printed
there (Linux 6.18), with times coming from the links' netem delays in virtual time.
"""

from __future__ import annotations

import io
import shlex
import struct

import pytest

from tuxnet.lab.lab import Lab
from tuxnet.tools import run_argv
from tuxnet.tools.ping_common import c_g, format_triptime, llsqrt

H1, R1A, R1B, R2A, R2B, H2 = "10.0.1.2", "10.0.1.1", "10.0.3.1", "10.0.3.2", "10.0.2.1", "10.0.2.2"


def make_lab(delay: str | None = None, seed: int = 1, **impair: str) -> Lab:
    """h1 - r1 - r2 - h2; ``delay``/``impair`` (netem, both directions) on the h1 - r1 link."""
    lab = Lab(seed)
    for n in ("h1", "r1", "r2", "h2"):
        lab.add_host(n)
    imp = dict(impair)
    if delay:
        imp["delay"] = delay
    lab.add_link("h1", "eth0", "r1", "eth0", impair=imp or None)
    lab.add_link("r1", "eth1", "r2", "eth0")
    lab.add_link("r2", "eth1", "h2", "eth0")
    for node, cmd in (("h1", "ip addr add 10.0.1.2/24 dev eth0"), ("h1", "ip route add default via 10.0.1.1"),
                      ("r1", "ip addr add 10.0.1.1/24 dev eth0"), ("r1", "ip addr add 10.0.3.1/24 dev eth1"),
                      ("r2", "ip addr add 10.0.3.2/24 dev eth0"), ("r2", "ip addr add 10.0.2.1/24 dev eth1"),
                      ("h2", "ip addr add 10.0.2.2/24 dev eth0"), ("h2", "ip route add default via 10.0.2.1"),
                      ("r1", "ip route add 10.0.2.0/24 via 10.0.3.2"),
                      ("r2", "ip route add 10.0.1.0/24 via 10.0.3.1"),
                      ("r1", "sysctl -qw net.ipv4.ip_forward=1"), ("r2", "sysctl -qw net.ipv4.ip_forward=1")):
        lab.node(node).cmd(cmd, check=True)
    return lab


def run(lab: Lab, cmd: str, node: str = "h1") -> tuple[int, list[str], float]:
    """(exit code, output lines, virtual seconds the command took)."""
    t0 = lab.now
    rc, out = lab.node(node).cmd_rc(cmd)
    return rc, out.split("\n"), (lab.now - t0) / 1e9


def background(lab: Lab, node: str, cmd: str):
    """Start a command on ``node`` without waiting: (task, its output buffer)."""
    buf = io.StringIO()
    task = lab.loop.create_task(run_argv(lab.host(node), shlex.split(cmd), buf, buf))
    return task, buf


class Tap:
    """IPv4 packets seen on a device: (outgoing, ip header bytes + payload)."""

    def __init__(self, dev) -> None:
        self.pkts: list[tuple[bool, bytes]] = []
        dev.taps.append(lambda skb, out: self.pkts.append((out, skb.mac_bytes()[14:])))

    def ip(self, outgoing: bool, proto: int | None = None) -> list[bytes]:
        return [p for o, p in self.pkts if o == outgoing and len(p) >= 20 and p[0] >> 4 == 4
                and (proto is None or p[9] == proto)]


@pytest.fixture
def lab() -> Lab:
    return make_lab("10ms")


def test_replies_rtt_and_summary(lab):
    rc, lines, took = run(lab, "ping -c 3 10.0.2.2")
    # the first probe waits for ARP across the delayed link (20 ms), the others take 2 x 10 ms
    assert lines == [
        "PING 10.0.2.2 (10.0.2.2) 56(84) bytes of data.",
        "64 bytes from 10.0.2.2: icmp_seq=1 ttl=62 time=40.0 ms",
        "64 bytes from 10.0.2.2: icmp_seq=2 ttl=62 time=20.0 ms",
        "64 bytes from 10.0.2.2: icmp_seq=3 ttl=62 time=20.0 ms",
        "",
        "--- 10.0.2.2 ping statistics ---",
        "3 packets transmitted, 3 received, 0% packet loss, time 2000ms",
        "rtt min/avg/max/mdev = 20.000/26.666/40.000/9.428 ms",
        "",
    ]
    assert rc == 0 and took == pytest.approx(2.020)  # the last reply ends it


def test_iputils_arithmetic():
    # gather_statistics' time formats: 3 significant digits
    assert [format_triptime(t) for t in (53, 999, 1234, 9994, 9995, 10249, 99949, 99950, 123456)] == [
        " time=0.053 ms", " time=0.999 ms", " time=1.23 ms", " time=9.99 ms", " time=10.0 ms",
        " time=10.2 ms", " time=99.9 ms", " time=100 ms", " time=123 ms"]
    assert [c_g(x) for x in (0.0, 100.0, 100 / 3, 2 / 3 * 100)] == ["0", "100", "33.3333", "66.6667"]
    assert [llsqrt(x) for x in (0, 1, 88888888, 10**12)] == [0, 1, 9428, 10**6]


def test_record_route_and_same_route(lab):
    rc, lines, _ = run(lab, "ping -c 2 -R 10.0.2.2")
    assert lines[0] == "PING 10.0.2.2 (10.0.2.2) 56(124) bytes of data."
    assert lines[1:12] == [
        "64 bytes from 10.0.2.2: icmp_seq=1 ttl=62 time=40.0 ms",
        f"RR: \t{H1}", f"\t{R1B}", f"\t{R2B}", f"\t{H2}", f"\t{H2}", f"\t{R2A}", f"\t{R1A}", f"\t{H1}", "",
        "64 bytes from 10.0.2.2: icmp_seq=2 ttl=62 time=20.0 ms\t(same route)"]
    assert rc == 0


def test_ttl_exceeded_errors_and_exit_1(lab):
    rc, lines, _ = run(lab, "ping -c 2 -t 2 -i 0.2 10.0.2.2")
    assert lines == [
        "PING 10.0.2.2 (10.0.2.2) 56(84) bytes of data.",
        f"From {R2A} icmp_seq=1 Time to live exceeded",
        f"From {R2A} icmp_seq=2 Time to live exceeded",
        "",
        "--- 10.0.2.2 ping statistics ---",
        "2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 200ms",
        "", ""]
    assert rc == 1


def test_unresolved_neighbour_is_host_unreachable_after_3_s_pipe(lab):
    rc, lines, took = run(lab, "ping -c 5 -i 0.5 10.0.1.99")
    assert lines[1:6] == [f"From {H1} icmp_seq={i} Destination Host Unreachable" for i in range(1, 6)]
    # ARP gives up after 3 solicitations a second apart: by then all five probes are out
    assert lines[8:10] == ["5 packets transmitted, 0 received, +5 errors, 100% packet loss, time 2000ms",
                          "pipe 5"]
    assert rc == 1 and took == pytest.approx(3.0)  # the queued probes all fail then


def test_net_unreachable_and_deadline_stops_at_first_error(lab):
    rc, lines, took = run(lab, "ping -c 3 -w 5 10.0.9.1")
    assert lines[1] == f"From {R1A} icmp_seq=1 Destination Net Unreachable"
    assert lines[4] == "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms"
    assert rc == 1 and took < 0.1


def test_frag_needed_then_local_error_then_pmtu_local_errors():
    lab = make_lab()
    lab.node("r2").cmd("ip link set eth1 mtu 1280", check=True)
    lab.node("h2").cmd("ip link set eth0 mtu 1280", check=True)
    tap = Tap(lab.host("h1").dev("eth0"))
    rc, lines, _ = run(lab, "ping -c 3 -i 0.2 -M do -s 1400 10.0.2.2")
    assert lines == [
        "PING 10.0.2.2 (10.0.2.2) 1400(1428) bytes of data.",
        f"From {R2A} icmp_seq=1 Frag needed and DF set (mtu = 1280)",
        "ping: local error: message too long, mtu=1280",
        "ping: local error: message too long, mtu=1280",
        "",
        "--- 10.0.2.2 ping statistics ---",
        "3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 400ms",
        "", ""]
    assert rc == 1
    sent = tap.ip(True, 1)
    assert len(sent) == 1 and sent[0][6] & 0x40  # one probe left, with DF; the PMTU stopped the rest


def test_m_do_too_big_for_the_first_link_and_flood_e(lab):
    rc, lines, _ = run(lab, "ping -c 1 -M do -s 2000 10.0.2.2")
    assert lines[1] == "ping: local error: message too long, mtu=1500"
    assert lines[4] == "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms"
    rc, lines, _ = run(lab, "ping -c 2 -f -M do -s 2000 10.0.2.2")
    assert lines[1] == "EE"  # flood mode reports errors as E


def test_fragmented_echo_of_4000_bytes(lab):
    tap = Tap(lab.host("h1").dev("eth0"))
    rc, lines, _ = run(lab, "ping -c 1 -s 4000 10.0.2.2")
    assert lines[:2] == ["PING 10.0.2.2 (10.0.2.2) 4000(4028) bytes of data.",
                         "4008 bytes from 10.0.2.2: icmp_seq=1 ttl=62 time=40.0 ms"]
    assert rc == 0
    for outgoing in (True, False):
        frags = tap.ip(outgoing, 1)
        offs = [(struct.unpack_from("!H", p, 6)[0] & 0x1FFF) * 8 for p in frags]
        sizes = [struct.unpack_from("!H", p, 2)[0] - 20 for p in frags]
        assert offs == [0, 1480, 2960] and sizes == [1480, 1480, 1048]  # 4008 bytes of ICMP


def test_loss_counts_match_the_wire():
    lab = make_lab(loss="25%", seed=7)
    tap = Tap(lab.host("h1").dev("eth0"))
    rc, lines, _ = run(lab, "ping -c 40 -i 0.2 -q 10.0.2.2")
    # netem drops on egress, before the tap: what the tap sees coming in is what ping got
    replies = [p for p in tap.ip(False, 1) if p[20] == 0]
    requests = [p for p in tap.ip(True, 1) if p[20] == 8]
    n = len(replies)
    assert n < len(requests) < 40 and n > 10
    assert lines[3] == (f"40 packets transmitted, {n} received, {c_g((40 - n) * 100 / 40)}% packet loss, "
                        "time 7800ms")
    assert rc == 0


def test_duplicates():
    lab = make_lab(duplicate="100%")
    rc, lines, _ = run(lab, "ping -c 2 -i 0.2 10.0.2.2")
    dups = [x for x in lines if x.endswith("(DUP!)")]
    assert dups and all(" icmp_seq=" in x for x in dups)
    summary = next(x for x in lines if "packets transmitted" in x)
    assert summary.startswith(f"2 packets transmitted, 2 received, +{len(dups)} duplicates, 0% packet loss")


def test_flood_dots_and_pacing():
    lab = make_lab("10ms")
    rc, lines, took = run(lab, "ping -f -c 50 10.0.2.2")
    # a dot per probe, erased ("\b \b") by its reply. Without replies flood sends every 10 ms: probes
    # leave at 0, 10, 20, 30 and 40 ms while the first replies take 40 ms (ARP on the way out); the
    # three back at 40 ms are erased together, then each reply lets the next probe go
    assert lines[1].count(".") == 50 and lines[1].count("\b \b") == 50
    assert lines[1].startswith("....." + "\b \b" * 3 + ".\b \b")
    assert lines[3].startswith("50 packets transmitted, 50 received, 0% packet loss")
    assert ", ipg/ewma " in lines[4] and rc == 0
    assert took == pytest.approx(0.51)  # two probes in flight, 20 ms round trips


def test_flood_without_replies_sends_100_per_second():
    lab = make_lab()
    lab.node("r1").cmd("ip route add blackhole 10.0.7.0/24", check=True)
    rc, lines, took = run(lab, "ping -f -c 20 -W 0.5 10.0.7.1")
    assert lines[1] == "." * 20
    assert lines[3] == "20 packets transmitted, 0 received, 100% packet loss, time 190ms"
    assert rc == 1 and took == pytest.approx(0.69)


def test_deadline_and_linger(lab):
    rc, lines, _ = run(lab, "ping -w 3 -q 10.0.2.2")
    # the deadline's alarm comes before the fourth probe is due at 3 s, as with the real ping
    assert lines[3].startswith("3 packets transmitted, 3 received") and rc == 0
    lab.node("r1").cmd("ip route add blackhole 10.0.7.0/24", check=True)
    rc, lines, took = run(lab, "ping -c 5 -w 2 10.0.7.1")
    assert lines[3] == "2 packets transmitted, 0 received, 100% packet loss, time 1000ms"
    assert rc == 1 and took == pytest.approx(2.0)
    rc, lines, took = run(lab, "ping -c 2 -W 0.5 10.0.7.1")
    assert rc == 1 and took == pytest.approx(1.5)  # last probe at 1 s, then -W


def test_interrupted_by_timeout_prints_the_summary(lab):
    rc, lines, took = run(lab, "timeout 2.5 ping 10.0.2.2")
    assert lines[-5:-1] == ["", "--- 10.0.2.2 ping statistics ---",
                            "3 packets transmitted, 3 received, 0% packet loss, time 2000ms",
                            "rtt min/avg/max/mdev = 20.000/26.666/40.000/9.428 ms"]
    assert rc == 124 and took == pytest.approx(2.5)


def test_outstanding_timestamps_quiet(lab):
    lab.node("r1").cmd("ip route add blackhole 10.0.7.0/24", check=True)
    rc, lines, _ = run(lab, "ping -c 3 -O -i 0.3 10.0.7.1")
    assert lines[1:3] == ["no answer yet for icmp_seq=1", "no answer yet for icmp_seq=2"]
    lab.run(100)
    rc, lines, _ = run(lab, "ping -c 1 -D 10.0.2.2")
    assert lines[1].startswith("[1") and lines[1].split("] ")[1].startswith("64 bytes from 10.0.2.2")
    sec, usec = lines[1][1:].split("]")[0].split(".")
    assert len(usec) == 6 and 100 < int(sec) < 120


def test_options_on_the_wire(lab):
    tap = Tap(lab.host("h1").dev("eth0"))
    rc, lines, _ = run(lab, "ping -c 1 -t 7 -Q 0x28 -s 100 -p abcd 10.0.2.2")
    assert lines[:2] == ["PATTERN: 0xabcd", "PING 10.0.2.2 (10.0.2.2) 100(128) bytes of data."]
    (req,) = [p for p in tap.ip(True, 1)]
    tot_len, frag = struct.unpack_from("!H", req, 2)[0], struct.unpack_from("!H", req, 6)[0]
    assert (req[1], req[8], tot_len, bool(frag & 0x4000)) == (0x28, 7, 128, True)
    assert req[20:22] == b"\x08\x00" and req[20 + 8 + 16:20 + 8 + 20] == b"\xab\xcd\xab\xcd"
    assert " ttl=62 " in lines[2]
    rc, lines, _ = run(lab, "ping -c 1 -M dont 10.0.2.2")
    assert not struct.unpack_from("!H", tap.ip(True, 1)[-1], 6)[0] & 0x4000


def test_source_interface_and_names(lab):
    assert run(lab, "ping -c 1 -I eth0 10.0.2.2")[1][0] == \
        "PING 10.0.2.2 (10.0.2.2) from 10.0.1.2 eth0: 56(84) bytes of data."
    assert run(lab, "ping -c 1 -I 10.0.1.2 10.0.2.2")[1][0] == \
        "PING 10.0.2.2 (10.0.2.2) from 10.0.1.2 : 56(84) bytes of data."
    rc, lines, _ = run(lab, "ping -c 1 localhost")
    assert lines[:2] == ["PING localhost (127.0.0.1) 56(84) bytes of data.",
                         "64 bytes from localhost (127.0.0.1): icmp_seq=1 ttl=64 time=0.000 ms"]
    rc, lines, _ = run(lab, "ping -c 1 h2")  # a lab node name resolves to its first address
    assert lines[:2] == ["PING h2 (10.0.2.2) 56(84) bytes of data.",
                         "64 bytes from 10.0.2.2: icmp_seq=1 ttl=62 time=20.0 ms"] and rc == 0
    assert run(lab, "ping -c 1 0.0.0.0")[1][0] == "PING 0.0.0.0 (127.0.0.1) 56(84) bytes of data."


def test_ping_socket_when_the_group_range_allows_it(lab):
    lab.node("h1").cmd("sysctl -qw net.ipv4.ping_group_range='0 0'", check=True)
    rc, lines, _ = run(lab, "ping -c 2 -i 0.2 10.0.2.2")
    assert lines[1:3] == ["64 bytes from 10.0.2.2: icmp_seq=1 ttl=62 time=40.0 ms",
                          "64 bytes from 10.0.2.2: icmp_seq=2 ttl=62 time=20.0 ms"] and rc == 0


@pytest.mark.parametrize(("cmd", "rc", "text"), [
    ("ping", 1, "ping: usage error: Destination address required\n"),
    ("ping -c 1 nosuch", 2, "ping: nosuch: Name or service not known\n"),
    ("ping -c 0 10.0.2.2", 1,
     "ping: invalid argument: '0': out of range: 1 <= value <= 9223372036854775807\n"),
    ("ping -c abc 10.0.2.2", 1, "ping: invalid argument: 'abc'\n"),
    ("ping -s -1 10.0.2.2", 1, "ping: invalid argument: '-1': out of range: 0 <= value <= 2147483647\n"),
    ("ping -t 256 10.0.2.2", 1, "ping: invalid argument: '256': out of range: 0 <= value <= 255\n"),
    ("ping -t 0 -c 1 10.0.2.2", 2, "ping: cannot set unicast time-to-live: Invalid argument\n"),
    ("ping -M foo 10.0.2.2", 2, "ping: invalid -M argument: foo\n"),
    ("ping -Q 300 10.0.2.2", 2, "ping: the decimal value of TOS bits must be in range 0-255: 300\n"),
    ("ping -Q abc 10.0.2.2", 2, "ping: bad TOS value: abc\n"),
    ("ping -w abc 10.0.2.2", 1, "ping: invalid argument: 'abc'\n"),
    ("ping -I eth9 10.0.2.2", 2, "ping: SO_BINDTODEVICE eth9: No such device\n"),
    ("ping -I 10.9.9.9 10.0.2.2", 2, "ping: bind: Cannot assign requested address\n"),
    ("ping -V", 0, "ping from iputils 20221126\n"
                   "libcap: yes, IDN: yes, NLS: no, error.h: yes, getrandom(): yes, __fpending(): yes\n"),
])
def test_usage_errors_as_iputils(lab, cmd, rc, text):
    assert lab.node("h1").cmd_rc(cmd) == (rc, text)


def test_bad_option_prints_usage(lab):
    rc, out = lab.node("h1").cmd_rc("ping -x 10.0.2.2")
    assert rc == 2
    assert out.startswith("ping: invalid option -- 'x'\n\nUsage\n  ping [options] <destination>\n")
    rc, out = lab.node("h1").cmd_rc("ping -i abc -c 1 10.0.2.2")
    assert out.startswith("ping: option argument contains garbage: abc\n"
                          "ping: this will become fatal error in the future\nPING ") and rc == 0


def test_unprivileged_user(lab):
    from tuxnet.sock.sock import Cred

    h1 = lab.host("h1")
    h1.sockets.cred = Cred(uid=1000, gid=1000)
    # no ping socket (ping_group_range "1 0") and no CAP_NET_RAW
    assert lab.node("h1").cmd_rc("ping -c 1 10.0.2.2") == (
        2, "ping: socktype: SOCK_RAW\nping: socket: Operation not permitted\n"
           "ping: => missing cap_net_raw+p capability or setuid?\n")
    lab.host("h1").sysctl.set("net.ipv4.ping_group_range", "0 2000")
    assert lab.node("h1").cmd_rc("ping -c 1 -i 0.001 10.0.2.2")[1].endswith(
        "ping: cannot flood; minimal interval allowed for user is 2ms\n")
    assert lab.node("h1").cmd_rc("ping -c 1 -l 4 10.0.2.2") == (
        2, "ping: cannot set preload to value greater than 3: 4\n")
    rc, out = lab.node("h1").cmd_rc("ping -c 1 10.0.2.2")
    assert rc == 0 and "64 bytes from 10.0.2.2: icmp_seq=1 ttl=62" in out  # through a ping socket
