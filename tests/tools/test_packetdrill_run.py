"""The packetdrill runner against tuxnet: small scripts through the real code path (parser, shell,
system calls on the namespace's sockets, packets injected into and sniffed from tun0, virtual time),
and bad scripts reported as clear failures."""

from __future__ import annotations

import io
import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tuxnet.tools.packetdrill.runner import Outcome, main, run_script

SERVER_OPEN = """\
`./defaults.sh`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 8>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
   +0 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
"""

CLIENT_OPEN = """\
`./defaults.sh`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
   +0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
   +0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
  +.1 < S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 700 ecr 100,nop,wscale 7>
   +0 > . 1:1(0) ack 1 <nop,nop,TS val 200 ecr 700>
"""


def run(tmp_path: Path, text: str, name: str = "t.pkt") -> Outcome:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return run_script(p)


def passed(res: Outcome) -> None:
    assert res.status == "PASS", res.summary() + "\n" + "\n".join(res.details)


# --- scripts that pass ----------------------------------------------------------------------------


def test_passive_open_data_and_close(tmp_path: Path) -> None:
    passed(run(tmp_path, SERVER_OPEN + """\
   +0 < P. 1:1001(1000) ack 1 win 257
   +0 > . 1:1(0) ack 1001
   +0 read(4, ..., 2000) = 1000
   +0 write(4, ..., 500) = 500
   +0 > P. 1:501(500) ack 1001
 +.01 < . 1001:1001(0) ack 501 win 257
   +0 close(4) = 0
   +0 > F. 501:501(0) ack 1001
 +.01 < F. 1001:1001(0) ack 502 win 257
   +0 > . 502:502(0) ack 1002
"""))


def test_active_open_maps_isns_and_timestamps(tmp_path: Path) -> None:
    # script ISNs are 0 while the live ones are random; TS ecr 100 names the live TS val of our SYN
    passed(run(tmp_path, CLIENT_OPEN + """\
   +0 write(3, ..., 1000) = 1000
   +0 > P. 1:1001(1000) ack 1 <nop,nop,TS val 200 ecr 700>
 +.05 < . 1:1(0) ack 1001 win 257 <nop,nop,TS val 800 ecr 200>
"""))


def test_fds_are_script_names(tmp_path: Path) -> None:
    """Scripts name sockets by the fd they expect; tuxnet's live fd (3) need not match."""
    passed(run(tmp_path, SERVER_OPEN.replace("= 3", "= 7").replace("(3,", "(7,").replace("= 4", "= 9")
               + "   +0 close(9) = 0\n   +0 > F. 1:1(0) ack 1\n"))


def test_sysctl_command_changes_what_the_stack_sends(tmp_path: Path) -> None:
    passed(run(tmp_path, """\
`./defaults.sh
sysctl -q net.ipv4.tcp_timestamps=0`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
   +0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
   +0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8>
"""))


def test_blocking_accept_returns_when_the_handshake_completes(tmp_path: Path) -> None:
    passed(run(tmp_path, """\
`./defaults.sh`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0...0.200 accept(3, ..., ...) = 4
  +.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>
  +.1 < . 1:1(0) ack 1 win 257
  +.1 write(4, ..., 1000) = 1000
   +0 > P. 1:1001(1000) ack 1
"""))


def test_blocking_read_and_range_and_any_times(tmp_path: Path) -> None:
    passed(run(tmp_path, SERVER_OPEN + """\
   +0...0.100 read(4, ..., 1000) = 1000
  +.1 < P. 1:1001(1000) ack 1 win 257
  0.090~0.150 > . 1:1(0) ack 1001
   +0 < F. 1001:1001(0) ack 1 win 257
    * > . 1:1(0) ack 1002
"""))


def test_segments_of_one_burst_are_aggregated(tmp_path: Path) -> None:
    """The device has no TSO: a script expecting one 3000-byte packet sees three 1000-byte ones."""
    passed(run(tmp_path, SERVER_OPEN + """\
   +0 write(4, ..., 3000) = 3000
   +0 > P. 1:3001(3000) ack 1
"""))


def test_code_events_see_tcp_info(tmp_path: Path) -> None:
    passed(run(tmp_path, SERVER_OPEN + """\
   +0 %{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%
   +0 %{ assert tcpi_snd_mss == 1000 and tcpi_rcv_wscale == 8, (tcpi_snd_mss, tcpi_rcv_wscale) }%
"""))


def test_expected_errors_from_system_calls(tmp_path: Path) -> None:
    passed(run(tmp_path, """\
    0 socket(..., SOCK_STREAM, IPPROTO_UDP) = -1 EPROTONOSUPPORT (Protocol not supported)
   +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 fcntl(3, F_GETFL) = 0x2
   +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
   +0 fcntl(3, F_GETFL) = 0x802
   +0 read(3, ..., 10) = -1 ENOTCONN (Transport endpoint is not connected)
   +0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
"""))


