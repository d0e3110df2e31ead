"""ARP and ICMP echo between tuxnet (on a TAP) and the Linux kernel (in a netns), both ways, including
4,000-byte pings that both sides must fragment and reassemble."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import signal
import struct

import pytest

from tuxnet.socket import AF_INET, IPPROTO_ICMP, SOCK_RAW
from tuxnet.wire.checksum import csum_fold, csum_partial

from .conftest import KERNEL_IP, TUXNET_IP, needs_root, sh

pytestmark = [pytest.mark.root, needs_root]

HAVE_PING_TOOL = importlib.util.find_spec("tuxnet.tools.ping") is not None


def test_kernel_resolves_and_pings_tuxnet(kernel, live):
    lv = live("--serve", "echo")
    mac = re.search(r"mac ([0-9a-f:]{17})", lv.ready_line()).group(1)
    p = kernel.exec(["ping", "-c", "3", "-i", "0.2", "-W", "2", TUXNET_IP], check=False)
    assert "3 packets transmitted, 3 received" in p.stdout, p.stdout + lv.text()
    assert re.findall(r"64 bytes from 10\.99\.0\.2: icmp_seq=(\d) ttl=64", p.stdout) == ["1", "2", "3"]
    neigh = kernel.ip(f"neigh show {TUXNET_IP} dev {lv.tap}").stdout
    assert f"lladdr {mac}" in neigh and re.search(r"REACHABLE|STALE|DELAY", neigh)
    assert mac != kernel.mac(lv.tap)  # tuxnet's NIC has its own MAC, not the kernel TAP's
    assert lv.stop() == 0, lv.text()


def test_kernel_pings_tuxnet_with_4000_bytes(kernel, inproc):
    """The kernel fragments the request, tuxnet reassembles it, and fragments its reply."""
    async def go():
        return await inproc.kernel_python(
            "import subprocess,sys; p=subprocess.run(['ping','-c','3','-i','0.2','-W','2','-s','4000',"
            f"'{TUXNET_IP}'],capture_output=True,text=True); print(p.stdout); sys.exit(p.returncode)")
    rc, out, err = inproc.run(go())
    assert rc == 0 and "3 received" in out, out + err
    assert len(re.findall(r"4008 bytes from 10\.99\.0\.2: icmp_seq=\d ttl=64", out)) == 3
    mib = inproc.ns.mib.ip
    assert mib.ReasmOKs == 3 and mib.ReasmReqds == 9  # 1480 + 1480 + 1068 bytes of 4008
    assert mib.FragOKs == 3 and mib.FragCreates == 9
    # the TAP was moved into the kernel's netns after tuxnet opened it: it lives there now
    assert sh(["ip", "link", "show", inproc.tap], check=False).returncode != 0
    assert inproc.kernel.ip(f"link show {inproc.tap}").returncode == 0


def _echo(ident: int, seq: int, payload: bytes) -> bytes:
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    c = csum_fold(csum_partial(hdr + payload))
    return struct.pack("!BBHHH", 8, 0, c, ident, seq) + payload


async def _ping(ns, dst: str, size: int, count: int) -> list[tuple[int, int, int]]:
    """Echo requests from a raw socket, as ping(8) sends them; returns (seq, ttl, length) per reply."""
    s = ns.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    ident = 0x4242
    replies = []
    try:
        for seq in range(1, count + 1):
            payload = bytes((seq + i) & 0xFF for i in range(size))
            await ns.sock_sendto(s, _echo(ident, seq, payload), (dst, 0))
            while True:
                data, addr = await asyncio.wait_for(ns.sock_recvfrom(s, 70000), 3)
                ihl = (data[0] & 15) * 4
                icmp = data[ihl:]
                if icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
                    assert addr[0] == dst and icmp[8:] == payload
                    assert csum_fold(csum_partial(icmp)) == 0
                    replies.append((struct.unpack("!H", icmp[6:8])[0], data[8], len(icmp) - 8))
                    break
    finally:
        s.close()
    return replies


def test_tuxnet_pings_the_kernel(inproc):
    replies = inproc.run(_ping(inproc.ns, KERNEL_IP, 56, 3))
    assert replies == [(1, 64, 56), (2, 64, 56), (3, 64, 56)]
    neigh = inproc.cmd("ip neigh show")
    mac = inproc.kernel.mac(inproc.tap)
    assert re.search(rf"{KERNEL_IP} dev {inproc.tap} lladdr {mac} (REACHABLE|STALE)", neigh), neigh


def test_tuxnet_pings_the_kernel_with_4000_bytes(inproc):
    replies = inproc.run(_ping(inproc.ns, KERNEL_IP, 4000, 2))
    assert replies == [(1, 64, 4000), (2, 64, 4000)]
    mib = inproc.ns.mib.ip
    assert mib.FragOKs == 2 and mib.FragCreates == 6 and mib.ReasmOKs == 2
    snmp = inproc.kernel.exec(["cat", "/proc/net/snmp"]).stdout.splitlines()
    ip_names, ip_values = snmp[0].split()[1:], snmp[1].split()[1:]
    assert int(dict(zip(ip_names, ip_values, strict=True))["ReasmOKs"]) == 2


@pytest.mark.skipif(not HAVE_PING_TOOL, reason="tuxnet's ping tool (tuxnet/tools/ping.py) is not written yet")
def test_live_cmd_ping_both_sizes(kernel, live, persistent_tap):
    """``tuxnet live --cmd "ping ..."`` attached to an existing, configured TAP."""
    lv = live("--cmd", f"ping -c 3 -i 0.2 {KERNEL_IP}",
              "--cmd", f"ping -c 2 -s 4000 {KERNEL_IP}", tap=persistent_tap, configure=False)
    assert lv.wait(60) == 0, lv.text()
    out = lv.stdout()
    assert "(attached," in lv.ready_line()
    assert "3 packets transmitted, 3 received" in out and "2 packets transmitted, 2 received" in out
    assert len(re.findall(r"4008 bytes from 10\.99\.0\.1", out)) == 2


@pytest.mark.skipif(not HAVE_PING_TOOL, reason="tuxnet's ping tool (tuxnet/tools/ping.py) is not written yet")
def test_sigint_interrupts_a_running_command_like_ctrl_c(kernel, live, persistent_tap):
    lv = live("--cmd", f"ping -i 0.2 {KERNEL_IP}", "--cmd", "ip addr", tap=persistent_tap, configure=False)
    assert lv.wait_for("icmp_seq=3 "), lv.text()
    assert lv.stop(signal.SIGINT) == 0, lv.text()  # ping handled it: its own status
    out = lv.stdout()
    m = re.search(r"--- 10\.99\.0\.1 ping statistics ---\n(\d+) packets transmitted, (\d+) received", out)
    assert m and int(m.group(2)) >= 3 and int(m.group(1)) - int(m.group(2)) <= 1, out
    assert "=== ip addr" not in out  # the session ends with the interrupted command
