"""The tcpdump tool in a lab: live capture (count, interrupt, direction, snap length, ``any``),
its messages and errors (golden texts from Debian 12's tcpdump 4.99.3, and the same cases run
through the real tcpdump where it is installed), and the pcap files it writes and reads.

h1 eth1 10.0.0.1/24 -- eth0 10.0.0.2/24 h2
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tuxnet.lab.lab import Lab
from tuxnet.skb import Csum, SkBuff
from tuxnet.socket import AF_INET, SOCK_DGRAM
from tuxnet.tools import run_argv, run_command
from tuxnet.tools.tcpdump import USAGE, VERSION
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.pcap import read_pcap

TCPDUMP = shutil.which("tcpdump")
needs_tcpdump = pytest.mark.skipif(TCPDUMP is None,
                                   reason="tcpdump is not installed (apt-get install tcpdump)")
SUMMARY = "{} packets captured\n{} packets received by filter\n0 packets dropped by kernel\n"
LISTEN = ("tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n"
          "listening on {}, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n")


def two_hosts(seed: int = 1) -> Lab:
    lab = Lab(seed)
    h1, h2 = lab.add_host("h1"), lab.add_host("h2")
    a, b = lab.add_link(h1, "eth1", h2, "eth0")
    h1.devinet.add(a, ip_aton("10.0.0.1"), 24)
    h2.devinet.add(b, ip_aton("10.0.0.2"), 24)
    return lab


async def send_udp(lab: Lab, ports: list[int], gap: float = 0.1, dst: str = "10.0.0.2",
                   sport: int = 40000) -> None:
    s = lab.host("h1").socket(AF_INET, SOCK_DGRAM)
    s.bind(("0.0.0.0", sport))
    for port in ports:
        await asyncio.sleep(gap)
        s.sendto(b"x" * 10, (dst, port))
    await asyncio.sleep(0.01)  # the answers arrive


def background(lab: Lab, node: str, cmdline: str) -> tuple[asyncio.Future[int], io.StringIO, io.StringIO]:
    """Start a command as a background job on the lab's loop (what ``cmd &`` will do)."""
    out, err = io.StringIO(), io.StringIO()
    task = asyncio.ensure_future(run_argv(lab.host(node), cmdline.split(), out, err), loop=lab.loop)
    return task, out, err


# ------------------------------------------------------------------ live capture
def test_count_stops_the_capture_and_prints_the_summary() -> None:
    lab = two_hosts()

    async def go() -> tuple[int, str, str]:
        task, out, err = background(lab, "h1", "tcpdump -nn -i eth1 -c 3 udp")
        await send_udp(lab, [9, 7, 53, 5000])
        return await task, out.getvalue(), err.getvalue()

    rc, out, err = lab.run_coro(go(), timeout=60)
    assert rc == 0
    assert err == LISTEN.format("eth1") + SUMMARY.format(3, 3)
    lines = out.splitlines()
    assert [ln.split(" > ")[1].split(":")[0] for ln in lines] == ["10.0.0.2.9", "10.0.0.2.7", "10.0.0.2.53"]
    assert lines[0] == "00:00:00.100000 IP 10.0.0.1.40000 > 10.0.0.2.9: UDP, length 10"
    assert lines[1].startswith("00:00:00.200000 ")


def test_lines_are_written_as_packets_arrive() -> None:
    lab = two_hosts()
    seen: list[int] = []

    async def go() -> None:
        task, out, _ = background(lab, "h1", "tcpdump -nn -i eth1 udp")
        s = lab.host("h1").socket(AF_INET, SOCK_DGRAM)
        for port in (1, 2, 3):
            await asyncio.sleep(0.5)
            s.sendto(b"x", ("10.0.0.2", port))
            await asyncio.sleep(0.01)
            seen.append(out.getvalue().count("\n"))
        task.cancel()
        await task

    lab.run_coro(go(), timeout=60)
    assert seen == [1, 2, 3]


