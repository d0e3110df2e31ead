"""FIB tables: longest-prefix match, tos/metric order, insert/delete semantics, address routes."""

from __future__ import annotations

import errno

import pytest

from tuxnet.ipv4.devinet import RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE
from tuxnet.ipv4.fib import (
    NLM_F_APPEND,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_UNICAST,
    RTN_UNREACHABLE,
    RTNH_F_LINKDOWN,
    RTNH_F_ONLINK,
    FibConfig,
    RouteError,
)
from tuxnet.lab.lab import Lab
from tuxnet.wire.addr import ip_aton as A
from tuxnet.wire.addr import ip_ntoa as N


@pytest.fixture
def host():
    lab = Lab(3)
    h = lab.add_host("h")
    peer = lab.add_host("peer")
    e0, p0 = lab.add_link(h, "eth0", peer, "eth0")
    e1, p1 = lab.add_link(h, "eth1", peer, "eth1")
    h.devinet.add(e0, A("10.0.1.2"), 24)
    h.devinet.add(e1, A("10.0.2.2"), 24)
    return h


def add(h, dst: str, *, gw: str = "", dev: str = "", table: int = RT_TABLE_MAIN, metric: int = 0,
        tos: int = 0, rtype: int = RTN_UNICAST, flags: int = NLM_F_CREATE | NLM_F_EXCL, onlink: bool = False,
        **kw):
    addr, _, plen = dst.partition("/")
    scope = RT_SCOPE_UNIVERSE if gw or rtype != RTN_UNICAST else RT_SCOPE_LINK
    cfg = FibConfig(A(addr), int(plen or 32), gw=A(gw) if gw else 0, oif=h.devices[dev].ifindex if dev else 0,
                    table=table, priority=metric, tos=tos, type=rtype, scope=scope, nlflags=flags,
                    flags=RTNH_F_ONLINK if onlink else 0, **kw)
    return h.fib.add_route(cfg)


def lookup(h, dst: str, tos: int = 0, oif: int = 0):
    return h.fib.lookup_flow(A(dst), 0, tos, oif, 1, 0)


def routes(h, table: int) -> list[str]:
    out = []
    for fa in h.fib.tables[table].aliases():
        nh = fa.fi.nh
        out.append(f"{fa.type} {N(fa.dst)}/{fa.plen} gw={N(nh.gw)} dev={nh.dev.name if nh.dev else '-'} "
                   f"m={fa.fi.priority} tos={fa.tos}")
    return out


def test_longest_prefix_wins_and_falls_back(host):
    add(host, "10.9.0.0/16", gw="10.0.1.1")
    add(host, "10.9.9.0/24", gw="10.0.2.1")
    add(host, "0.0.0.0/0", gw="10.0.1.254")
    assert N(lookup(host, "10.9.9.7").fi.nh.gw) == "10.0.2.1"
    assert N(lookup(host, "10.9.8.7").fi.nh.gw) == "10.0.1.1"
    assert N(lookup(host, "192.0.2.1").fi.nh.gw) == "10.0.1.254"
    host.fib.del_route(FibConfig(A("10.9.9.0"), 24, scope=RT_SCOPE_NOWHERE, type=0, protocol=0))
    assert N(lookup(host, "10.9.9.7").fi.nh.gw) == "10.0.1.1"


def test_unusable_longer_prefix_backtracks(host):
    # a tos-specific /24 does not match a tos-0 flow: the lookup backtracks to the /16
    add(host, "10.9.0.0/16", gw="10.0.1.1")
    add(host, "10.9.9.0/24", gw="10.0.2.1", tos=0x10)
    assert N(lookup(host, "10.9.9.7").fi.nh.gw) == "10.0.1.1"
    assert N(lookup(host, "10.9.9.7", tos=0x10).fi.nh.gw) == "10.0.2.1"
    # only tos & 0x1c selects: 0xb0 & 0x1c == 0x10
    assert N(lookup(host, "10.9.9.7", tos=0xB0).fi.nh.gw) == "10.0.2.1"
    # an oif that is not the next hop's skips it too
    eth0 = host.devices["eth0"].ifindex
    assert lookup(host, "10.9.9.7", tos=0x10, oif=eth0).fi.nh.gw == A("10.0.1.1")


