"""bridge fdb / bridge link: golden output taken from iproute2 6.1 on Linux 6.18 in a network namespace.

The reference setup: ``ip link add br0 type bridge``, two veth pairs (veth0/veth1, veth2/veth3; the
kernel registers the peer first, so veth1 and veth3 have the lower ifindexes), veth0 and veth2
enslaved, everything up, IPv6 disabled in the namespace. The kernel's output additionally lists the
IPv6 all-nodes group 33:33:00:00:00:01 (and 33:33:00:00:00:6a on the bridge); tuxnet has no IPv6,
so those lines are left out here, everything else is byte for byte what the kernel printed (the
ifindexes too: tuxnet numbers devices the same way).
"""

from __future__ import annotations

import pytest

from tuxnet.bridge.bridge import create_bridge
from tuxnet.drivers.veth import create_veth_pair
from tuxnet.lab.lab import Lab
from tuxnet.skb import SkBuff
from tuxnet.tools import run_command

MAC = {n: bytes.fromhex(m) for n, m in (("veth0", "d6e6f9d02b0b"), ("veth1", "5e4af3b1cba2"),
                                          ("veth2", "729dd220b63e"), ("veth3", "ce5dc242b10d"))}

FRESH = """\
01:00:5e:00:00:6a dev br0 self permanent
01:00:5e:00:00:01 dev br0 self permanent
01:00:5e:00:00:01 dev veth1 self permanent
d6:e6:f9:d0:2b:0b dev veth0 master br0 permanent
01:00:5e:00:00:01 dev veth0 self permanent
01:00:5e:00:00:01 dev veth3 self permanent
72:9d:d2:20:b6:3e dev veth2 master br0 permanent
01:00:5e:00:00:01 dev veth2 self permanent
"""


@pytest.fixture
def sw():
    lab = Lab(1)
    ns = lab.add_host("sw", lo_up=False)
    br = create_bridge(ns, "br0", mac=None)
    v1, v0 = create_veth_pair(ns, "veth1", ns, "veth0", mac1=MAC["veth1"], mac2=MAC["veth0"])
    v3, v2 = create_veth_pair(ns, "veth3", ns, "veth2", mac1=MAC["veth3"], mac2=MAC["veth2"])
    br.add_port(v0)
    br.add_port(v2)
    br.open()
    for d in (v0, v1, v2, v3):
        d.open()
    lab.run(0.5)
    return lab, ns, br


NOTSUP = "RTNETLINK answers: Operation not supported\n"


def bridge(ns, cmd: str) -> tuple[int, str]:
    return run_command(ns, "bridge " + cmd)


def test_fresh_bridge_alone_has_its_own_mac_entry():
    lab = Lab(1)
    ns = lab.add_host("sw", lo_up=False)
    br = create_bridge(ns, "br0", mac=bytes.fromhex("a63c2582388e"))
    # the kernel also prints "33:33:00:00:00:01 dev br0 self permanent" here (IPv6)
    assert bridge(ns, "fdb show") == (0, "a6:3c:25:82:38:8e dev br0 master br0 permanent\n")
    assert br.mac == bytes.fromhex("a63c2582388e")


def test_fdb_show_of_a_two_port_bridge(sw):
    _, ns, br = sw
    assert br.mac == MAC["veth2"]  # the lowest port MAC
    assert bridge(ns, "fdb show") == (0, FRESH)
    assert bridge(ns, "fdb") == (0, FRESH)
    assert bridge(ns, "fdb show br br0") == (0, "".join(
        line + "\n" for line in FRESH.splitlines() if "veth1" not in line and "veth3" not in line))
    assert bridge(ns, "fdb show dev veth0") == (0, "d6:e6:f9:d0:2b:0b master br0 permanent\n"
                                                  "01:00:5e:00:00:01 self permanent\n")
    assert bridge(ns, "fdb show dev br0") == (0, "01:00:5e:00:00:6a self permanent\n"
                                                "01:00:5e:00:00:01 self permanent\n")
    assert bridge(ns, "fdb show br veth0") == (0, "")
    assert bridge(ns, "fdb show vlan 1") == (0, "")
    assert bridge(ns, "-s fdb show dev veth2") == (0, "72:9d:d2:20:b6:3e used 0/0 master br0 permanent\n"
                                                     "01:00:5e:00:00:01 self permanent\n")


