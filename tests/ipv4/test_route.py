"""Route lookups for packets: output errors and source selection, input decisions, PMTU, caching."""

from __future__ import annotations

import errno

import pytest

from tuxnet.core.loop import NSEC_PER_SEC
from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.fib import RTN_BROADCAST, RTN_LOCAL, RTN_UNICAST
from tuxnet.ipv4.route import RTCF_BROADCAST, RTCF_DOREDIRECT, RTCF_LOCAL, RouteInputError
from tuxnet.lab.lab import Lab
from tuxnet.skb import SkBuff
from tuxnet.tools import run_command
from tuxnet.wire.addr import ip_aton as A
from tuxnet.wire.addr import ip_ntoa as N


@pytest.fixture
def host():
    lab = Lab(9)
    h = lab.add_host("h")
    peer = lab.add_host("peer")
    e0, _ = lab.add_link(h, "eth0", peer, "eth0")
    e1, _ = lab.add_link(h, "eth1", peer, "eth1")
    h.devinet.add(e0, A("10.0.1.2"), 24)
    h.devinet.add(e1, A("10.0.2.2"), 24)
    for cmd in ("ip route add 10.9.0.0/16 via 10.0.1.1", "ip route add unreachable 10.50.0.0/16",
                "ip route add prohibit 10.51.0.0/16", "ip route add blackhole 10.52.0.0/16"):
        assert run_command(h, cmd) == (0, "")
    h.lab_ = lab
    return h


def test_output_unicast_local_broadcast(host):
    rt = host.route.output(A("10.9.3.4"))
    assert (rt.rt_type, rt.dev.name, N(rt.gateway)) == (RTN_UNICAST, "eth0", "10.0.1.1")
    assert N(rt.src) == "10.0.1.2"
    assert rt.nexthop(A("10.9.3.4")) == A("10.0.1.1")
    assert host.route.output(A("10.0.2.9")).nexthop(A("10.0.2.9")) == A("10.0.2.9")
    rt = host.route.output(A("10.0.2.2"))
    assert (rt.rt_type, rt.dev.name, rt.is_local, N(rt.src)) == (RTN_LOCAL, "lo", True, "10.0.2.2")
    rt = host.route.output(A("10.0.1.255"))
    assert rt.rt_type == RTN_BROADCAST and rt.flags & RTCF_BROADCAST and rt.flags & RTCF_LOCAL
    rt = host.route.output(A("255.255.255.255"), oif=host.devices["eth1"].ifindex)
    assert (rt.dev.name, N(rt.src)) == ("eth1", "10.0.2.2")


@pytest.mark.parametrize("dst,err", [("10.50.0.1", errno.EHOSTUNREACH), ("10.51.0.1", errno.EACCES),
                                     ("10.52.0.1", errno.EINVAL), ("192.0.2.1", errno.ENETUNREACH)])
def test_output_errors(host, dst, err):
    with pytest.raises(OSError) as ei:
        host.route.output(A(dst))
    assert ei.value.errno == err


def test_output_source_checks_and_oif(host):
    with pytest.raises(OSError) as ei:
        host.route.output(A("10.9.3.4"), saddr=A("10.0.7.7"))  # not ours
    assert ei.value.errno == errno.ENETUNREACH
    with pytest.raises(OSError) as ei:
        host.route.output(A("10.9.3.4"), saddr=A("127.0.0.1"))  # loopback source out of eth0
    assert ei.value.errno == errno.EINVAL
    rt = host.route.output(A("10.9.3.4"), saddr=A("10.0.2.2"))
    assert (rt.dev.name, N(rt.src)) == ("eth0", "10.0.2.2")
    # an oif with no route: the destination is assumed on-link
    rt = host.route.output(A("192.0.2.1"), oif=host.devices["eth1"].ifindex)
    assert (rt.dev.name, rt.gateway, N(rt.src)) == ("eth1", 0, "10.0.2.2")
    with pytest.raises(OSError) as ei:
        host.route.output(A("192.0.2.1"), oif=99)
    assert ei.value.errno == errno.ENODEV


def _skb() -> SkBuff:
    return SkBuff.alloc(0)


def test_input_local_and_forwarding_disabled(host):
    eth0 = host.devices["eth0"]
    rt = host.route.input(_skb(), A("10.0.2.2"), A("10.0.1.7"), 0, eth0)
    assert rt.is_local and not rt.is_forward and rt.dev is host.lo
    with pytest.raises(RouteInputError) as ei:
        host.route.input(_skb(), A("10.9.1.1"), A("10.0.1.7"), 0, eth0)
    assert (ei.value.reason, ei.value.icmp, ei.value.errno) == (SkbDropReason.IP_INADDRERRORS, None,
                                                                errno.EHOSTUNREACH)
    assert host.mib.ip.InAddrErrors == 1