def test_same_prefix_ordered_by_tos_then_metric(host):
    add(host, "10.9.0.0/16", gw="10.0.1.1", metric=20)
    add(host, "10.9.0.0/16", gw="10.0.2.1", metric=10)
    add(host, "10.9.0.0/16", gw="10.0.2.9", metric=30, tos=0x08)
    assert routes(host, RT_TABLE_MAIN)[2:] == [
        "1 10.9.0.0/16 gw=10.0.2.9 dev=eth1 m=30 tos=8",
        "1 10.9.0.0/16 gw=10.0.2.1 dev=eth1 m=10 tos=0",
        "1 10.9.0.0/16 gw=10.0.1.1 dev=eth0 m=20 tos=0",
    ]
    assert N(lookup(host, "10.9.1.1").fi.nh.gw) == "10.0.2.1"
    assert N(lookup(host, "10.9.1.1", tos=0x08).fi.nh.gw) == "10.0.2.9"


def test_add_append_prepend_replace_change(host):
    add(host, "10.9.0.0/16", gw="10.0.1.1")
    with pytest.raises(RouteError) as ei:
        add(host, "10.9.0.0/16", gw="10.0.2.1")  # same prefix, tos and metric
    assert ei.value.errno == errno.EEXIST
    add(host, "10.9.0.0/16", gw="10.0.2.1", flags=NLM_F_CREATE | NLM_F_APPEND)
    add(host, "10.9.0.0/16", gw="10.0.2.7", flags=NLM_F_CREATE)  # prepend
    assert [r.split()[2] for r in routes(host, RT_TABLE_MAIN)[2:]] == ["gw=10.0.2.7", "gw=10.0.1.1",
                                                                       "gw=10.0.2.1"]
    with pytest.raises(RouteError) as ei:
        add(host, "10.9.0.0/16", gw="10.0.1.1", flags=NLM_F_CREATE | NLM_F_APPEND)  # identical
    assert ei.value.errno == errno.EEXIST
    add(host, "10.9.0.0/16", gw="10.0.1.9", flags=NLM_F_CREATE | NLM_F_REPLACE)  # replaces the first
    assert [r.split()[2] for r in routes(host, RT_TABLE_MAIN)[2:]] == ["gw=10.0.1.9", "gw=10.0.1.1",
                                                                       "gw=10.0.2.1"]
    with pytest.raises(RouteError) as ei:
        add(host, "10.8.0.0/16", gw="10.0.1.1", flags=NLM_F_REPLACE)  # change: nothing there
    assert ei.value.errno == errno.ENOENT


def test_delete_partial_match(host):
    add(host, "10.9.0.0/16", gw="10.0.1.1", metric=5)
    add(host, "10.9.0.0/16", gw="10.0.2.1", metric=7)
    with pytest.raises(RouteError) as ei:
        host.fib.del_route(FibConfig(A("10.9.0.0"), 16, priority=9, scope=RT_SCOPE_NOWHERE, type=0,
                                     protocol=0))
    assert ei.value.errno == errno.ESRCH
    fa = host.fib.del_route(FibConfig(A("10.9.0.0"), 16, gw=A("10.0.2.1"), scope=RT_SCOPE_NOWHERE, type=0,
                                      protocol=0))
    assert fa.fi.priority == 7
    with pytest.raises(RouteError):
        host.fib.del_route(FibConfig(A("10.9.0.0"), 16, tos=0x10, scope=RT_SCOPE_NOWHERE, type=0, protocol=0))


def test_route_validation_errors(host):
    with pytest.raises(RouteError) as ei:
        add(host, "10.9.0.0/16", gw="10.7.7.7")
    assert (ei.value.errno, ei.value.extack) == (errno.ENETUNREACH, "Nexthop has invalid gateway")
    with pytest.raises(RouteError) as ei:
        add(host, "10.9.0.1/16", dev="eth0")
    assert ei.value.extack == "Invalid prefix for given prefix length"
    with pytest.raises(RouteError) as ei:
        add(host, "10.9.0.0/16", dev="eth0", prefsrc=A("10.99.0.1"))
    assert ei.value.extack == "Invalid prefsrc address"
    with pytest.raises(RouteError) as ei:
        add(host, "10.9.0.0/16", dev="eth0", rtype=RTN_UNREACHABLE)
    assert "can not be specified" in ei.value.extack
    host.devices["eth1"].close()
    with pytest.raises(RouteError) as ei:
        add(host, "10.9.0.0/16", dev="eth1")
    assert (ei.value.errno, ei.value.extack) == (errno.ENETDOWN, "Device for nexthop is not up")
    # onlink accepts any unicast gateway on an up device
    add(host, "10.9.0.0/16", gw="10.7.7.7", dev="eth0", onlink=True)
    assert N(lookup(host, "10.9.1.1").fi.nh.gw) == "10.7.7.7"


