"""nc (netcat-openbsd 1.219) in a lab: UDP and TCP listeners and clients, -k, scans with -z,
the -v messages, timeouts and usage errors (wording as the real nc printed them in a netns).

Listeners run in the background (``background``) while the client runs as a command on h1.
"""

from __future__ import annotations

import pytest
from test_ping_tool import H1, H2, R1B, Tap, background, make_lab, run


@pytest.fixture
def lab():
    return make_lab()


def finish(lab, task, buf, seconds: float = 10) -> tuple[int | None, str]:
    lab.run(seconds)
    return (task.result() if task.done() else None), buf.getvalue()


def test_udp_listener_prints_what_arrives(lab):
    task, buf = background(lab, "h2", "timeout 3 nc -u -l 9999")
    tap = Tap(lab.host("h2").dev("eth0"))
    rc, lines, _ = run(lab, "nc -u -q 0 10.0.2.2 9999 --send hello --send world")
    assert rc == 0 and lines == [""]
    assert finish(lab, task, buf) == (124, "hello\nworld\n")
    dgrams = [p[28:] for p in tap.ip(False, 17)]
    assert dgrams == [b"hello\nworld\n"]  # stdin read at once: one datagram


def test_udp_verbose_probe_and_listener_messages(lab):
    task, buf = background(lab, "h2", "timeout 8 nc -u -l -n -v 9999")
    rc, lines, took = run(lab, "timeout 5 nc -u -n -v 10.0.2.2 9999 --send hello")
    # udptest: two X, then one a second for 3 s; then the connection is reported and stdin sent
    assert lines[0] == "Connection to 10.0.2.2 9999 port [udp/*] succeeded!" and rc == 124
    rc2, out = finish(lab, task, buf)
    first, second, data = out.split("\n", 2)
    assert first == "Bound on 0.0.0.0 9999"
    assert second.startswith(f"Connection received on {H1} ") and int(second.split()[-1]) >= 32768
    assert data == "XXXXXhello\n"


def test_udp_scan(lab):
    rc, lines, took = run(lab, "nc -u -z -v -n 10.0.2.2 9999 53")
    assert rc == 1 and lines == [""]  # both refused by a port unreachable: nothing said
    assert took < 0.01
    task, buf = background(lab, "h2", "timeout 5 nc -u -l 53")
    rc, lines, took = run(lab, "nc -u -z -v 10.0.2.2 52-54")
    # the open port takes udptest's 3 s; the exit status is the last port's (54: refused)
    assert rc == 1 and lines == ["Connection to 10.0.2.2 53 port [udp/domain] succeeded!", ""]
    assert took == pytest.approx(3.0, abs=0.01)
    rc, lines, _ = run(lab, "nc -u -z 10.0.2.2 9999")  # without -v no probe is sent at all
    assert rc == 0


def test_udp_listener_keeps_open_with_k(lab):
    task, buf = background(lab, "h2", "timeout 5 nc -u -l -k -v 9999")
    run(lab, "nc -u -q 0 10.0.2.2 9999 --send fromr1", node="r1")
    run(lab, "nc -u -q 0 10.0.2.2 9999 --send one")
    rc, out = finish(lab, task, buf)
    lines = out.split("\n")
    assert rc == 124 and lines[0] == "Bound on 0.0.0.0 9999"
    assert lines[1].startswith(f"Connection received on {R1B} ") and lines[2] == "fromr1"
    assert lines[3].startswith(f"Connection received on {H1} ") and lines[4] == "one"


def test_udp_receive_limit_and_line_interval(lab):
    task, buf = background(lab, "h2", "nc -u -l -W 2 9999")
    rc, _, took = run(lab, "timeout 5 nc -u -i 1 10.0.2.2 9999 --send a --send b --send c")
    assert finish(lab, task, buf) == (0, "a\nb\n")  # -W 2: two reads, then exit
    # -i 1: a line a second; the third is refused (the listener is gone): the error ends nc
    assert rc == 0 and took == pytest.approx(3.0, abs=0.01)


def test_tcp_transfer_both_ways_with_verbose_messages(lab):
    task, buf = background(lab, "h2", "nc -l -v -n 9999 --send welcome")
    rc, lines, _ = run(lab, "nc -v -n -N 10.0.2.2 9999 --send hello")
    assert lines == ["Connection to 10.0.2.2 9999 port [tcp/*] succeeded!", "welcome", ""] and rc == 0
    rc, out = finish(lab, task, buf)
    first, second, rest = out.split("\n", 2)
    assert (rc, first, rest) == (0, "Listening on 0.0.0.0 9999", "hello\n")
    assert second.startswith(f"Connection received on {H1} ")