def test_interrupt_ends_the_line_then_prints_statistics() -> None:
    lab = two_hosts()

    async def go() -> tuple[int, str]:
        buf = io.StringIO()
        argv = ["timeout", "2", "tcpdump", "-n", "icmp"]
        job = asyncio.ensure_future(run_argv(lab.host("h1"), argv, buf, buf))
        await send_udp(lab, [9, 8])  # two port unreachables come back
        return await job, buf.getvalue()

    rc, text = lab.run_coro(go(), timeout=60)
    assert rc == 124  # timeout(1)'s status; tcpdump itself exits 0 on SIGTERM
    lines = text.split("\n")
    assert lines[:2] == LISTEN.format("eth1").splitlines()
    assert lines[2] == ("00:00:00.100000 IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9 unreachable, "
                        "length 46")
    assert lines[3].endswith("udp port 8 unreachable, length 46")
    assert "\n".join(lines[4:]) == "\n" + SUMMARY.format(2, 2)
    assert lab.now == 2 * 10**9


def test_a_lone_capture_keeps_time_moving_until_the_command_limit() -> None:
    lab = two_hosts()
    rc, out = run_command(lab.host("h1"), "tcpdump -c 1", timeout=5)
    assert rc == 130
    assert out == LISTEN.format("eth1") + "\n" + SUMMARY.format(0, 0) + \
        "tuxnet: command stopped after 5 s of virtual time\n"


def test_direction_and_snapshot_length(tmp_path: Path) -> None:
    lab = two_hosts()

    async def go() -> list[str]:
        jobs = [background(lab, "h1", f"tcpdump -nn -Q {d} -i eth1 udp or icmp")
                for d in ("in", "out", "inout")]
        snap = background(lab, "h1", f"tcpdump -i eth1 -s 60 -w {tmp_path / 's.pcap'} udp")
        await send_udp(lab, [9, 10])
        for task, _, _ in [*jobs, snap]:
            task.cancel()
            await task
        return [o.getvalue() for _, o, _ in jobs]

    inn, out, both = lab.run_coro(go(), timeout=60)
    assert inn.count("ICMP") == 2 and "UDP" not in inn
    assert out.count("UDP") == 2 and "ICMP" not in out
    assert both.count("\n") == 5  # four packets and the line end after the interrupt
    recs = read_pcap(str(tmp_path / "s.pcap"))
    assert [(orig, len(data)) for _, orig, data in recs] == [(52, 52), (52, 52)]
    with open(tmp_path / "s.pcap", "rb") as f:
        assert struct.unpack("<IHHiIII", f.read(24))[5] == 60  # the file's snaplen


def test_snaplen_cuts_records_and_the_decode(tmp_path: Path) -> None:
    lab = two_hosts()

    async def go() -> str:
        task, out, _ = background(lab, "h1", f"tcpdump -nn -s 40 -c 1 -w {tmp_path / 'c.pcap'} --print icmp")
        await send_udp(lab, [9])
        await task
        return out.getvalue()

    text = lab.run_coro(go(), timeout=60)
    assert text == "00:00:00.100000 IP 10.0.0.2 > 10.0.0.1:  [|icmp]\n"  # 40 bytes: 6 of the ICMP header
    [(_, orig, data)] = read_pcap(str(tmp_path / "c.pcap"))
    assert (orig, len(data)) == (80, 40)
    rc, back = run_command(lab.host("h1"), f"tcpdump -nn -r {tmp_path / 'c.pcap'}")
    assert (rc, back.splitlines()[1:]) == (0, text.splitlines())
    if TCPDUMP is not None:
        real = subprocess.run([TCPDUMP, "-nn", "-r", str(tmp_path / "c.pcap")], capture_output=True,
                              text=True,
                              env={**os.environ, "TZ": "UTC"})
        assert real.stdout == text