def test_epoll_level_and_edge_triggered(tmp_path: Path) -> None:
    passed(run(tmp_path, SERVER_OPEN + """\
   +0 epoll_create(1) = 5
   +0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLET, fd=4}) = 0
   +0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN, fd=4}) = -1 EEXIST (File exists)
   +0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0
   +0...0.100 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 1000) = 1
  +.1 < P. 1:1001(1000) ack 1 win 257
   +0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0
   +0 epoll_ctl(5, EPOLL_CTL_MOD, 4, {events=EPOLLIN, fd=4}) = 0
   +0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 1
   +0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 1
   +0 read(4, ..., 1000) = 1000
   +0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0
   +0 epoll_ctl(5, EPOLL_CTL_DEL, 4, {events=0, fd=4}) = 0
   +0 epoll_ctl(5, EPOLL_CTL_MOD, 4, {events=EPOLLIN, fd=4}) = -1 ENOENT (No such file or directory)
   +0 close(5) = 0
"""))


def test_epoll_reports_the_events_it_saw(tmp_path: Path) -> None:
    res = run(tmp_path, SERVER_OPEN + """\
   +0 epoll_create(1) = 5
   +0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLOUT, fd=4}) = 0
   +0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 1
""")
    assert (res.status, res.line) == ("FAIL", 12)
    assert res.message == ("runtime error in epoll_wait call: epoll_event->events does not match script: "
                           "expected: 0x1 actual: 0x4")


def test_poll_waits_for_data_or_times_out(tmp_path: Path) -> None:
    passed(run(tmp_path, SERVER_OPEN + """\
   +0...0.050 poll([{fd=4, events=POLLIN, revents=0}], 1, 50) = 0
 +.05 poll([{fd=4, events=POLLOUT|POLLIN, revents=POLLOUT}], 1, 0) = 1
   +0...0.050 poll([{fd=4, events=POLLIN, revents=POLLIN}], 1, 1000) = 1
 +.05 < P. 1:1001(1000) ack 1 win 257
"""))
    res = run(tmp_path, SERVER_OPEN + "   +0 poll([{fd=4, events=POLLOUT, revents=POLLIN}], 1, 0) = 1\n")
    assert res.message == ("runtime error in poll call: Expected revents of POLLIN but got POLLOUT "
                           "for pollfd 0")


# --- failures, as packetdrill words them ------------------------------------------------------------


def test_wrong_ack_fails_with_the_field_and_both_packets(tmp_path: Path) -> None:
    res = run(tmp_path, SERVER_OPEN + """\
   +0 < P. 1:1001(1000) ack 1 win 257
   +0 > . 1:1(0) ack 1000
""")
    assert res.status == "FAIL" and res.line == 11
    assert res.message == "error handling packet: live packet field tcp_ack_seq: expected: 1000 (0x3e8) " \
                          "vs actual: 1001 (0x3e9)"
    assert res.details[0].startswith("script packet:  0.000000 . 1:1(0) ack 1000")
    assert res.details[1].startswith("actual packet:  0.000000 . 1:1(0) ack 1001 win ")
    assert res.summary().startswith(f"FAIL {tmp_path / 't.pkt'}:11: error handling packet: live packet field")


def test_early_packet_is_a_timing_error(tmp_path: Path) -> None:
    res = run(tmp_path, SERVER_OPEN + """\
   +0 < P. 1:1001(1000) ack 1 win 257
  +.1 > . 1:1(0) ack 1001
""")
    assert (res.status, res.line) == ("FAIL", 11)
    assert res.message == ("error handling packet: timing error: expected outbound packet at 0.100000 sec "
                           "but happened at 0.000000 sec; tolerance 0.012500 sec")


def test_missing_packet_times_out_in_virtual_time(tmp_path: Path) -> None:
    t0 = time.monotonic()
    res = run(tmp_path, SERVER_OPEN + "  +30 > . 1:1(0) ack 1\n")
    assert (res.status, res.line) == ("FAIL", 10)
    assert res.message == "error handling packet: Timed out waiting for packet"
    assert time.monotonic() - t0 < 30  # 32 s of virtual time cost far less


def test_unexpected_packet_fails_the_next_outbound_event(tmp_path: Path) -> None:
    # the stack ACKs the peer's FIN before the script closes: the script expected the FIN first
    res = run(tmp_path, SERVER_OPEN + """\
   +0 < F. 1:1(0) ack 1 win 257
  +.1 close(4) = 0
   +0 > F. 1:1(0) ack 2
""")
    assert (res.status, res.line) == ("FAIL", 12)
    assert res.message == ("error handling packet: live packet field tcp_fin: expected: 1 (0x1) "
                           "vs actual: 0 (0x0)")
    assert res.details[1].startswith("actual packet: ") and " . 1:1(0) ack 2 win " in res.details[1]


