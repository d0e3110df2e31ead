"""ip_queue_xmit / ip_local_out / ip_output: header fields, IP ID, DF, TTL, errors, hooks, broadcast."""

from __future__ import annotations

import errno

import pytest
from test_ip_topology import H1, H2, Capture, Topo, echo_skb

from tuxnet.core.trace import SkbDropReason as R
from tuxnet.netfilter.hooks import NF_ACCEPT, NF_DROP, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_aton


def sent(t: Topo, n: int = 1, **kw) -> list:
    cap = Capture(t.h1e)
    for _ in range(n):
        t.h1.ip.send(SkBuff.from_bytes(bytes(32)), 0, H2, 253, **kw)
    t.run(0.001)
    return [iph for iph, _ in cap.ip(outgoing=True, proto=253)]


def test_header_defaults():
    t = Topo()
    (iph,) = sent(t)
    assert (iph.version, iph.ihl, iph.tos, iph.tot_len, iph.ttl, iph.protocol) == (4, 5, 0, 52, 64, 253)
    assert (iph.saddr, iph.daddr, iph.df, iph.mf, iph.frag_offset) == (H1, H2, True, False, 0)
    assert t.h1.mib.ip.OutRequests == 1 and t.h1.mib.ip.OutTransmits == 1
    assert t.h1.mib.ipext.OutOctets == 52


def test_ttl_from_sysctl_and_explicit():
    t = Topo()
    t.h1.sysctl.set("net.ipv4.ip_default_ttl", "33")
    assert [i.ttl for i in sent(t)] == [33]
    assert [i.ttl for i in sent(t, ttl=7)] == [7]


def test_ip_id_hashed_per_destination_and_advancing():
    t = Topo()
    ids = [i.id for i in sent(t, 4)]
    # same (daddr, saddr, protocol) bucket within one jiffy: consecutive IDs
    assert [(b - a) & 0xFFFF for a, b in zip(ids, ids[1:], strict=False)] == [1, 1, 1]
    t.run(0.5)
    later = sent(t)[0].id
    # 500 jiffies later the bucket jumped ahead by a random amount below 500 (ip_idents_reserve)
    assert 1 <= (later - ids[-1]) & 0xFFFF <= 500
    # the same seed gives the same IDs
    assert [i.id for i in sent(Topo(), 4)] == ids


def test_ip_id_zero_for_df_packets_that_may_not_fragment():
    t = Topo()
    assert [i.id for i in sent(t, 3, df=True)] == [0, 0, 0]
    assert all(i.df for i in sent(t, 1, df=True))


def test_ip_id_of_connected_socket_is_its_own_counter():
    class Sock:
        inet_daddr = H2
        inet_id = 0xFFFE

    t = Topo()
    sk = Sock()
    ids = [i.id for i in sent(t, 3, sk=sk, df=True)]
    assert ids == [0xFFFE, 0xFFFF, 0] and sk.inet_id == 1


def test_df_default_set_when_it_fits_cleared_when_fragmenting():
    t = Topo()
    cap = Capture(t.h1e)
    t.h1.ip.send(SkBuff.from_bytes(bytes(1480)), 0, H2, 253)  # 1500: fits
    t.h1.ip.send(SkBuff.from_bytes(bytes(1481)), 0, H2, 253)  # 1501: fragmented, no DF
    t.run(0.001)
    (a, *frags) = [iph for iph, _ in cap.ip(outgoing=True, proto=253)]
    assert a.df and a.tot_len == 1500
    assert len(frags) == 2 and not any(f.df for f in frags)
    # ip_no_pmtu_disc: sockets default to IP_PMTUDISC_DONT
    t.h1.sysctl.set("net.ipv4.ip_no_pmtu_disc", "1")
    assert [i.df for i in sent(t)] == [False]
    assert [i.df for i in sent(t, df=False)] == [False]


def test_no_route_raises_and_counts():
    t = Topo()
    lonely = t.lab.add_host("lonely")  # no address, no route
    with pytest.raises(OSError) as e:
        lonely.ip.send(SkBuff.from_bytes(b"x"), 0, H2, 253)
    assert e.value.errno == errno.ENETUNREACH
    assert lonely.mib.ip.OutNoRoutes == 1 and lonely.drops.by_reason == {R.IP_OUTNOROUTES: 1}


def test_oversized_datagram_is_emsgsize():
    t = Topo()
    with pytest.raises(OSError) as e:
        t.h1.ip.send(SkBuff.from_bytes(bytes(65516)), 0, H2, 253)
    assert e.value.errno == errno.EMSGSIZE


def test_netfilter_output_hooks_run_in_order_and_can_drop():
    t = Topo()
    seen = []
    t.h1.nf.register(NF_INET_LOCAL_OUT, 0, lambda skb, i, o: seen.append(("out", o.name)) or NF_ACCEPT)
    t.h1.nf.register(NF_INET_POST_ROUTING, 0, lambda skb, i, o: seen.append(("post", o.name)) or NF_ACCEPT)
    assert len(sent(t)) == 1
    assert seen == [("out", "eth0"), ("post", "eth0")]
    t.h1.nf.register(NF_INET_POST_ROUTING, -10, lambda skb, i, o: NF_DROP)
    assert sent(t) == [] and t.h1.drops.by_reason == {R.NETFILTER_DROP: 1}
    assert t.h1.mib.ip.OutRequests == 2 and t.h1.mib.ip.OutTransmits == 1


def test_broadcast_is_sent_and_looped_back():
    t = Topo()
    got = []
    t.h1.ip.register_protocol(253, lambda skb: got.append(skb.bytes()))
    t.h2.ip.register_protocol(253, lambda skb: None)
    cap = Capture(t.h1e)
    bcast = ip_aton("10.0.1.255")
    t.h1.ip.send(SkBuff.from_bytes(b"hello all"), 0, bcast, 253)
    t.run()
    ((iph, payload),) = cap.ip(outgoing=True, proto=253)
    assert (iph.daddr, payload) == (bcast, b"hello all")
    assert cap.frames[0][2][:6] == b"\xff" * 6
    assert got == [b"hello all"]  # our own copy (dev_loopback_xmit)
    assert t.h1.mib.ipext.OutBcastPkts == 1 and t.h1.mib.ipext.InBcastPkts == 1
    # r1 received it as a broadcast for itself too, and did not forward it
    assert t.r1.mib.ipext.InBcastPkts == 1 and t.r1.mib.ip.ForwDatagrams == 0


def test_echo_to_self_goes_through_lo():
    t = Topo()
    t.h1.ip.send(echo_skb(5, 5, b"self"), 0, H1, 1)
    t.run()
    assert len(t.replies["h1"]) == 1
    assert t.h1.lo.stats.tx_packets == 2 and t.h1e.stats.tx_packets == 0