def test_reject_routes_return_their_errno(host):
    for rtype, dst, err in ((7, "10.50.0.0/16", errno.EHOSTUNREACH), (8, "10.51.0.0/16", errno.EACCES),
                            (6, "10.52.0.0/16", errno.EINVAL)):
        add(host, dst, rtype=rtype)
        assert lookup(host, dst.split("/")[0]) == err


def test_address_routes_match_linux(host):
    e0 = host.devices["eth0"]
    host.devinet.add(e0, A("10.0.1.9"), 24)  # secondary
    host.devinet.add(e0, A("10.5.5.5"), 32)
    host.devinet.add(e0, A("10.6.0.1"), 31)
    host.devinet.add(e0, A("10.7.0.1"), 24, noprefixroute=True)
    local = routes(host, RT_TABLE_LOCAL)
    assert "2 10.0.1.9/32 gw=0.0.0.0 dev=eth0 m=0 tos=0" in local
    assert "3 10.0.1.255/32 gw=0.0.0.0 dev=eth0 m=0 tos=0" in local
    assert "3 10.7.0.255/32 gw=0.0.0.0 dev=eth0 m=0 tos=0" in local  # noprefixroute keeps the broadcast
    assert not any(r.startswith("3 10.6.0.") for r in local)  # no broadcast for /31
    assert not any(r.startswith("3 10.0.1.0/") for r in local)  # no network-address broadcast
    main = routes(host, RT_TABLE_MAIN)
    assert "1 10.6.0.0/31 gw=0.0.0.0 dev=eth0 m=0 tos=0" in main
    assert not any("10.5.5.5" in r or "10.7.0.0" in r for r in main)
    sec = [fa for fa in host.fib.local.aliases() if fa.dst == A("10.0.1.9")][0]
    assert N(sec.fi.prefsrc) == "10.0.1.2"  # a secondary's routes use its primary as src
    assert host.fib.addr_type(A("10.0.1.9")) == RTN_LOCAL
    assert host.fib.addr_type(A("10.0.1.255")) == RTN_BROADCAST
    assert host.fib.addr_type(A("10.0.1.77")) == RTN_UNICAST


def test_device_down_up_and_carrier(host):
    e1 = host.devices["eth1"]
    add(host, "10.9.0.0/16", gw="10.0.2.1")
    e1.close()
    main = routes(host, RT_TABLE_MAIN)
    assert not any("eth1" in r for r in main)  # prefix and gateway routes through eth1 are gone
    assert host.fib.addr_type(A("10.0.2.2")) == RTN_LOCAL  # host-scope local route survives
    assert host.fib.addr_type(A("10.0.2.255")) != RTN_BROADCAST
    e1.open()
    assert "1 10.0.2.0/24 gw=0.0.0.0 dev=eth1 m=0 tos=0" in routes(host, RT_TABLE_MAIN)
    assert "gw=10.0.2.1" not in " ".join(routes(host, RT_TABLE_MAIN))  # user routes do not come back
    e1.set_carrier(False)
    fa = host.fib.main.by_plen[24][A("10.0.2.0")][0]
    assert fa.fi.nh.flags & RTNH_F_LINKDOWN
    assert lookup(host, "10.0.2.7") is fa  # still used (ignore_routes_with_linkdown=0)
    host.sysctl.set("net.ipv4.conf.eth1.ignore_routes_with_linkdown", 1)
    assert lookup(host, "10.0.2.7") == errno.ENETUNREACH
    e1.set_carrier(True)
    assert not fa.fi.nh.flags & RTNH_F_LINKDOWN


def test_last_address_removal_kills_routes_through_device(host):
    e1 = host.devices["eth1"]
    add(host, "10.9.0.0/16", dev="eth1")
    host.devinet.delete(e1, A("10.0.2.2"), 24)
    assert not any("eth1" in r for t in (RT_TABLE_MAIN, RT_TABLE_LOCAL) for r in routes(host, t))
