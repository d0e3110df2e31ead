"""tc qdisc: golden output and messages.

The tbf lines and every error message below were produced by iproute2 6.1's tc against a Linux 6.18
kernel in a network namespace (veth devices; the kernel shows "refcnt 3" there because its veths have
two transmit queues, tuxnet's have one: "refcnt 2"). The netem lines follow iproute2's q_netem.c
printing (that kernel was built without netem).
"""

from __future__ import annotations

import pytest

from tuxnet.lab.lab import Lab
from tuxnet.skb import SkBuff
from tuxnet.tools import run_command


@pytest.fixture
def host():
    lab = Lab(1)
    h = lab.add_host("h1")
    a, _ = lab.add_link(h, "eth0", lab.add_host("h2"), "eth0")
    return lab, h, a


def tc(ns, cmd: str) -> tuple[int, str]:
    return run_command(ns, "tc " + cmd)


def test_default_qdiscs(host):
    _, h, _ = host
    assert tc(h, "qdisc show") == (0, "qdisc noqueue 0: dev lo root refcnt 2 \n"
                                      "qdisc noqueue 0: dev eth0 root refcnt 2 \n")
    assert tc(h, "qdisc") == tc(h, "qdisc show")
    assert tc(h, "-s qdisc show dev eth0") == (
        0, "qdisc noqueue 0: root refcnt 2 \n"
           " Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n"
           " backlog 0b 0p requeues 0\n")
    h.lo.close()
    assert tc(h, "qdisc ls") == (0, "qdisc noqueue 0: dev eth0 root refcnt 2 \n")  # noop is not dumped


def test_netem_add_show_change(host):
    _, h, a = host
    assert tc(h, "qdisc add dev eth0 root netem delay 10ms 1ms loss 1%") == (0, "")
    assert tc(h, "qdisc show dev eth0") == (
        0, "qdisc netem 8001: root refcnt 2 limit 1000 delay 10ms  1ms loss 1%\n")
    assert a.qdisc.latency == 10_000_000 and a.qdisc.jitter == 1_000_000
    assert tc(h, "qdisc change dev eth0 root netem limit 100 delay 100ms 10ms 25% distribution normal "
                 "loss 0.3% 25% duplicate 1% corrupt 0.1% reorder 25% 50% gap 5 rate 10mbit")[0] == 0
    assert tc(h, "qdisc show dev eth0")[1] == (
        "qdisc netem 8001: root refcnt 2 limit 100 delay 100ms  10ms 25% loss 0.3% 25% duplicate 1% "
        "reorder 25% 50% corrupt 0.1% rate 10Mbit gap 5\n")
    # tc works in microseconds and 64 ns ticks: 1.5 ms is 23437 ticks
    assert tc(h, "qdisc replace dev eth0 root netem delay 1.5ms rate 100kbit")[0] == 0
    assert a.qdisc.latency == 23437 * 64
    assert "delay 1.5ms" in tc(h, "qdisc show dev eth0")[1]
    assert tc(h, "qdisc add dev eth0 root netem loss state 1% 10%")[1] == (
        "Error: Exclusivity flag on, cannot modify.\n")
    assert tc(h, "qdisc change dev eth0 root netem loss gemodel 1% 10% 70% 0.1%")[0] == 0
    # like Linux, a change that does not name reorder, corrupt or rate keeps their old settings
    assert tc(h, "qdisc show dev eth0")[1] == (
        "qdisc netem 8001: root refcnt 2 limit 1000 loss gemodel p 1% r 10% 1-h 70% 1-k 0.1% "
        "reorder 25% 50% corrupt 0.1% rate 100Kbit\n")


def test_statistics_after_traffic(host):
    lab, h, a = host
    tc(h, "qdisc add dev eth0 root netem delay 1s limit 3")
    for _ in range(5):
        a.queue_xmit(SkBuff.from_bytes(b"\xff" * 6 + a.mac + b"\x88\xb5" + bytes(86)))
    assert tc(h, "-s qdisc show dev eth0")[1] == (
        "qdisc netem 8001: root refcnt 2 limit 3 delay 1s\n"
        " Sent 0 bytes 0 pkt (dropped 2, overlimits 0 requeues 0) \n"
        " backlog 300b 3p requeues 0\n")
    lab.run(1)
    assert tc(h, "-s qdisc show dev eth0")[1].splitlines()[1:] == [
        " Sent 300 bytes 3 pkt (dropped 2, overlimits 0 requeues 0) ", " backlog 0b 0p requeues 0"]