def test_a_pure_ack_and_the_data_after_it_are_aggregated(tmp_path: Path) -> None:
    """packetdrill keeps sniffing while the payload is short of the script's: a pure ACK followed by
    the data segment of the same flow count as one packet. aggregate_packets takes the headers and
    the time of the last segment (the sequence number and CWR of the first), so the pure ACK sent at
    once is absorbed and the packet is the data segment, on time."""
    res = run(tmp_path, SERVER_OPEN + """\
   +0 < F. 1:1(0) ack 1 win 257
  +.1 write(4, ..., 100) = 100
   +0 > P. 1:101(100) ack 2
""")
    assert res.status == "PASS", res.message
    res = run(tmp_path, SERVER_OPEN + """\
   +0 < F. 1:1(0) ack 1 win 257
  +.1 write(4, ..., 100) = 100
   +0 > . 1:101(100) ack 2
""")
    # the flags compared are the data segment's (the pure ACK before it had no PSH)
    assert (res.status, res.line) == ("FAIL", 12)
    assert res.message == ("error handling packet: live packet field tcp_psh: expected: 0 (0x0) vs "
                           "actual: 1 (0x1)")


def test_wrong_result_and_errno(tmp_path: Path) -> None:
    res = run(tmp_path, "0 socket(..., SOCK_STREAM, IPPROTO_UDP) = 3\n")
    assert (res.status, res.line) == ("FAIL", 1)
    assert res.message == ("runtime error in socket call: Expected non-negative result but got -1 "
                           "with errno 93 (Protocol not supported)")
    res = run(tmp_path, CLIENT_OPEN.replace("EINPROGRESS (Operation now in progress)",
                                            "EAGAIN (Resource temporarily unavailable)"))
    assert res.message == ("runtime error in connect call: Expected errno 11 (Resource temporarily "
                           "unavailable) but got 115 (Operation now in progress)")


def test_blocking_call_returning_late(tmp_path: Path) -> None:
    res = run(tmp_path, SERVER_OPEN + """\
   +0...0.050 read(4, ..., 1000) = 1000
  +.2 < P. 1:1001(1000) ack 1 win 257
""")
    assert (res.status, res.line) == ("FAIL", 10)
    assert res.message == ("timing error: expected system call return at 0.050000 sec but happened at "
                           "0.200000 sec; tolerance 0.006250 sec")


def test_blocking_call_reports_only_when_the_main_flow_waits(tmp_path: Path) -> None:
    """packetdrill's global lock: connect() gives up at 3 s, but the main flow is sniffing for a
    third SYN (until 1 + 2 + 2 s) and holds the lock, so the timeout is what fails the script, not
    the return time of the call (packetdrill's own packet-timeout test, with pre-6.5 SYN backoff)."""
    res = run(tmp_path, """\
`./defaults.sh
sysctl -q net.ipv4.tcp_syn_retries=1 net.ipv4.tcp_syn_linear_timeouts=0`
   +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0...30 connect(3, ..., ...) = -1 ETIMEDOUT (Connection Timed Out)
   +0 > S 0:0(0) <mss 1460, sackOK, TS val 100 ecr 0, nop,wscale 8>
   +1 > S 0:0(0) <mss 1460, sackOK, TS val 1100 ecr 0, nop,wscale 8>
   +2 > S 0:0(0) <mss 1460, sackOK, TS val 3100 ecr 0, nop,wscale 8>
""")
    assert (res.status, res.line) == ("FAIL", 7)
    assert res.message == "error handling packet: Timed out waiting for packet"
    # the same call checked while the main flow sleeps: its early return is the failure
    res = run(tmp_path, """\
`./defaults.sh
sysctl -q net.ipv4.tcp_syn_retries=1 net.ipv4.tcp_syn_linear_timeouts=0`
   +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0...30 connect(3, ..., ...) = -1 ETIMEDOUT (Connection Timed Out)
   +0 > S 0:0(0) <...>
  +10 close(3) = 0
""")
    assert (res.status, res.line) == ("FAIL", 4)
    assert res.message.startswith("timing error: expected system call return at 30.000000 sec but "
                                  "happened at 3.0")


def test_code_assertion_fails_at_its_line(tmp_path: Path) -> None:
    res = run(tmp_path, SERVER_OPEN + "   +0 %{ assert tcpi_snd_cwnd == 1234, tcpi_snd_cwnd }%\n")
    assert (res.status, res.line) == ("FAIL", 10)
    assert res.message.startswith("error in Python code: AssertionError: ")


def test_inbound_ts_ecr_must_name_an_earlier_ts_val(tmp_path: Path) -> None:
    res = run(tmp_path, CLIENT_OPEN.replace("ecr 100,nop,wscale 7", "ecr 555,nop,wscale 7"))
    assert (res.status, res.line) == ("FAIL", 6)
    assert res.message == ("error handling packet: unable to infer live TS ecr for script TS ecr 555;  "
                           "no matching or preceding outbound TS val")


def test_blocked_call_without_ellipsis(tmp_path: Path) -> None:
    res = run(tmp_path, SERVER_OPEN + "   +0 read(4, ..., 1000) = 1000\n")
    assert (res.status, res.line) == ("FAIL", 10)
    assert "the call blocked and nothing would wake it" in res.message