def test_any_uses_linux_cooked_v2_and_shows_lo_once(tmp_path: Path) -> None:
    lab = two_hosts()
    h1 = lab.host("h1")

    async def go() -> tuple[str, str]:
        task, out, err = background(lab, "h1", f"tcpdump -nn -i any -w {tmp_path / 'any.pcap'} --print")
        await send_udp(lab, [9], dst="10.0.0.1")  # over lo: out and in, shown once
        await send_udp(lab, [7], sport=40001)
        await asyncio.sleep(0.1)
        task.cancel()
        await task
        return out.getvalue(), err.getvalue()

    out, err = lab.run_coro(go(), timeout=60)
    assert err.splitlines()[:2] == [
        "tcpdump: data link type LINUX_SLL2",
        "tcpdump: listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes"]
    lines = out.splitlines()
    assert lines[0] == "00:00:00.100000 lo    In  IP 10.0.0.1.40000 > 10.0.0.1.9: UDP, length 10"
    assert lines[1] == ("00:00:00.100000 lo    In  IP 10.0.0.1 > 10.0.0.1: ICMP 10.0.0.1 udp port 9 "
                        "unreachable, length 46")
    assert lines[2].startswith("00:00:00.210000 eth1  Out ARP, Request who-has 10.0.0.2 tell 10.0.0.1")
    assert "eth1  In  ARP, Reply 10.0.0.2 is-at" in lines[3]
    assert lines[4].startswith("00:00:00.210000 eth1  Out IP 10.0.0.1.40001 > 10.0.0.2.7: UDP")
    assert lines[5].startswith("00:00:00.210000 eth1  In  IP 10.0.0.2 > 10.0.0.1: ICMP")
    captured = len(lines) - 1
    assert err.splitlines()[2:4] == [f"{captured} packets captured",
                                     f"{captured + 2} packets received by filter"]
    with open(tmp_path / "any.pcap", "rb") as f:
        assert struct.unpack("<IHHiIII", f.read(24))[6] == 276
    rc, text = run_command(h1, f"tcpdump -nn -e -r {tmp_path / 'any.pcap'} udp and dst port 7")
    assert rc == 0
    assert text.splitlines()[-1].startswith(
        f"00:00:00.210000 eth1  Out ifindex 2 {h1.dev('eth1').mac.hex(':')} ethertype IPv4 (0x0800), "
        "length 58: "
        "10.0.0.1.40001 > 10.0.0.2.7: UDP, length 10")
    rc, text = run_command(h1, "tcpdump -i any ether host 02:00:00:00:00:01")
    assert (rc, text) == (1, "tcpdump: data link type LINUX_SLL2\ntcpdump: ethernet addresses supported only "
                          "on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel\n")
    assert run_command(h1, "tcpdump -i any vlan")[1].endswith(
        "tcpdump: no VLAN support for Linux cooked v2\n")
    assert run_command(h1, "tcpdump -i any broadcast")[1].endswith("tcpdump: not a broadcast link\n")


def test_checksums_left_to_the_hardware_are_filled_in(tmp_path: Path) -> None:
    lab = two_hosts()
    dev = lab.host("h1").dev("eth1")
    frame = bytes.fromhex("ffffffffffff") + dev.mac + bytes.fromhex(
        "0800" "4500001e00004000401100000a0000010a0000ff" "9c400009000aabcd" "6869")
    frame = bytearray(frame)
    frame[24:26] = struct.pack("!H", 0x10000 - 1 - (sum(struct.unpack("!10H", frame[14:34])) % 0xFFFF))

    async def go() -> str:
        task, out, _ = background(lab, "h1", f"tcpdump -nn -vv -c 1 -w {tmp_path / 'p.pcap'} --print")
        await asyncio.sleep(0.1)
        skb = SkBuff.from_bytes(bytes(frame))
        skb.ip_summed = Csum.PARTIAL
        dev.queue_xmit(skb)
        await task
        return out.getvalue()

    text = lab.run_coro(go(), timeout=60)
    assert "10.0.0.1.40000 > 10.0.0.255.9: UDP, length 2" in text
    [(_, _, data)] = read_pcap(str(tmp_path / "p.pcap"))
    assert data[40:42] != b"\xab\xcd"
    from tuxnet.wire.checksum import csum_fold, csum_partial, pseudo_header_sum

    assert csum_fold(csum_partial(data[34:], pseudo_header_sum(0x0A000001, 0x0A0000FF, 17, 10))) == 0


def test_written_files_are_microsecond_unless_nano(tmp_path: Path) -> None:
    lab = two_hosts()

    async def go() -> None:
        jobs = [background(lab, "h1", f"tcpdump -c 2 -w {tmp_path / n} {o} udp")
                for n, o in (("u.pcap", ""), ("n.pcap", "--nano"), ("p.pcap", "--time-stamp-precision=nano"))]
        await send_udp(lab, [1, 2], gap=0.1234567)
        for task, _, _ in jobs:
            assert await task == 0

    lab.run_coro(go(), timeout=60)
    heads = {n: (tmp_path / n).read_bytes()[:4] for n in ("u.pcap", "n.pcap", "p.pcap")}
    assert heads == {"u.pcap": bytes.fromhex("d4c3b2a1"), "n.pcap": bytes.fromhex("4d3cb2a1"),
                     "p.pcap": bytes.fromhex("4d3cb2a1")}
    assert [ts for ts, _, _ in read_pcap(str(tmp_path / "u.pcap"))] == [123456000, 246913000]
    assert [ts for ts, _, _ in read_pcap(str(tmp_path / "n.pcap"))] == [123456700, 246913400]
    h1 = lab.host("h1")
    assert run_command(h1, f"tcpdump -r {tmp_path / 'n.pcap'} --nano -c 1 -tt")[1].splitlines()[1].startswith(
        "0.123456700 IP 10.0.0.1.40000 > 10.0.0.2.1: UDP")