@pytest.mark.parametrize("args,line", [
    ("rate 1mbit burst 32kbit latency 400ms", "rate 1Mbit burst 4Kb lat 400ms "),
    ("rate 10mbit burst 10kb limit 10000", "rate 10Mbit burst 10Kb limit 10000b "),
    ("rate 10mbit burst 10kb limit 10000 peakrate 20mbit mtu 1600",
     "rate 10Mbit burst 10Kb peakrate 20Mbit minburst 1600b lat 3.36ms "),
    ("rate 100kbit burst 1540 latency 50ms", "rate 100Kbit burst 1540b lat 50ms "),
    ("rate 1gbit burst 1mb latency 1s", "rate 1Gbit burst 1048500b lat 1s "),
    ("rate 1500kbit burst 1500 latency 10ms", "rate 1500Kbit burst 1499b lat 10ms "),
    ("rate 1234567bit burst 1500 latency 10ms", "rate 1234Kbit burst 1499b lat 10ms "),
    ("rate 100gbit burst 15000 latency 10ms", "rate 100Gbit burst 12500b lat 10ms "),
    ("rate 8mbit burst 1000000 latency 1234ms", "rate 8Mbit burst 1000000b lat 1.23s "),
    ("rate 8mbit burst 1000000 latency 999us", "rate 8Mbit burst 1000000b lat 999us "),
])
def test_tbf_lines_match_the_kernel(host, args, line):
    _, h, _ = host
    assert tc(h, f"qdisc replace dev eth0 root tbf {args}") == (0, "")
    assert tc(h, "qdisc show dev eth0") == (0, f"qdisc tbf 8001: root refcnt 2 {line}\n")


def test_replace_change_delete_and_handles(host):
    _, h, a = host
    tc(h, "qdisc add dev eth0 root tbf rate 1mbit burst 10k latency 10ms")
    q = a.qdisc
    assert tc(h, "qdisc change dev eth0 root tbf rate 2mbit burst 10k latency 10ms") == (0, "")
    assert a.qdisc is q and q.handle == "8001:"  # same kind: changed in place
    assert tc(h, "qdisc change dev eth0 root pfifo_fast") == (0, "")  # another kind replaces it
    assert tc(h, "qdisc show dev eth0")[1] == (
        "qdisc pfifo_fast 8002: root refcnt 2 bands 3 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1\n")
    assert tc(h, "qdisc add dev eth0 root handle 5: pfifo_fast") == (
        2, "Error: NLM_F_REPLACE needed to override.\n")
    assert tc(h, "qdisc replace dev eth0 root handle 5: tbf rate 1mbit burst 10k latency 10ms") == (0, "")
    assert tc(h, "qdisc show dev eth0")[1] == "qdisc tbf 5: root refcnt 2 rate 1Mbit burst 10Kb lat 10ms \n"
    assert tc(h, "qdisc del dev eth0 root handle 7:") == (2, "Error: Invalid handle.\n")
    assert tc(h, "qdisc del dev eth0 handle 5:") == (2, "Error: Classid cannot be zero.\n")
    assert tc(h, "qdisc del dev eth0 root") == (0, "")
    assert a.qdisc.kind == "noqueue"
    assert tc(h, "qdisc del dev eth0 root") == (2, "Error: Cannot delete qdisc with handle of zero.\n")
    assert tc(h, "qdisc change dev eth0 root netem delay 1ms") == (
        2, "Error: Qdisc not found. To create specify NLM_F_CREATE flag.\n")