@pytest.mark.parametrize(("mss_option", "rcv_mss"), [("--mss=1000\n", 1000), ("", 1460)])
def test_mss_option_makes_inbound_gro_packets(tmp_path: Path, mss_option: str, rcv_mss: int) -> None:
    # tcp_measure_rcv_mss takes a GRO packet's gso_size, not its length, as the peer's segment size
    passed(run(tmp_path, mss_option + SERVER_OPEN + f"""\
   +0 < . 1:10001(10000) ack 1 win 257
   +0 > . 1:1(0) ack 10001
   +0 %{{ assert tcpi_rcv_mss == {rcv_mss}, tcpi_rcv_mss }}%
"""))


def test_ioctl_and_recvmsg_control_messages(tmp_path: Path) -> None:
    passed(run(tmp_path, SERVER_OPEN + """\
   +0 setsockopt(4, SOL_TCP, TCP_INQ, [1], 4) = 0
   +0 < P. 1:1001(1000) ack 1 win 257
   +0 ioctl(4, SIOCINQ, [1000]) = 0
   +0 ioctl(4, SIOCOUTQ, [0]) = 0
   +0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 600}], msg_flags=0,
                  msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=400}]}, 0) = 600
   +0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=MSG_CTRUNC}, 0) = 100
   +0 ioctl(3, SIOCINQ, [0]) = -1 EINVAL (Invalid argument)
   +0 ioctl(4, 1234) = -1 ENOTTY (Inappropriate ioctl for device)
"""))


_RECVMSG_10 = ("+0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0, "
               "msg_control=[%s]}, 0) = 10\n")
_CM_INQ = "{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=%d}"


@pytest.mark.parametrize(("tail", "message"), [
    ("+0 ioctl(4, SIOCINQ, [7]) = 0\n",
     "runtime error in ioctl call: Bad ioctl optval: expected: 7 actual: 1000"),
    (_RECVMSG_10 % (_CM_INQ % 9),
     "runtime error in recvmsg call: Bad data in cmsg 0: expected=9 actual=990"),
    (_RECVMSG_10 % (_CM_INQ % 990 + ", " + _CM_INQ % 0),
     "runtime error in recvmsg call: received only 1 cmsgs"),
])
def test_ioctl_and_cmsg_mismatches(tmp_path: Path, tail: str, message: str) -> None:
    res = run(tmp_path, SERVER_OPEN + "+0 setsockopt(4, SOL_TCP, TCP_INQ, [1], 4) = 0\n"
              "+0 < P. 1:1001(1000) ack 1 win 257\n" + tail)
    assert res.status == "FAIL", res.summary()
    assert res.message == message


@pytest.mark.parametrize(("text", "line", "message"), [
    ("0 socket(..., SOCK_STREAM IPPROTO_TCP) = 3\n", 1, "parse error"),
    ("+1 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", 1, "first event should be at time 0"),
    ("--foo=1\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", 0, "option 'foo' unknown"),
    ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) <mss 1000>\n", 2,
     "semantic error: window must be specified for inbound packets"),
    ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S 0:0(0) <mss 1000,nop>\n", 2,
     "semantic error: TCP options are not padded correctly"),
    ("0 close(5) = 0\n", 1, "runtime error in close call: unable to find fd with script fd 5"),
    ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, 8080, ...) = 0\n", 2,
     "runtime error in bind call: Bad type; actual: integer expected: ellipsis"),
    ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 listen(3) = 0\n", 2,
     "runtime error in listen call: Expected 2 args but got 1"),
    ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 lisen(3, 1) = 0\n", 2,
     "runtime error in lisen call: Unknown system call: 'lisen'"),
    ("0 > . 1:1(0) ack 1\n", 1, "error handling packet: no matching socket for script packet"),
    ("2 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n1 close(3) = 0\n", 1, "first event should be at time 0"),
])
def test_bad_scripts_fail_with_a_clear_message(tmp_path: Path, text: str, line: int, message: str) -> None:
    res = run(tmp_path, text)
    assert res.status == "FAIL"
    assert res.line == line
    assert message in res.message
    assert "Traceback" not in res.message


def test_time_going_backwards(tmp_path: Path) -> None:
    res = run(tmp_path, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.5 close(3) = 0\n0.2 close(3) = 0\n")
    assert (res.status, res.line, res.message) == (
        "FAIL", 3, "time goes backward in script from 500000 usec to 200000 usec")


@pytest.mark.parametrize(("text", "what"), [
    ("`ethtool -s tun0 speed 10`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", "command `ethtool"),
    ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 splice(3, ..., 4, ..., 10, 0) = 10\n",
     "system call splice()"),
    ("--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", "--ip_version=ipv6"),
    ("`sysctl -q net.ipv4.no_such_knob=1`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
     "cannot stat /proc/sys/net/ipv4/no_such_knob"),
])
def test_what_cannot_be_emulated_is_a_skip(tmp_path: Path, text: str, what: str) -> None:
    res = run(tmp_path, text)
    assert res.status == "SKIP", res.summary()
    assert what in res.message