# ------------------------------------------------------------------ messages and errors
def test_default_interface_and_list() -> None:
    lab = two_hosts()
    h1 = lab.host("h1")
    assert run_command(h1, "tcpdump -D") == (
        0, "1.eth1 [Up, Running, Connected]\n2.any (Pseudo-device that captures on all interfaces) "
        "[Up, Running]\n3.lo [Up, Running, Loopback]\n")
    assert run_command(h1, "ip link set dev eth1 down")[0] == 0
    assert run_command(h1, "tcpdump -D")[1].splitlines() == [
        "1.any (Pseudo-device that captures on all interfaces) [Up, Running]",
        "2.lo [Up, Running, Loopback]", "3.eth1 [none, Disconnected]"]
    rc, out = run_command(h1, "timeout 1 tcpdump -c 1")
    assert rc == 124 and "listening on any, link-type LINUX_SLL2" in out
    assert run_command(h1, "tcpdump -i eth1") == (1, "tcpdump: eth1: That device is not up\n")
    rc, out = run_command(h1, "timeout 1 tcpdump -i 2")
    assert "listening on lo, link-type EN10MB" in out
    assert run_command(h1, "tcpdump -i 7") == (1, "tcpdump: Invalid adapter index\n")


GOLDEN_ERRORS = [  # (arguments, exit status, output) as tcpdump 4.99.3 prints them
    ("-i eth9", 1, "tcpdump: eth9: No such device exists\n(No such device exists)\n"),
    ("-c 0", 1, "tcpdump: invalid packet count 0\n"),
    ("-c abc", 1, "tcpdump: invalid packet count abc\n"),
    ("-s 300000", 1, "tcpdump: invalid snaplen 300000 (must be >= 0 and <= 262144)\n"),
    ("-Q sideways", 1, "tcpdump: unknown capture direction `sideways'\n"),
    ("-c", 1, "tcpdump: option requires an argument -- 'c'\n" + VERSION + USAGE),
    ("--bogus", 1, "tcpdump: unrecognized option '--bogus'\n" + VERSION + USAGE),
    ("-k", 1, "tcpdump: invalid option -- 'k'\n" + VERSION + USAGE),
    ("--count=3", 1, "tcpdump: option '--count' doesn't allow an argument\n" + VERSION + USAGE),
    ("-i eth1 tcp port", 1, "tcpdump: can't parse filter expression: syntax error\n"),
    ("-i eth1 host nosuchhost", 1, "tcpdump: unknown host 'nosuchhost'\n"),
    ("-r /nonexistent.pcap", 1, "tcpdump: /nonexistent.pcap: No such file or directory\n"),
    ("-r /", 1, "tcpdump: error reading dump file: Is a directory\n"),
    ("-w /nonexistent/x.pcap", 1, "tcpdump: listening on eth1, link-type EN10MB (Ethernet), snapshot "
     "length 262144 bytes\n"),
    ("-h", 0, VERSION + USAGE),
    ("--version", 0, VERSION),
    ("-q", 1, "tcpdump: option -q is not supported by tuxnet's tcpdump\n"),
]


@pytest.mark.parametrize(("args", "status", "text"), GOLDEN_ERRORS[:-3] + GOLDEN_ERRORS[-2:])
def test_golden_messages(args: str, status: int, text: str) -> None:
    lab = two_hosts()
    if args.startswith("-w "):
        text = "tcpdump: /nonexistent/x.pcap: No such file or directory\n"
    assert run_command(lab.host("h1"), f"tcpdump {args}") == (status, text)


