"""Lab captures (lab/capture.py): what ``LabCapture`` and ``tuxnet run --pcap`` write is a pcap that
tcpdump and tshark read without complaint, holds every frame each interface saw in both
directions, and reads back through tuxnet's own ``tcpdump -r``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tuxnet.lab import cli
from tuxnet.lab.build import build
from tuxnet.lab.capture import DeviceCapture, LabCapture
from tuxnet.lab.topology import load
from tuxnet.socket import AF_INET, SO_BROADCAST, SOCK_DGRAM, SOL_SOCKET
from tuxnet.tools import run_command
from tuxnet.wire.pcap import read_pcap

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.yml"
TCPDUMP = shutil.which("tcpdump")
TSHARK = shutil.which("tshark")
DNS_QUERY = bytes.fromhex("1234010000010000000000000268330366" "6f6f036c61620000010001")


def demo_traffic(lab) -> None:
    async def go() -> None:
        h1, h2 = lab.host("h1"), lab.host("h2")
        s = h1.socket(AF_INET, SOCK_DGRAM)
        for port in (53, 9, 4000):  # a real DNS query to port 53: tshark decodes it
            s.sendto(DNS_QUERY if port == 53 else b"lab capture %d" % port, ("10.0.2.2", port))
            await asyncio.sleep(0.2)
        s.sendto(b"F" * 3000, ("10.0.2.2", 9))  # fragmented for 1500, again for the 1280 link
        b = h2.socket(AF_INET, SOCK_DGRAM)
        b.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)
        b.sendto(b"to all", ("10.0.1.255", 7))
        await asyncio.sleep(1.0)

    lab.run_coro(go(), timeout=30)


@pytest.fixture
def demo_capture(tmp_path: Path) -> tuple[LabCapture, dict[str, Path]]:
    lab = build(load(str(DEMO)), seed=4)
    cap = LabCapture(lab, tmp_path)
    demo_traffic(lab)
    cap.close()
    return cap, {p.name: p for p in cap.paths()}


def test_every_interface_has_a_file_with_what_it_saw(demo_capture) -> None:
    cap, files = demo_capture
    assert sorted(files) == sorted(["h1-eth1.pcap", "h2-eth1.pcap", "h3-eth1.pcap", "r1-eth1.pcap",
                                    "r1-eth2.pcap", "sw1-p1.pcap", "sw1-p2.pcap", "sw1-p3.pcap",
                                    "sw1-sw1.pcap"])
    counts = {f"{c.dev.ns.name}-{c.dev.name}.pcap": c.count for c in cap.captures}
    for name, path in files.items():
        recs = read_pcap(str(path))
        assert len(recs) == counts[name]
        assert [ts for ts, _, _ in recs] == sorted(ts for ts, _, _ in recs)
    # a bridge port sees both directions of what crosses it; h3 sees the refragmented datagram
    assert counts["sw1-p1.pcap"] == counts["h1-eth1.pcap"]
    reader = build(load(str(DEMO))).host("h3")
    h3 = run_command(reader, f"tcpdump -nn -r {files['h3-eth1.pcap']} udp or ip[6:2] > 0")
    assert h3[0] == 0 and "10.0.1.2" in h3[1]


def test_device_capture_direction_match_and_callback(tmp_path: Path) -> None:
    lab = build(load(str(DEMO)), seed=4)
    dev = lab.host("h1").dev("eth1")
    got: list[tuple[int, int, bool]] = []
    out = DeviceCapture(dev, direction="out", callback=lambda ts, f, o: got.append((ts, len(f), o)))
    udp_in = DeviceCapture(dev, direction="in", match=lambda f: f[12:14] == b"\x08\x00" and f[23] == 1)
    demo_traffic(lab)
    out.close()
    udp_in.close()
    assert got and all(o for _, _, o in got)
    assert udp_in.count >= 3  # the port unreachables from h3 (53, 9, 4000)


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")
def test_tshark_reads_lab_captures_cleanly(demo_capture) -> None:
    _, files = demo_capture
    for name, path in files.items():
        p = subprocess.run([TSHARK or "tshark", "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE",
                            "-o", "udp.check_checksum:TRUE", "-q", "-z", "expert,error"],
                           capture_output=True, text=True, env={**os.environ, "HOME": str(path.parent)})
        assert p.returncode == 0, p.stderr
        assert "Errors" not in p.stdout and "Malformed" not in p.stdout, (name, p.stdout)
        f = subprocess.run([TSHARK or "tshark", "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE",
                            "-o", "udp.check_checksum:TRUE", "-T", "fields", "-e", "ip.checksum.status",
                            "-e", "udp.checksum.status", "-e", "icmp.checksum.status"],
                           capture_output=True, text=True, env={**os.environ, "HOME": str(path.parent)})
        statuses = {s for line in f.stdout.splitlines() for s in line.split("\t") if s}
        assert statuses <= {"1", "2", "1,1", "1,2", "2,2"}, (name, statuses)  # 1 good, 2 unverified
        assert "1" in statuses


@pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed (apt-get install tcpdump)")
def test_tcpdump_and_tuxnet_read_lab_captures_alike(demo_capture) -> None:
    _, files = demo_capture
    reader = build(load(str(DEMO))).host("h1")
    for path in files.values():
        real = subprocess.run([TCPDUMP or "tcpdump", "-nn", "-e", "-r", str(path)], capture_output=True,
                              text=True, env={**os.environ, "TZ": "UTC"})
        rc, ours = run_command(reader, f"tcpdump -nn -e -r {path}")
        assert rc == real.returncode
        assert ours.splitlines() == (real.stderr + real.stdout).splitlines(), path.name


def test_cli_run_with_pcap_reads_its_own_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcap = tmp_path / "pcap"
    rc = cli.main(["run", str(DEMO), "--seed", "2", "--pcap", str(pcap),
                   "--cmd", f"h1: timeout 2 tcpdump -nn -i eth1 -c 2 -w {tmp_path / 'own.pcap'} arp",
                   "--cmd", f"h1: tcpdump -nn -r {tmp_path / 'own.pcap'}",
                   "--cmd", f"h1: tcpdump -nn -r {pcap / 'h1-eth1.pcap'} -c 1"])
    out = capsys.readouterr().out
    assert rc == 1, out  # the first capture times out (exit 124): nothing sends ARP in a quiet lab
    assert "=== h1$ timeout 2 tcpdump" in out and "0 packets captured" in out
    assert out.count("reading from file") == 2
    assert out.count("--- exit") == 1