# --- the command ------------------------------------------------------------------------------------


def test_main_prints_one_line_per_script_and_a_summary(tmp_path: Path) -> None:
    ok = tmp_path / "ok.pkt"
    ok.write_text(SERVER_OPEN)
    bad = tmp_path / "bad.pkt"
    bad.write_text("0 socket(..., SOCK_STREAM, IPPROTO_UDP) = 3\n")
    skip = tmp_path / "skip.pkt"
    skip.write_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 pipe([5, 6]) = 0\n")
    out = io.StringIO()
    assert main([str(ok), str(skip)], out=out) == 0
    assert out.getvalue().splitlines() == [
        f"PASS {ok}", f"SKIP {skip}: unsupported: system call pipe()", "1 passed, 0 failed, 1 skipped"]
    out = io.StringIO()
    assert main([str(ok), str(bad)], out=out) == 1
    lines = out.getvalue().splitlines()
    assert lines[1].startswith(f"FAIL {bad}:1: runtime error in socket call: ")
    assert lines[-1] == "1 passed, 1 failed, 0 skipped"


def test_main_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.pkt")]) == 2
    assert "cannot open" in capsys.readouterr().err
    assert main([]) == 2


SYN_TIMEOUT = """\
`./defaults.sh
sysctl -q net.ipv4.tcp_syn_retries=1`
   +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0...3 connect(3, ..., ...) = -1 ETIMEDOUT (Connection timed out)
   +0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
   +1 > S 0:0(0) <mss 1460,sackOK,TS val 1100 ecr 0,nop,wscale 8>
"""
THIRD_SYN = "   +1 > S 0:0(0) <mss 1460,sackOK,TS val 2100 ecr 0,nop,wscale 8>\n"
CLOSE = " +1.5 close(3) = 0\n"


def test_sysctl_option_configures_the_host_before_the_script(tmp_path: Path) -> None:
    """--sysctl: tcp_syn_linear_timeouts=0 gives the pre-6.7 SYN backoff (two SYNs, ETIMEDOUT at 3 s
    with tcp_syn_retries=1, as measured on the kernel); the 6.7+ default sends a third SYN at 2 s."""
    old, new = tmp_path / "old.pkt", tmp_path / "new.pkt"
    old.write_text(SYN_TIMEOUT + "+2.5 close(3) = 0\n")
    new.write_text(SYN_TIMEOUT + THIRD_SYN + CLOSE)
    pre67 = {"net.ipv4.tcp_syn_linear_timeouts": "0"}
    passed(run_script(old, sysctls=pre67))
    passed(run_script(new))
    res = run_script(new, sysctls=pre67)
    assert (res.status, res.line) == ("FAIL", 7)  # the third SYN never comes
    assert res.message == "error handling packet: Timed out waiting for packet"
    out = io.StringIO()
    assert main([str(old), str(new)], out=out, sysctls=pre67) == 1
    assert out.getvalue().splitlines()[-1] == "1 passed, 1 failed, 0 skipped"
    out = io.StringIO()
    assert main([str(old)], out=out, sysctls={"net.ipv4.no_such_knob": "1"}) == 1
    assert ": --sysctl net.ipv4.no_such_knob=1: cannot stat /proc/sys/net/ipv4/no_such_knob: " \
        in out.getvalue()


ONE_SEGMENT_PER_PACKET = """\
`./defaults.sh`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
   +0 write(4, ..., 4000) = 4000
   +0 > . 1:1001(1000) ack 1
   +0 > . 1001:2001(1000) ack 1
   +0 > . 2001:3001(1000) ack 1
   +0 > P. 3001:4001(1000) ack 1
"""


def test_setup_option_runs_host_commands_before_the_script(tmp_path: Path) -> None:
    """--setup: with tun0's gso_max_segs at 1 every packet is one segment and only the write's last
    carries PSH; by default the 4000 bytes leave as two 2-segment TSO packets, each with PSH."""
    p = tmp_path / "seg.pkt"
    p.write_text(ONE_SEGMENT_PER_PACKET)
    res = run_script(p)
    assert (res.status, res.line) == ("FAIL", 12), res.summary()
    assert "tcp_psh: expected: 0 (0x0) vs actual: 1 (0x1)" in res.message
    passed(run_script(p, setup=["ip link set dev tun0 gso_max_segs 1"]))
    res = run_script(p, setup=["ip link set dev tun7 gso_max_segs 1"])
    assert res.status == "FAIL" and res.message.startswith("--setup 'ip link set dev tun7 gso_max_segs 1' "
                                                           "failed (exit 1): Cannot find device")