def _files(tmp_path: Path) -> dict[str, Path]:
    lab = two_hosts()
    good = tmp_path / "good.pcap"

    async def go() -> None:
        task, _, _ = background(lab, "h1", f"tcpdump -c 4 -w {good}")
        await send_udp(lab, [9])
        await task

    lab.run_coro(go(), timeout=60)
    data = good.read_bytes()
    files = {"good": good}
    for name, content in (("rec", data[:24 + 16 + 10]), ("rechead", data[:24 + 7]), ("head", data[:10]),
                          ("empty", b""), ("text", b"hello, world\n" * 3), ("nopackets", data[:24]),
                          ("pcapng", bytes.fromhex("0a0d0d0a") + bytes(40)),
                          ("big", data[:24] + struct.pack("<IIII", 0, 0, 300000, 300000) + bytes(64))):
        files[name] = tmp_path / f"{name}.pcap"
        files[name].write_bytes(content)
    return files


def test_reading_bad_files(tmp_path: Path) -> None:
    f = _files(tmp_path)
    h = two_hosts().host("h1")
    head = "reading from file {}, link-type EN10MB (Ethernet), snapshot length 262144\n"
    assert run_command(h, f"tcpdump -r {f['rec']}") == (
        1, head.format(f["rec"]) + "tcpdump: pcap_loop: truncated dump file; tried to read 42 captured "
        "bytes, only got 10\n")
    assert run_command(h, f"tcpdump -r {f['rechead']}") == (
        1, head.format(f["rechead"]) + "tcpdump: pcap_loop: truncated dump file; tried to read 16 header "
        "bytes, only got 7\n")
    assert run_command(h, f"tcpdump -r {f['head']}") == (
        1, "tcpdump: truncated dump file; tried to read 24 file header bytes, only got 6\n")
    assert run_command(h, f"tcpdump -r {f['empty']}") == (
        1, "tcpdump: truncated dump file; tried to read 4 file header bytes, only got 0\n")
    assert run_command(h, f"tcpdump -r {f['text']}") == (1, "tcpdump: unknown file format\n")
    assert run_command(h, f"tcpdump -r {f['nopackets']}") == (0, head.format(f["nopackets"]))
    assert run_command(h, f"tcpdump -r {f['big']}")[1].endswith(
        "tcpdump: pcap_loop: invalid packet capture length 300000, bigger than snaplen of 262144\n")
    rc, out = run_command(h, f"tcpdump -r {f['pcapng']}")
    assert rc == 1 and "pcapng files are not supported" in out
    assert run_command(h, f"tcpdump -r {f['good']} --count") == (0, head.format(f["good"]) + "4 packets\n")
    assert run_command(h, f"tcpdump -r {f['good']} --count icmp") == (
        0, head.format(f["good"]) + "1 packet\n")


@needs_tcpdump
@pytest.mark.parametrize("which", ["rec", "rechead", "head", "empty", "text", "nopackets", "good", "big"])
def test_file_errors_match_the_real_tcpdump(tmp_path: Path, which: str) -> None:
    f = _files(tmp_path)[which]
    real = subprocess.run([TCPDUMP or "tcpdump", "-nn", "-r", str(f)], capture_output=True, text=True,
                          env={**os.environ, "TZ": "UTC"})
    out, err = io.StringIO(), io.StringIO()
    lab = Lab()
    from tuxnet.tools import tcpdump

    rc = lab.run_coro(tcpdump.main(lab.add_host("x"), ["-nn", "-r", str(f)], out, err))
    assert (rc, out.getvalue(), err.getvalue()) == (real.returncode, real.stdout, real.stderr)


@needs_tcpdump
@pytest.mark.parametrize("args", [a for a, _, _ in GOLDEN_ERRORS if not a.startswith(("-i", "-w", "-q"))])
def test_option_errors_match_the_real_tcpdump(args: str) -> None:
    real = subprocess.run(["tcpdump", *args.split()], executable=TCPDUMP, capture_output=True, text=True)
    rc, text = run_command(two_hosts().host("h1"), f"tcpdump {args}")
    # Debian's binary adds its OpenSSL version after the libpcap line; tuxnet links no OpenSSL
    real_text = "".join(ln for ln in (real.stderr + real.stdout).splitlines(True)
                        if not ln.startswith("OpenSSL"))
    assert (rc, text) == (real.returncode, real_text)