def test_fdb_add_del_sequence_as_the_kernel_answers(sw):
    lab, ns, _ = sw
    steps = [
        ("fdb add 02:00:00:00:00:01 dev veth0 master static", 0, ""),
        ("fdb add 02:00:00:00:00:02 dev veth0 master", 0, ""),
        ("fdb add 02:00:00:00:00:03 dev veth0 master dynamic", 0, ""),
        ("fdb add 02:00:00:00:00:04 dev br0 master static", 255, NOTSUP),
        ("fdb add 02:00:00:00:00:05 dev br0 self static", 255, "RTNETLINK answers: Invalid argument\n"),
        ("fdb add 02:00:00:00:00:01 dev veth0 master static", 255, "RTNETLINK answers: File exists\n"),
        ("fdb add 02:00:00:00:00:06 dev veth9 master static", 255, 'Cannot find device "veth9"\n'),
        ("fdb add 02:00:00:00:00:zz dev veth0 master static", 255, "Invalid mac address 02:00:00:00:00:zz\n"),
        ("fdb add dev veth0 master static", 255, "Device and address are required arguments.\n"),
        ("fdb del 02:00:00:00:00:09 dev veth0 master", 255, "RTNETLINK answers: No such file or directory\n"),
        ("fdb add 02:00:00:00:00:07 dev veth1 master static", 255, NOTSUP),
        ("fdb add 01:00:00:00:00:07 dev veth0 master static", 0, ""),
        ("fdb add 00:00:00:00:00:00 dev veth0 master static", 255, "RTNETLINK answers: Invalid argument\n"),
        ("fdb add 02:00:00:00:00:08 dev br0 self", 0, ""),
        ("fdb add 02:00:00:00:00:09 dev veth0", 0, ""),
        ("fdb add 02:00:00:00:00:0a dev veth0 self static", 255, "RTNETLINK answers: Invalid argument\n"),
        ("fdb replace 02:00:00:00:00:01 dev veth2 master static", 0, ""),
        ("fdb del 02:00:00:00:00:03 dev veth0 master", 0, ""),
        ("fdb del 02:00:00:00:00:02 dev veth2 master", 255, "RTNETLINK answers: No such file or directory\n"),
        ("fdb del d6:e6:f9:d0:2b:0b dev veth0 master", 0, ""),
        ("fdb add 02:00:00:00:00:0b dev veth0 master local", 0, ""),
        ("fdb add 72:9d:d2:20:b6:3e dev veth0 master static", 255, "RTNETLINK answers: File exists\n"),
        ("fdb add 02:00:00:00:00:33 dev veth0 master static extra", 255,
         'Error: either "to" is duplicate, or "extra" is a garbage.\n'),
        ("fdb show br br9", 255, 'Cannot find bridge device "br9"\n'),
        ("fdb show dev veth9", 255, 'Cannot find device "veth9"\n'),
        ("fdb bogus", 255, 'Command "bogus" is unknown, try "bridge fdb help".\n'),
        ("fdb show state foo", 255, 'Error: argument "foo" is wrong: invalid state\n'),
        ("foo", 255, 'Object "foo" is unknown, try "bridge help".\n'),
    ]
    for cmd, rc, text in steps:
        assert bridge(ns, cmd) == (rc, text), cmd
    assert bridge(ns, "fdb show")[1] == """\
01:00:5e:00:00:6a dev br0 self permanent
01:00:5e:00:00:01 dev br0 self permanent
02:00:00:00:00:08 dev br0 master br0 permanent
01:00:5e:00:00:01 dev veth1 self permanent
02:00:00:00:00:0b dev veth0 master br0 permanent
01:00:00:00:00:07 dev veth0 master br0 static
02:00:00:00:00:02 dev veth0 master br0 permanent
02:00:00:00:00:09 dev veth0 self permanent
01:00:5e:00:00:01 dev veth0 self permanent
01:00:5e:00:00:01 dev veth3 self permanent
02:00:00:00:00:01 dev veth2 master br0 static
72:9d:d2:20:b6:3e dev veth2 master br0 permanent
01:00:5e:00:00:01 dev veth2 self permanent
"""
    assert bridge(ns, "fdb show br br0 dev veth0")[1] == """\
02:00:00:00:00:0b master br0 permanent
01:00:00:00:00:07 master br0 static
02:00:00:00:00:02 master br0 permanent
02:00:00:00:00:09 self permanent
01:00:5e:00:00:01 self permanent
"""
    assert bridge(ns, "fdb show br br0 state static")[1] == ("01:00:00:00:00:07 dev veth0 master br0 static\n"
                                                            "02:00:00:00:00:01 dev veth2 master br0 static\n")
    assert bridge(ns, "fdb show dynamic") == bridge(ns, "fdb show br br0 state static")
    lab.run(18)
    assert bridge(ns, "-s fdb show dev veth2")[1].splitlines()[:2] == [
        "02:00:00:00:00:01 used 18/18 master br0 static", "72:9d:d2:20:b6:3e used 18/18 master br0 permanent"]


