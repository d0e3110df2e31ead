"""The ``ip`` tool against transcripts recorded from the real iproute2 6.1 on Linux 6.18.

``golden/ip_link_addr.txt`` and ``golden/ip_route_rule.txt`` hold ``== ip CMD [rc=N]`` sections
with what the real ``ip`` printed (stdout and stderr) in a fresh network namespace, IPv6 lines
removed (tuxnet has no IPv6). The same commands run through tuxnet's ``ip`` must print the same
text and exit with the same code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tuxnet.lab.lab import Lab
from tuxnet.tools import run_command

GOLDEN = Path(__file__).parent / "golden"


def transcript(name: str) -> list[tuple[str, int, str]]:
    text = (GOLDEN / name).read_text()
    out = []
    for m in re.finditer(r"^== ([^\n]*) \[rc=(\d+)\]\n(.*?)(?=^== |\Z)", text, re.M | re.S):
        out.append((m.group(1), int(m.group(2)), m.group(3)))
    return out


def replay(ns, steps: list[tuple[str, int, str]]) -> list[str]:
    diffs = []
    for cmd, rc, expected in steps:
        if cmd.startswith("sysctl -w "):
            key, _, val = cmd.split()[2].partition("=")
            ns.sysctl.set(key, val)
            continue
        got_rc, got = run_command(ns, cmd)
        if (got_rc, got) != (rc, expected):
            diffs.append(f"$ {cmd}\n--- linux (rc={rc})\n{expected}--- tuxnet (rc={got_rc})\n{got}")
    return diffs


def test_golden_link_addr_neigh_rule_errors():
    lab = Lab(1)
    h = lab.add_host("h", lo_up=False)
    diffs = replay(h, transcript("ip_link_addr.txt"))
    assert not diffs, "\n".join(diffs)


def test_golden_route_get_show_rules():
    lab = Lab(1)
    h = lab.add_host("h")
    peer = lab.add_host("peer")
    lab.add_link(h, "e0", peer, "p0")
    lab.add_link(h, "e1", peer, "p1")
    diffs = replay(h, transcript("ip_route_rule.txt"))
    assert not diffs, "\n".join(diffs)


@pytest.fixture
def host():
    lab = Lab(2)
    h = lab.add_host("h")
    peer = lab.add_host("peer")
    lab.add_link(h, "eth0", peer, "eth0")
    assert run_command(h, "ip addr add 10.0.0.1/24 dev eth0") == (0, "")
    return h


@pytest.mark.parametrize("cmd,rc,msg", [
    ("ip foo", 1, 'Object "foo" is unknown, try "ip help".\n'),
    ("ip link show eth9", 1, 'Device "eth9" does not exist.\n'),
    ("ip route add 10.1.0.0/16 dev eth9", 1, 'Cannot find device "eth9"\n'),
    ("ip route get 10.0.0.5 to 10.0.0.6", 255,
     'Error: either "to" is duplicate, or "10.0.0.6" is a garbage.\n'),
    ("ip route add 10.1.0.0/16 via", 255, 'Command line is not complete. Try option "help"\n'),
    ("ip route get 8.8.8.8", 2, "RTNETLINK answers: Network is unreachable\n"),
    ("ip link add x type foo", 2, "Error: Unknown device type.\n"),
    ("ip rule del", 1, '"ip rule del" requires arguments.\n'),
    ("ip route add 10.0.0.0/24 dev eth0", 2, "RTNETLINK answers: File exists\n"),
    # iproute2 6.1 against 6.18, recorded
    ("ip link set eth0 gso_max_segs 70000", 255,
     'Error: argument "70000" is wrong: Invalid "gso_max_segs" value\n\n'),
    ("ip link set eth0 gso_max_segs abc", 255,
     'Error: argument "abc" is wrong: Invalid "gso_max_segs" value\n\n'),
])
def test_errors_and_exit_codes(host, cmd, rc, msg):
    assert run_command(host, cmd) == (rc, msg)


def test_link_set_gso_max_segs(host):
    assert host.devices["eth0"].gso_max_segs == 65535  # GSO_MAX_SEGS
    assert run_command(host, "ip link set dev eth0 gso_max_segs 1") == (0, "")
    assert host.devices["eth0"].gso_max_segs == 1


def test_abbreviations_and_families(host):
    full = run_command(host, "ip route show")[1]
    assert full == "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.1 \n"
    assert run_command(host, "ip r")[1] == full
    assert run_command(host, "ip ro list")[1] == full
    assert run_command(host, "ip -4 r s")[1] == full
    assert run_command(host, "ip -6 route")[1] == ""
    assert run_command(host, "ip ru")[1].startswith("0:\tfrom all lookup local\n")
    assert run_command(host, "ip a s eth0")[1] == run_command(host, "ip address show dev eth0")[1]


def test_json_route_and_rule_keys(host):
    assert run_command(host, "ip route add 10.1.0.0/16 via 10.0.0.254 metric 7") == (0, "")
    routes = json.loads(run_command(host, "ip -j route")[1])
    assert routes[1] == {"dst": "10.1.0.0/16", "gateway": "10.0.0.254", "dev": "eth0", "metric": 7,
                         "flags": []}
    got = json.loads(run_command(host, "ip -j route get 10.1.2.3 mark 20")[1])
    assert got == [{"dst": "10.1.2.3", "gateway": "10.0.0.254", "dev": "eth0", "prefsrc": "10.0.0.1",
                    "flags": [], "mark": 20, "uid": 0, "cache": []}]
    pretty = run_command(host, "ip -j -p rule")[1]
    assert json.loads(pretty)[0] == {"priority": 0, "src": "all", "table": "local"}
    assert pretty.startswith("[\n    {")


def test_link_add_set_del_and_stats(host):
    assert run_command(host, "ip link add v0 type veth peer name v1") == (0, "")
    assert run_command(host, "ip link set v0 up") == (0, "")
    out = run_command(host, "ip -br link show v0")[1]
    flags = "<NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN>"
    assert re.fullmatch(r"v0@v1 {12}LOWERLAYERDOWN [0-9a-f:]{17} " + flags + r" \n", out)
    assert run_command(host, "ip link set dev v1 up mtu 1400") == (0, "")
    assert host.devices["v1"].mtu == 1400 and host.devices["v0"].carrier
    assert run_command(host, "ip link del v0") == (0, "")
    assert "v1" not in host.devices  # the veth peer goes too
    host.devices["eth0"].stats.rx_bytes = 123456789012
    out = run_command(host, "ip -s link show eth0")[1].splitlines()
    # the bytes column widens to the 12-digit value, header right-aligned over it
    assert out[2] == "    RX:    bytes packets errors dropped  missed   mcast           "
    assert out[3].startswith("    123456789012 ")


def test_link_bridge_master(host):
    rc, out = run_command(host, "ip link add br0 type bridge")
    if rc == 2 and out == "Error: Unknown device type.\n":
        pytest.skip("the bridge device is not available")
    assert (rc, out) == (0, "")
    assert run_command(host, "ip link set eth0 master br0") == (0, "")
    assert " master br0 " in run_command(host, "ip link show eth0")[1]
    assert run_command(host, "ip link set eth0 nomaster") == (0, "")
    assert " master " not in run_command(host, "ip link show eth0")[1]


def test_route_flush_and_filters(host):
    for cmd in ("ip route add 10.1.0.0/16 via 10.0.0.254 proto static", "ip route add 10.2.0.0/16 dev eth0",
                "ip route add 10.3.0.0/16 via 10.0.0.254 table 100"):
        assert run_command(host, cmd) == (0, "")
    assert run_command(host, "ip route show proto static")[1] == "10.1.0.0/16 via 10.0.0.254 dev eth0 \n"
    assert run_command(host, "ip route show dev eth0 scope link")[1] == (
        "10.0.0.0/24 proto kernel src 10.0.0.1 \n10.2.0.0/16 \n")
    matched = run_command(host, "ip route show match 10.2.3.4")[1].splitlines()
    assert matched[-1] == "10.2.0.0/16 dev eth0 scope link "
    assert run_command(host, "ip route flush table 100") == (0, "")
    assert run_command(host, "ip route show table 100") == (0, "")
    assert run_command(host, "ip route flush proto static") == (0, "")
    assert "10.1.0.0" not in run_command(host, "ip route")[1]


def test_pmtu_shows_in_route_get_and_cache(host):
    lab_time = host.loop
    host.route.update_pmtu(0x0A000005, 1400)
    assert run_command(host, "ip route get 10.0.0.5")[1] == (
        "10.0.0.5 dev eth0 src 10.0.0.1 uid 0 \n    cache expires 600sec mtu 1400 \n")
    assert run_command(host, "ip route show cache")[1] == (
        "10.0.0.5 dev eth0 \n    cache expires 600sec mtu 1400 \n")
    assert lab_time.now_ns == 0
