"""Lab captures (lab/capture.py): what ``LabCapture`` and ``tuxnet run --pcap`` write is a pcap that
tcpdump and tshark read without complaint, holds every frame each interface saw in both
directions, carries the checksums the wire does (those left to the "hardware" filled in, as
``tcpdump -w`` fills them) and reads back through tuxnet's own ``tcpdump -r``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tuxnet.lab import cli
from tuxnet.lab.build import build
from tuxnet.lab.capture import DeviceCapture, LabCapture
from tuxnet.lab.topology import load
from tuxnet.skb import Csum, SkBuff
from tuxnet.socket import AF_INET, SO_BROADCAST, SOCK_DGRAM, SOL_SOCKET
from tuxnet.tools import run_command
from tuxnet.wire.checksum import csum_fold, inet_checksum, pseudo_header_sum
from tuxnet.wire.pcap import read_pcap
from tuxnet.wire.tcp import tcp_checksum_ok
from tuxnet.wire.udp import udp_checksum_ok

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


def checksum_verdicts(frame: bytes) -> list[tuple[str, bool]]:
    """(protocol, correct) for each checksum of an IPv4 frame that can be checked on its own: the IP
    header's, and TCP's, UDP's (when sent) or ICMP's when the frame holds the whole datagram."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return []
    ihl = (frame[14] & 15) * 4
    tot_len = int.from_bytes(frame[16:18], "big")
    out = [("ip", inet_checksum(frame[14:14 + ihl]) == 0)]
    if int.from_bytes(frame[20:22], "big") & 0x3FFF:  # a fragment: the L4 checksum spans others
        return out
    seg = frame[14 + ihl:14 + tot_len]
    saddr, daddr = int.from_bytes(frame[26:30], "big"), int.from_bytes(frame[30:34], "big")
    proto = frame[23]
    if proto == 6:
        out.append(("tcp", tcp_checksum_ok(saddr, daddr, seg)))
    elif proto == 17 and seg[6:8] != b"\0\0":
        out.append(("udp", udp_checksum_ok(saddr, daddr, seg)))
    elif proto == 1:
        out.append(("icmp", inet_checksum(seg) == 0))
    return out


def offloaded_frame(src_mac: bytes, dst_mac: bytes, proto: int, l4: bytes) -> bytes:
    """An IPv4 frame 10.0.1.2 -> 10.0.1.3 whose transport checksum is left to the NIC as Linux leaves
    it (CHECKSUM_PARTIAL): the field holds the folded pseudo-header sum, not the checksum."""
    saddr, daddr = 0x0A000102, 0x0A000103
    ip = bytearray(struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(l4), 7, 0x4000, 64, proto, 0, saddr, daddr))
    ip[10:12] = inet_checksum(ip).to_bytes(2, "big")
    field = 16 if proto == 6 else 6
    seg = bytearray(l4)
    partial = ~csum_fold(pseudo_header_sum(saddr, daddr, proto, len(l4))) & 0xFFFF
    seg[field:field + 2] = partial.to_bytes(2, "big")
    return dst_mac + src_mac + b"\x08\x00" + bytes(ip) + bytes(seg)


def test_lab_captures_carry_the_checksums_the_wire_does(tmp_path: Path) -> None:
    """LabCapture records frames as ``tcpdump -w`` does (drivers/netdevice.py tap_frame): a UDP
    datagram and a TCP SYN sent with CHECKSUM_PARTIAL are captured with their checksums completed on
    every interface they cross, and every checksum in every file of the lab checks out."""
    lab = build(load(str(DEMO)), seed=4)
    cap = LabCapture(lab, tmp_path)
    demo_traffic(lab)
    h1, h2 = lab.host("h1"), lab.host("h2")
    dev, mac2 = h1.dev("eth1"), h2.dev("eth1").mac
    listener = h2.socket(AF_INET, SOCK_DGRAM)
    listener.bind(("", 4444))  # delivered, not bounced: an ICMP error would quote the unfinished sum
    udp = struct.pack("!HHHH", 40000, 4444, 12, 0) + b"abcd"
    syn = struct.pack("!HHIIBBHHH", 40001, 4445, 1000, 0, 0x50, 0x02, 64240, 0, 0)
    for proto, l4 in ((17, udp), (6, syn)):
        skb = SkBuff.from_bytes(offloaded_frame(dev.mac, mac2, proto, l4))
        skb.ip_summed = Csum.PARTIAL
        dev.queue_xmit(skb)
    lab.run(1)
    cap.close()
    # h2 took both as checksummed (skb_csum_unnecessary): the datagram was delivered, a RST came back
    assert listener.recvfrom(100) == (b"abcd", ("10.0.1.2", 40000))
    assert h2.mib.udp.InCsumErrors == 0
    assert h2.mib.tcp.InCsumErrors == 0 and h2.mib.tcp.OutRsts == 1
    verdicts: dict[str, list[tuple[str, bool]]] = {}
    for path in cap.paths():
        verdicts[path.name] = [v for _, _, frame in read_pcap(str(path)) for v in checksum_verdicts(frame)]
        assert all(ok for _, ok in verdicts[path.name]), (path.name, verdicts[path.name])
    for name in ("h1-eth1.pcap", "sw1-p1.pcap", "sw1-p2.pcap", "h2-eth1.pcap"):  # the two frames' path
        assert {"ip", "udp", "tcp"} <= {proto for proto, _ in verdicts[name]}, name
        frames = [frame for _, _, frame in read_pcap(str(tmp_path / name))]
        assert any(f[34:38] == bytes.fromhex("9c40115c") for f in frames), name  # 40000 -> 4444
        assert any(f[34:38] == bytes.fromhex("9c41115d") for f in frames), name  # 40001 -> 4445
    assert "icmp" in {proto for v in verdicts.values() for proto, _ in v}  # h3's port unreachables
    if TSHARK is not None:
        for path in cap.paths():
            f = subprocess.run([TSHARK, "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE",
                                "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                                "-T", "fields", "-e", "ip.checksum.status", "-e", "udp.checksum.status",
                                "-e", "tcp.checksum.status", "-e", "icmp.checksum.status"],
                               capture_output=True, text=True, env={**os.environ, "HOME": str(path.parent)})
            assert f.returncode == 0, f.stderr
            statuses = {s for line in f.stdout.splitlines() for field in line.split("\t") if field
                        for s in field.split(",")}
            assert statuses <= {"1", "2"}, (path.name, statuses)  # 1 good, 2 unverified; 0 would be bad