@pytest.mark.parametrize("cmd,rc,text", [
    ("qdisc add dev eth0 root foo", 2, "Error: Specified qdisc kind is unknown.\n"),
    ("qdisc add dev eth0 root", 2, "Error: Specified qdisc kind is unknown.\n"),
    ("qdisc add dev eth0", 2, "Error: Handle cannot be zero.\n"),
    ("qdisc add dev x root netem delay 10ms", 1, 'Cannot find device "x"\n'),
    ("qdisc show dev x", 1, 'Cannot find device "x"\n'),
    ("qdisc add root tbf rate 1mbit burst 10k latency 10ms", 2, "RTNETLINK answers: No such device\n"),
    ("qdisc add dev eth0 parent 1:1 tbf rate 1mbit burst 10k latency 10ms", 2,
     "Error: Failed to find specified qdisc.\n"),
    ("qdisc add dev eth0 root tbf rate 1mbit burst 10k latency 10ms peakrate 500kbit mtu 1500", 2,
     "RTNETLINK answers: Invalid argument\n"),
    ("qdisc add dev eth0 root foo bar", 1, 'Unknown qdisc "foo", hence option "bar" is unparsable\n'),
    ("qdisc add dev eth0 root pfifo_fast bands 3", 255,
     "qdisc 'pfifo_fast' does not support option parsing\n"),
    ("qdisc add dev eth0 root tbf rate xx burst 10 latency 10ms", 1, 'tbf: illegal value for "rate": "xx"\n'),
    ("qdisc add dev eth0 root netem loss 101%", 1, 'Illegal "loss percent"\n'),
    ("qdisc add dev eth0 root netem delay xx", 1, 'Illegal "latency"\n'),
    ("qdisc add dev eth0 root netem loss foo 1", 1, "Unknown loss parameter: foo\n"),
    ("qdisc add dev eth0 root netem rate 1x", 1, 'Illegal "rate"\n'),
    ("qdisc add dev eth0 root netem loss 1% loss 2%", 1, 'Illegal "duplicate loss argument\n"\n'),
    ("qdisc add dev eth0 root netem limit x", 1, 'Illegal "limit"\n'),
    ("qdisc add dev eth0 root netem delay 10ms distribution foo", 1,
     "No distribution data for foo (/usr/lib/tc//foo.dist: No such file or directory)\n"),
    ("qdisc bogus", 255, 'Command "bogus" is unknown, try "tc qdisc help".\n'),
    ("bogus", 255, 'Object "bogus" is unknown, try "tc help".\n'),
    ("qdisc show dev", 255, 'Command line is not complete. Try option "help"\n'),
    ("qdisc show dev eth0 bogus", 255, 'What is "bogus"? Try "tc qdisc help".\n'),
])
def test_errors_and_exit_codes(host, cmd, rc, text):
    _, h, _ = host
    assert tc(h, cmd) == (rc, text)


def test_option_errors_print_the_usage(host):
    _, h, _ = host
    rc, out = tc(h, "qdisc add dev eth0 root tbf rate 1mbit")
    assert rc == 1 and out.startswith('tbf: the "burst" parameter is mandatory.\n'
                                      'tbf: either "limit" or "latency" is required.\n'
                                      "Usage: ... tbf limit BYTES burst BYTES[/BYTES] rate KBPS")
    rc, out = tc(h, "qdisc add dev eth0 root netem reorder 25%")
    assert rc == 1 and out.startswith("reordering not possible without specifying some delay\n"
                                      "Usage: ... netem [ limit PACKETS ]\n")
    rc, out = tc(h, "qdisc add dev eth0 root netem gap 5 delay 10ms")
    assert rc == 1 and out.startswith("gap specified without reorder probability\n")
    rc, out = tc(h, "qdisc add dev eth0 root netem foo")
    assert rc == 1 and out.startswith('What is "foo"?\nUsage: ... netem')
    assert tc(h, "")[0] == 0 and "Usage:\ttc [ OPTIONS ] OBJECT" in tc(h, "")[1]


def test_netem_on_loopback_delays_local_traffic():
    lab = Lab(1)
    h = lab.add_host("h1")
    assert tc(h, "qdisc add dev lo root netem delay 20ms") == (0, "")
    seen = []
    h.lo.taps.append(lambda skb, out: None if out else seen.append(lab.now))
    h.lo.queue_xmit(SkBuff.from_bytes(bytes(12) + b"\x88\xb5" + bytes(46)))
    lab.run(0.1)
    assert seen == [20_000_000]