def test_cli_sysctl_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tuxnet.lab.cli import main as cli_main

    p = tmp_path / "syn.pkt"
    p.write_text(SYN_TIMEOUT + "+2.5 close(3) = 0\n")
    assert cli_main(["packetdrill", "--sysctl", "net/ipv4/tcp_syn_linear_timeouts=0", str(p)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"PASS {p}", "1 passed, 0 failed, 0 skipped"]
    assert cli_main(["packetdrill", "--setup", "ip link set dev tun0 gso_max_segs 1", str(p)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 passed, 0 failed, 0 skipped"
    assert cli_main(["packetdrill", "--sysctl", "oops", str(p)]) == 2
    assert "--sysctl wants KEY=VALUE" in capsys.readouterr().err


def test_verbose_shows_the_packets(tmp_path: Path) -> None:
    p = tmp_path / "v.pkt"
    p.write_text(SERVER_OPEN)
    out = io.StringIO()
    assert main([str(p)], verbose=True, out=out) == 0
    text = out.getvalue()
    assert "inbound injected packet:  0.000000 192.0.2.1:" in text
    assert "outbound sniffed packet:  0.000000 192.168.0.1:8080 > 192.0.2.1:" in text


def test_runs_are_deterministic(tmp_path: Path) -> None:
    p = tmp_path / "d.pkt"
    p.write_text(SERVER_OPEN)
    outs = []
    for _ in range(2):
        out = io.StringIO()
        main([str(p)], verbose=True, out=out)
        outs.append(out.getvalue())
    assert outs[0] == outs[1]


def test_inbound_icmp_frag_needed_shrinks_the_segments(tmp_path: Path) -> None:
    """The quoted header carries the live 4-tuple and our live sequence number, so TCP takes the
    new path MTU and retransmits with the smaller MSS (tcp_v4_mtu_reduced)."""
    passed(run(tmp_path, SERVER_OPEN.replace("mss 1000", "mss 1460") + """\
   +0 write(4, ..., 1460) = 1460
   +0 > P. 1:1461(1460) ack 1
   +0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
   +0 > . 1:1161(1160) ack 1
"""))


def test_frag_needed_retransmits_every_lost_part_at_once(tmp_path: Path) -> None:
    """After the MSS shrinks, tcp_simple_retransmit marks the outstanding segments lost and
    tcp_xmit_retransmit_queue resends them all at the new MSS within cwnd: the tail part left by
    fragmenting each segment goes out right after its head, not at the next RTO (on Linux each
    1460-byte skb leaves as one TSO packet of a 1160- and a 300-byte segment, as scripted here)."""
    passed(run(tmp_path, SERVER_OPEN.replace("mss 1000", "mss 1460") + """\
   +0 write(4, ..., 2920) = 2920
   +0 > . 1:1461(1460) ack 1
   +0 > P. 1461:2921(1460) ack 1
   +0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
   +0 > . 1:1461(1460) ack 1
   +0 > P. 1461:2921(1460) ack 1
"""))


def test_icmp_type_and_code_checks(tmp_path: Path) -> None:
    res = run(tmp_path, SERVER_OPEN + "   +0 < icmp unreachable port_unreachable mtu 1200\n")
    assert (res.status, res.line) == ("FAIL", 10)
    assert res.message == "semantic error: ICMPv4 MTU is only valid for unreachable-frag_needed"
    res = run(tmp_path, SERVER_OPEN + "   +0 < icmp bogus_type\n")
    assert res.message == "semantic error: bad ICMP type bogus_type"


# --- the shell ----------------------------------------------------------------------------------------


def _shell(tmp_path: Path) -> tuple[Any, Any]:
    from tuxnet.tools.packetdrill.config import Config
    from tuxnet.tools.packetdrill.netdev import make_host
    from tuxnet.tools.packetdrill.shell import Shell

    ns, _ = make_host(Config())
    return ns, Shell(ns, tmp_path, [])


def _sh(ns: Any, shell: Any, text: str) -> int:
    return ns.loop.run_until_complete(shell.run(text))


def test_shell_writes_sysctls_like_sysctl_and_proc(tmp_path: Path) -> None:
    ns, sh = _shell(tmp_path)
    assert _sh(ns, sh, 'sysctl -q net.ipv4.tcp_rmem="4096 540000 $((15*1024*1024))" \\\n'
                       '  net.ipv4.tcp_sack=0  # comment\n'
                       'echo 0 > /proc/sys/net/ipv4/tcp_timestamps; sysctl -w net/ipv4/tcp_ecn=1') == 0
    v = ns.sysctl.v
    assert v["net.ipv4.tcp_rmem"] == (4096, 540000, 15728640)
    assert (v["net.ipv4.tcp_sack"], v["net.ipv4.tcp_timestamps"], v["net.ipv4.tcp_ecn"]) == (0, 0, 1)
    (tmp_path / "set_sysctls.py").write_text("")
    assert _sh(ns, sh, "./set_sysctls.py /proc/sys/net/ipv4/tcp_syn_retries=2 "
                       "/proc/sys/net/ipv4/tcp_wmem=\"4096 50000 4194304\"") == 0
    assert (v["net.ipv4.tcp_syn_retries"], v["net.ipv4.tcp_wmem"]) == (2, (4096, 50000, 4194304))


def test_shell_writes_cubic_module_parameters_and_restores_them(tmp_path: Path) -> None:
    from tuxnet.ipv4.tcp.cong import cubic
    from tuxnet.tools.packetdrill.errors import Unsupported

    ns, sh = _shell(tmp_path)
    assert cubic.hystart_detect == 3
    assert _sh(ns, sh, "echo 2 > /sys/module/tcp_cubic/parameters/hystart_detect") == 0
    assert cubic.hystart_detect == 2
    assert _sh(ns, sh, "echo 1 > /sys/module/tcp_cubic/parameters/hystart_detect") == 0
    for bad in ("tcp_cubic/parameters/no_such_param", "tcp_bbr/parameters/x"):
        with pytest.raises(Unsupported):
            _sh(ns, sh, f"echo 1 > /sys/module/{bad}")
    sh.restore()
    assert cubic.hystart_detect == 3


CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "packetdrill"
HYSTART_DELAY = CORPUS / "google/gtests/net/tcp/cubic/cubic-hystart-delay-rtt-jumps-upward.pkt"


@pytest.mark.skipif(not HYSTART_DELAY.is_file(), reason=f"packetdrill corpus not found at {CORPUS}")
def test_hystart_detect_written_by_a_script_reaches_cubic(tmp_path: Path) -> None:
    from tuxnet.ipv4.tcp.cong import cubic

    text = HYSTART_DELAY.read_text().replace("../common/defaults.sh", "./defaults.sh")
    (tmp_path / "defaults.sh").write_text(str(CORPUS / "google/gtests/net/common/defaults.sh"))
    assert "echo 3 > /sys/module/tcp_cubic/parameters/hystart_detect" in text
    passed(run(tmp_path, text))
    # ACK-train detection only: the RTT jump no longer ends slow start where the script expects
    res = run(tmp_path, text.replace("echo 3 >", "echo 1 >"))
    assert res.status == "FAIL", res.summary()
    assert cubic.hystart_detect == 3  # restored when the run ended


def test_shell_status_discard_and_unsupported(tmp_path: Path) -> None:
    from tuxnet.tools.packetdrill.errors import Unsupported

    ns, sh = _shell(tmp_path)
    # a failure whose output is thrown away is the script's business: bash goes on
    assert _sh(ns, sh, "sysctl -q net.ipv4.no_such=1 > /dev/null 2>&1") == 1
    assert _sh(ns, sh, "sysctl -q net.ipv4.no_such=1 &> /dev/null || sysctl -q net.ipv4.tcp_sack=0") == 0
    assert ns.sysctl.v["net.ipv4.tcp_sack"] == 0
    assert _sh(ns, sh, "sysctl -e -q net.ipv4.no_such=1") == 0
    assert _sh(ns, sh, "/tmp/sysctl_restore_${PPID}.sh") == 0
    for text, what in (("sysctl -q net.ipv4.no_such=1", "cannot stat /proc/sys/net/ipv4/no_such"),
                       ("nstat | sort", "shell pipeline stage: sort"),
                       ("tc qdisc replace dev tun0 root nosuchqdisc", "tc qdisc replace"),
                       ("rm -f /tmp/x", "command `rm -f /tmp/x`")):
        with pytest.raises(Unsupported, match=re.escape(what)):
            _sh(ns, sh, text)


def test_defaults_profile_follows_symlink_text_and_falls_back(tmp_path: Path) -> None:
    ns, sh = _shell(tmp_path)
    common = tmp_path / "common"
    common.mkdir()
    (common / "defaults.sh").write_text("sysctl -q net.ipv4.tcp_sack=0\nsysctl -q net.ipv4.unknown=3\n")
    (tmp_path / "defaults.sh").write_text("common/defaults.sh\n")  # a symlink kept as text
    assert _sh(ns, sh, "./defaults.sh") == 0
    assert ns.sysctl.v["net.ipv4.tcp_sack"] == 0
    assert any("ignored" in line and "net.ipv4.unknown" in line for line in sh.log)
    # no file: the corpus profile (the same values whether read from the corpus or built in)
    ns, sh = _shell(tmp_path / "common")
    (common / "defaults.sh").unlink()
    assert _sh(ns, sh, "./defaults.sh") == 0
    assert ns.sysctl.v["net.ipv4.tcp_rmem"] == (4096, 540000, 15728640)
    assert ns.sysctl.v["net.ipv4.tcp_wmem"] == (4096, 262144, 4194304)


def test_packet_dumps_of_a_failure_only_with_verbose(tmp_path: Path) -> None:
    p = tmp_path / "f.pkt"
    p.write_text(SERVER_OPEN + "   +0 < P. 1:1001(1000) ack 1 win 257\n   +0 > . 1:1(0) ack 999\n")
    out = io.StringIO()
    assert main([str(p)], out=out) == 1
    assert len(out.getvalue().splitlines()) == 2
    out = io.StringIO()
    assert main([str(p)], verbose=True, out=out) == 1
    lines = out.getvalue().splitlines()
    assert lines[1] == "    script packet:  0.000000 . 1:1(0) ack 999"
    assert lines[2].startswith("    actual packet:  0.000000 . 1:1(0) ack 1001 win ")


def test_shell_pipes_nstat_into_grep(tmp_path: Path) -> None:
    ns, sh = _shell(tmp_path)
    assert _sh(ns, sh, "nstat > /dev/null") == 0
    # nothing counted since: grep selects no line and fails, as the script then does
    assert _sh(ns, sh, "nstat | grep TcpExtOutOfWindowIcmps > /dev/null") == 1
    ns.mib.tcpext.OutOfWindowIcmps += 2
    assert _sh(ns, sh, "nstat -s | grep -q TcpExtOutOfWindowIcmps") == 0
    assert _sh(ns, sh, "nstat | grep TcpExtOutOfWindowIcmps > /dev/null") == 0
    assert _sh(ns, sh, "nstat | grep TcpExtOutOfWindowIcmps > /dev/null") == 1  # history updated


# --- the error queue's control messages (sock_extended_err, scm_timestamping) ------------------------
_ZC_SEND = """\
+0 setsockopt(4, SOL_SOCKET, SO_ZEROCOPY, [1], 4) = 0
+0 send(4, ..., 1000, MSG_ZEROCOPY) = 1000
+0 > P. 1:1001(1000) ack 1
+.01 < . 1:1(0) ack 1001 win 257
"""
_ERRQ = ("+0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{...,0}], msg_flags=MSG_ERRQUEUE, "
         "msg_control=[%s]}, MSG_ERRQUEUE) = %s\n")
_EE = ("{cmsg_level=CMSG_LEVEL_IP, cmsg_type=CMSG_TYPE_RECVERR, cmsg_data={ee_errno=%s, ee_origin=%s, "
       "ee_type=0, ee_code=%s, ee_info=%s, ee_data=%s}}")
_TS = "{cmsg_level=SOL_SOCKET, cmsg_type=SCM_TIMESTAMPING, cmsg_data={scm_sec=0,scm_nsec=%d}}"
_ZC_OK = _EE % ("0", "SO_EE_ORIGIN_ZEROCOPY", "SO_EE_CODE_ZEROCOPY_COPIED", 0, 0)


def test_zerocopy_notification_and_empty_error_queue(tmp_path: Path) -> None:
    passed(run(tmp_path, SERVER_OPEN + _ERRQ % ("", "-1 EAGAIN (Resource temporarily unavailable)")
               + _ZC_SEND + _ERRQ % (_ZC_OK, "0")))


def test_tx_timestamps_within_the_tolerance(tmp_path: Path) -> None:
    # SERVER_OPEN ends at 0; the write at 0 is stamped SCHED/SND at 0 and ACK at 10 ms
    flags = ("SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_ACK"
             " | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID")
    stamp = _ERRQ.replace("msg_flags=MSG_ERRQUEUE", "msg_flags=MSG_ERRQUEUE|MSG_TRUNC")
    ee = "ENOMSG", "SO_EE_ORIGIN_TIMESTAMPING", 0
    reads = "".join(stamp % (_TS % ns + ", " + _EE % (*ee, kind, 999), "0")
                    for ns, kind in ((0, "SCM_TSTAMP_SCHED"), (0, "SCM_TSTAMP_SND"),
                                     (10_000_000, "SCM_TSTAMP_ACK")))
    passed(run(tmp_path, SERVER_OPEN + f"+0 setsockopt(4, SOL_SOCKET, SO_TIMESTAMPING, [{flags}], 4) = 0\n"
               "+0 write(4, ..., 1000) = 1000\n+0 > P. 1:1001(1000) ack 1\n+.01 < . 1:1(0) ack 1001 win 257\n"
               + reads))


@pytest.mark.parametrize(("control", "message"), [
    (_EE % ("0", "SO_EE_ORIGIN_ZEROCOPY", "SO_EE_CODE_ZEROCOPY_COPIED", 0, 1),
     "runtime error in recvmsg call: Bad data in extended err 0: expected=1 actual=0"),
    (_EE % ("0", "SO_EE_ORIGIN_ZEROCOPY", "0", 0, 0),
     "runtime error in recvmsg call: Bad code in extended err 0: expected=0 actual=1"),
    (_TS % 0 + ", " + _ZC_OK, "runtime error in recvmsg call: Bad level in cmsg 0: expected=1 actual=0"),
    ("", "runtime error in recvmsg call: Expected msg_flags 0x00002000 but got 0x00002008"),
])
def test_error_queue_mismatches(tmp_path: Path, control: str, message: str) -> None:
    res = run(tmp_path, SERVER_OPEN + _ZC_SEND + _ERRQ % (control, "0"))
    assert res.status == "FAIL", res.summary()
    assert res.message == message