def test_input_forwarding_and_ip_error(host):
    host.sysctl.set("net.ipv4.ip_forward", 1)
    eth0, eth1 = host.devices["eth0"], host.devices["eth1"]
    rt = host.route.input(_skb(), A("10.0.2.9"), A("10.0.1.7"), 0, eth0)
    assert rt.is_forward and rt.dev is eth1 and not rt.flags & RTCF_DOREDIRECT
    rt = host.route.input(_skb(), A("10.9.1.1"), A("10.0.1.7"), 0, eth0)
    assert rt.dev is eth0 and rt.flags & RTCF_DOREDIRECT  # out the way it came, source on-link
    cases = [("10.50.0.1", (3, 1)), ("10.51.0.1", (3, 13)), ("192.0.2.1", (3, 0)), ("10.52.0.1", None)]
    for dst, icmp in cases:
        with pytest.raises(RouteInputError) as ei:
            host.route.input(_skb(), A(dst), A("10.0.1.7"), 0, eth0)
        assert ei.value.icmp == icmp, dst
    assert host.mib.ipext.InNoRoutes == 1


@pytest.mark.parametrize("src,dst,reason", [
    ("224.0.0.9", "10.0.2.2", SkbDropReason.IP_INVALID_SOURCE),
    ("0.0.0.0", "10.0.2.2", SkbDropReason.IP_INVALID_SOURCE),
    ("10.0.1.7", "0.1.2.3", SkbDropReason.IP_INVALID_DEST),
    ("127.0.0.1", "10.0.2.2", SkbDropReason.IP_LOCALNET),
    ("10.0.2.2", "10.0.1.2", SkbDropReason.IP_LOCAL_SOURCE),
])
def test_input_martians(host, src, dst, reason):
    with pytest.raises(RouteInputError) as ei:
        host.route.input(_skb(), A(dst), A(src), 0, host.devices["eth0"])
    assert (ei.value.reason, ei.value.icmp) == (reason, None)


def test_rp_filter_strict_and_loose(host):
    eth1 = host.devices["eth1"]
    # 10.0.1.7 is reached through eth0: arriving on eth1 fails strict mode, passes loose mode
    host.sysctl.set("net.ipv4.conf.all.rp_filter", 1)
    with pytest.raises(RouteInputError) as ei:
        host.route.input(_skb(), A("10.0.2.2"), A("10.0.1.7"), 0, eth1)
    assert ei.value.reason is SkbDropReason.IP_RPFILTER
    assert host.mib.tcpext.IPReversePathFilter == 1
    host.sysctl.set("net.ipv4.conf.all.rp_filter", 2)
    assert host.route.input(_skb(), A("10.0.2.2"), A("10.0.1.7"), 0, eth1).is_local
    with pytest.raises(RouteInputError):
        host.route.input(_skb(), A("10.0.2.2"), A("203.0.113.5"), 0, eth1)  # no route back at all


def test_route_cache_follows_changes(host):
    assert N(host.route.output(A("10.9.3.4")).gateway) == "10.0.1.1"
    assert run_command(host, "ip route add 10.9.3.0/24 via 10.0.2.1") == (0, "")
    assert N(host.route.output(A("10.9.3.4")).gateway) == "10.0.2.1"
    assert run_command(host, "ip rule add to 10.9.3.4 prohibit") == (0, "")
    with pytest.raises(OSError):
        host.route.output(A("10.9.3.4"))
    host.devices["eth1"].close()
    assert run_command(host, "ip rule del to 10.9.3.4 prohibit") == (0, "")
    assert N(host.route.output(A("10.9.3.4")).gateway) == "10.0.1.1"


def test_pmtu_exception_floor_and_expiry(host):
    lab = host.lab_
    rt = host.route.output(A("10.9.3.4"))
    assert rt.mtu == 1500
    host.route.update_pmtu(A("10.9.3.4"), 1400)
    assert host.route.output(A("10.9.3.4")).mtu == 1400
    assert rt.mtu == 1400  # the exception lives on the next hop: older routes see it too
    assert host.route.output(A("10.9.3.5")).mtu == 1500
    rc, out = run_command(host, "ip route get 10.9.3.4")
    assert out == ("10.9.3.4 via 10.0.1.1 dev eth0 src 10.0.1.2 uid 0 \n"
                   "    cache expires 600sec mtu 1400 \n")
    host.route.update_pmtu(A("10.9.3.4"), 1600)  # never raised
    assert rt.mtu == 1400
    host.route.update_pmtu(A("10.9.3.4"), 300)  # below route.min_pmtu: floored and locked
    assert rt.mtu == 552 and rt.exception().locked
    lab.run(599)
    assert rt.mtu == 552
    lab.run(2)
    assert rt.mtu == 1500
    assert run_command(host, "ip route get 10.9.3.4")[1].endswith("    cache \n")


def test_route_metric_mtu(host):
    assert run_command(host, "ip route add 10.10.0.0/16 via 10.0.1.1 mtu 1300") == (0, "")
    assert host.route.output(A("10.10.0.1")).mtu == 1300
    host.route.update_pmtu(A("10.10.0.1"), 1200)
    assert host.route.output(A("10.10.0.1")).mtu == 1200
    host.lab_.run(10)
    assert run_command(host, "ip route get 10.10.0.1")[1] == (
        "10.10.0.1 via 10.0.1.1 dev eth0 src 10.0.1.2 uid 0 \n    cache expires 590sec mtu 1200 \n")
    assert host.lab_.now == 10 * NSEC_PER_SEC