def test_tcp_crlf_and_quit_after_eof(lab):
    tap = Tap(lab.host("h2").dev("eth0"))
    task, buf = background(lab, "h2", "nc -l 9999")
    rc, _, took = run(lab, "nc -C -q 1 10.0.2.2 9999 --send a --send b")
    assert rc == 0 and took == pytest.approx(1.0, abs=0.01)  # -q 1: quit a second after EOF
    assert finish(lab, task, buf) == (0, "a\r\nb\r\n")
    payload = b"".join(p[20 + (p[32] >> 4) * 4:] for p in tap.ip(False, 6))
    assert payload == b"a\r\nb\r\n"


def test_tcp_scans_and_failures(lab):
    task, buf = background(lab, "h2", "timeout 5 nc -l -k 8080")
    rc, lines, _ = run(lab, "nc -z -v 10.0.2.2 8079-8081")
    assert lines == ["nc: connect to 10.0.2.2 port 8079 (tcp) failed: Connection refused",
                     "Connection to 10.0.2.2 8080 port [tcp/http-alt] succeeded!",
                     "nc: connect to 10.0.2.2 port 8081 (tcp) failed: Connection refused", ""] and rc == 0
    rc, lines, _ = run(lab, "nc -z 10.0.2.2 81")
    assert (rc, lines) == (1, [""])
    rc, lines, took = run(lab, "nc -v -n -w 1 10.0.1.99 80")
    assert lines[0] == "nc: connect to 10.0.1.99 port 80 (tcp) timed out: Operation now in progress"
    assert rc == 1 and took == pytest.approx(1.0)
    rc, lines, _ = run(lab, "nc -v 10.0.9.1 80")
    assert lines[0] == "nc: connect to 10.0.9.1 port 80 (tcp) failed: Network is unreachable" and rc == 1


def test_idle_timeout_and_source_address(lab):
    tap = Tap(lab.host("h2").dev("eth0"))
    task, buf = background(lab, "h2", "nc -l -w 3 7777")
    rc, _, took = run(lab, "nc -w 1 -s 10.0.1.2 -p 40001 10.0.2.2 7777 --send x")
    assert rc == 0 and took == pytest.approx(1.0, abs=0.01)  # -w: no data for 1 s ends the client
    assert finish(lab, task, buf) == (0, "x\n")  # and its close ends the listener
    syn = next(p for p in tap.ip(False, 6) if p[33] == 0x02)
    assert (syn[12:16], int.from_bytes(syn[20:22], "big")) == (bytes([10, 0, 1, 2]), 40001)


@pytest.mark.parametrize(("cmd", "text"), [
    ("nc 10.0.2.2", "nc: missing port number\n"),
    ("nc -l", "nc: missing port number\n"),
    ("nc -z -l 5", "nc: cannot use -z and -l\n"),
    ("nc -k 10.0.2.2 5", "nc: must use -l with -k\n"),
    ("nc 10.0.2.2 99999", "nc: port number too large: 99999\n"),
    ("nc 10.0.2.2 foo", "nc: port number invalid: foo\n"),
    ("nc -w abc 10.0.2.2 5", "nc: timeout invalid: abc\n"),
    ("nc -n nosuch 80", "nc: getaddrinfo for host \"nosuch\" port 80: Name or service not known\n"),
    ("nc -s 10.9.9.9 10.0.2.2 80", "nc: bind failed: Cannot assign requested address\n"),
])
def test_usage_errors(lab, cmd, text):
    assert lab.node("h1").cmd_rc(cmd) == (1, text)


def test_bad_option_and_help(lab):
    rc, out = lab.node("h1").cmd_rc("nc -x")
    assert rc == 1
    assert out.startswith("nc: option requires an argument -- 'x'\nusage: nc [-46CDdFhklNnrStUuvZz]")
    rc, out = lab.node("h1").cmd_rc("nc -h")
    assert rc == 0 and out.startswith("OpenBSD netcat (Debian patchlevel 1.219-1)\nusage: nc ")


def test_waiting_for_ever_in_an_idle_lab_is_stopped(lab):
    rc, out = lab.node("h2").cmd_rc("nc -u -l 9999")
    assert rc == 130 and "nothing in the lab will cause" in out
    assert H2  # the address the listener would have served
