"""Policy rules: defaults, priorities, selectors, actions, goto resolution, suppressors."""

from __future__ import annotations

import errno

import pytest

from tuxnet.ipv4.fib import RT_TABLE_MAIN
from tuxnet.ipv4.fib_semantics import RouteError
from tuxnet.ipv4.rules import (
    FR_ACT_BLACKHOLE,
    FR_ACT_GOTO,
    FR_ACT_NOP,
    FR_ACT_PROHIBIT,
    FR_ACT_UNREACHABLE,
    FibRule,
)
from tuxnet.lab.lab import Lab
from tuxnet.tools import run_command
from tuxnet.wire.addr import ip_aton as A
from tuxnet.wire.addr import ip_ntoa as N


@pytest.fixture
def host():
    lab = Lab(5)
    h = lab.add_host("h")
    peer = lab.add_host("peer")
    e0, _ = lab.add_link(h, "eth0", peer, "eth0")
    e1, _ = lab.add_link(h, "eth1", peer, "eth1")
    h.devinet.add(e0, A("10.0.1.2"), 24)
    h.devinet.add(e1, A("10.0.2.2"), 24)
    for cmd in ("ip route add default via 10.0.1.1", "ip route add default via 10.0.2.1 table 100",
                "ip route add 10.8.0.0/16 via 10.0.2.1 table 100"):
        assert run_command(h, cmd) == (0, "")
    return h


def gw(h, dst: str, saddr: str = "", mark: int = 0, tos: int = 0):
    r = h.fib.lookup_flow(A(dst), A(saddr) if saddr else 0, tos, 0, 1, mark)
    return r if isinstance(r, int) else N(r.fi.nh.gw)


def test_default_rules_and_priority_assignment(host):
    rules = host.fib.rules
    assert [(r.pref, r.table) for r in rules] == [(0, 255), (32766, 254), (32767, 253)]
    a = rules.add(FibRule(table=100), pref_given=False)
    assert a.pref == 32765  # one below the second rule
    b = rules.add(FibRule(table=100, src=A("10.0.0.0"), src_len=8, pref=500))
    c = rules.add(FibRule(table=100, mark=3), pref_given=False)
    assert (b.pref, c.pref) == (500, 499)
    with pytest.raises(RouteError) as ei:
        rules.add(FibRule(table=100, mark=3, pref=499))  # identical
    assert ei.value.errno == errno.EEXIST
    same = rules.add(FibRule(table=RT_TABLE_MAIN, pref=500))
    order = list(rules)
    assert [r.pref for r in order] == [0, 499, 500, 500, 32765, 32766, 32767]
    assert order.index(b) + 1 == order.index(same)  # a new rule goes after its equals
    assert host.fib.has_custom_rules


def test_selectors_from_to_mark_tos_not(host):
    rules = host.fib.rules
    rules.add(FibRule(pref=100, table=100, src=A("10.0.2.0"), src_len=24))
    rules.add(FibRule(pref=101, table=100, mark=0x10, mark_mask=0xF0))
    rules.add(FibRule(pref=102, table=100, tos=0x10))
    rules.add(FibRule(pref=103, table=100, dst=A("192.0.2.0"), dst_len=24, invert=True))
    assert gw(host, "198.51.100.1") == "10.0.2.1"  # not to 192.0.2.0/24
    assert gw(host, "192.0.2.1") == "10.0.1.1"
    assert gw(host, "192.0.2.1", saddr="10.0.2.5") == "10.0.2.1"
    assert gw(host, "192.0.2.1", mark=0x1F) == "10.0.2.1"
    assert gw(host, "192.0.2.1", mark=0x0F) == "10.0.1.1"
    assert gw(host, "192.0.2.1", tos=0x10) == "10.0.2.1"


def test_iif_lo_matches_output_lookups(host):
    host.fib.rules.add(FibRule(pref=100, table=100, iifname="lo"))
    assert gw(host, "192.0.2.1") == "10.0.2.1"  # output lookups carry iif lo
    r = host.fib.lookup_flow(A("192.0.2.1"), A("10.0.1.9"), 0, 0, host.devices["eth0"].ifindex, 0)
    assert N(r.fi.nh.gw) == "10.0.1.1"  # a forwarded packet's lookup does not


def test_actions(host):
    rules = host.fib.rules
    rules.add(FibRule(pref=10, action=FR_ACT_BLACKHOLE, mark=1))
    rules.add(FibRule(pref=11, action=FR_ACT_UNREACHABLE, mark=2))
    rules.add(FibRule(pref=12, action=FR_ACT_PROHIBIT, mark=3))
    rules.add(FibRule(pref=13, action=FR_ACT_NOP, mark=4))
    rules.add(FibRule(pref=14, table=4242, mark=5))  # a missing table continues with the next rule
    assert gw(host, "192.0.2.1", mark=1) == errno.EINVAL
    assert gw(host, "192.0.2.1", mark=2) == errno.ENETUNREACH
    assert gw(host, "192.0.2.1", mark=3) == errno.EACCES
    assert gw(host, "192.0.2.1", mark=4) == "10.0.1.1"
    assert gw(host, "192.0.2.1", mark=5) == "10.0.1.1"


def test_goto_resolution_and_throw(host):
    rules = host.fib.rules
    g = rules.add(FibRule(pref=100, action=FR_ACT_GOTO, target=300))
    assert g.ctarget is None
    assert gw(host, "192.0.2.1") == "10.0.1.1"  # unresolved goto is skipped
    rules.add(FibRule(pref=200, table=100))
    t = rules.add(FibRule(pref=300, table=RT_TABLE_MAIN))
    assert g.ctarget is t
    assert gw(host, "10.8.1.1") == "10.0.1.1"  # jumped over pref 200 (table 100)
    rules.remove(t)
    assert g.ctarget is None
    with pytest.raises(RouteError) as ei:
        rules.add(FibRule(pref=400, action=FR_ACT_GOTO, target=300))
    assert ei.value.extack == "Backward goto not supported"
    # throw in table 100 sends the lookup on to the next rule
    assert run_command(host, "ip route add throw 10.8.1.0/24 table 100") == (0, "")
    assert gw(host, "10.8.1.1") == "10.0.1.1"
    assert gw(host, "10.8.2.1") == "10.0.2.1"


def test_suppress_prefixlength(host):
    host.fib.rules.add(FibRule(pref=50, table=RT_TABLE_MAIN, suppress_prefixlen=0))
    host.fib.rules.add(FibRule(pref=60, table=100))
    assert gw(host, "192.0.2.1") == "10.0.2.1"  # main's default route (/0) is suppressed
    assert host.fib.lookup_flow(A("10.0.1.7"), 0, 0, 0, 1, 0).table == RT_TABLE_MAIN  # /24 is not


def test_rule_on_missing_device_is_detached(host):
    rc, _ = run_command(host, "ip rule add iif nosuch table 100 pref 10")
    assert rc == 0
    assert run_command(host, "ip rule")[1].splitlines()[1] == "10:\tfrom all iif nosuch [detached] lookup 100"