def test_learned_entries_print_with_an_empty_state(sw):
    lab, ns, br = sw
    v1 = ns.devices["veth1"]
    v1.queue_xmit(SkBuff.from_bytes(b"\xff" * 6 + v1.mac + b"\x88\xb5" + bytes(46)))
    lab.run(0.01)
    assert bridge(ns, "fdb show dev veth0")[1].splitlines()[0] == "5e:4a:f3:b1:cb:a2 master br0 "
    assert bridge(ns, "fdb show br br0 state reachable")[1] == "5e:4a:f3:b1:cb:a2 dev veth0 master br0 \n"
    # an entry past its time dumps as stale until the cleanup job deletes it
    br.ageing_time_ns = 5_000_000  # set behind the cleanup's back, as between two cleanup runs
    lab.loop.run_for(6_000_000)  # the cleanup last ran at 0.1 s and sleeps for minutes: not run yet
    assert "5e:4a:f3:b1:cb:a2 master br0 stale" in bridge(ns, "fdb show dev veth0")[1]
    br.ageing_time = 0.005  # br_set_ageing_time runs the cleanup at once
    lab.loop.run_for(1)
    assert "5e:4a:f3:b1:cb:a2" not in bridge(ns, "fdb show")[1]


def test_bridge_link_show(sw):
    _, ns, _ = sw
    tail = " priority 32 cost 2 \n"
    assert bridge(ns, "link show") == (0, (
        "4: veth0@veth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state forwarding" + tail
        + "6: veth2@veth3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state forwarding" + tail))
    ns.devices["veth1"].close()
    ns.devices["veth2"].close()
    assert bridge(ns, "link") == (0, (
        "4: veth0@veth1: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 master br0 state disabled" + tail
        + "6: veth2@veth3: <BROADCAST,MULTICAST> mtu 1500 master br0 state disabled" + tail))
    assert bridge(ns, "-d link show dev veth2")[1].splitlines()[1] == (
        "    hairpin off guard off root_block off fastleave off learning on flood on mcast_flood on "
        "bcast_flood on mcast_router 1 mcast_to_unicast off neigh_suppress off vlan_tunnel off isolated off "
        "locked off ")
    assert bridge(ns, "link show dev nope") == (255, 'Cannot find device "nope"\n')
    assert bridge(ns, "link set dev veth2 learning off flood off") == (0, "")
    assert "learning off flood off" in bridge(ns, "-d link show dev veth2")[1]
