"""SO_TIMESTAMPING on UDP sockets: SCHED and SND stamps per datagram on the error queue, keys
counting datagrams since OPT_ID, taken when the datagram enters the qdisc and leaves the driver."""

from __future__ import annotations

import errno
import struct

import pytest

from tuxnet.lab.lab import Lab
from tuxnet.sock.constants import (
    MSG_ERRQUEUE,
    SCM_TIMESTAMPING,
    SO_EE_ORIGIN_TIMESTAMPING,
    SO_TIMESTAMPING,
    SOL_SOCKET,
)
from tuxnet.sock.timestamping import (
    SCM_TSTAMP_SCHED,
    SCM_TSTAMP_SND,
    SOF_TIMESTAMPING_OPT_ID,
    SOF_TIMESTAMPING_SOFTWARE,
    SOF_TIMESTAMPING_TX_SCHED,
    SOF_TIMESTAMPING_TX_SOFTWARE,
)
from tuxnet.socket import AF_INET, SOCK_DGRAM
from tuxnet.wire.addr import ip_aton

MS = 1_000_000


def test_udp_datagrams_get_sched_and_snd_stamps_with_datagram_keys():
    lab = Lab(2)
    a, b = lab.add_host("a"), lab.add_host("b")
    da, db = lab.add_link(a, "eth0", b, "eth0", impair={"delay": "3ms"})
    a.devinet.add(da, ip_aton("10.0.0.1"), 24)
    b.devinet.add(db, ip_aton("10.0.0.2"), 24)
    rx = b.socket(AF_INET, SOCK_DGRAM)
    rx.bind(("10.0.0.2", 9000))
    u = a.socket(AF_INET, SOCK_DGRAM)
    u.setblocking(False)
    u.sendto(b"warm", ("10.0.0.2", 9000))  # resolve the neighbour first
    lab.run(0.1)
    u.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE
                 | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID)
    t0 = lab.loop.now_ns
    for n in (10, 20):
        u.sendto(bytes(n), ("10.0.0.2", 9000))
    lab.run(0.1)
    got = []
    while True:
        try:
            data, anc, flags, addr = u.recvmsg(2048, 1024, MSG_ERRQUEUE)
        except BlockingIOError as e:
            assert e.errno == errno.EAGAIN
            break
        (ts,) = [d for lvl, typ, d in anc if (lvl, typ) == (SOL_SOCKET, SCM_TIMESTAMPING)]
        (ee,) = [d for lvl, typ, d in anc if (lvl, typ) == (0, 11)]
        ee_errno, origin, _, _, _, info, key = struct.unpack_from("=IBBBBII", ee)
        assert (ee_errno, origin) == (errno.ENOMSG, SO_EE_ORIGIN_TIMESTAMPING)
        assert (flags, addr) == (MSG_ERRQUEUE, None)
        sec, nsec = struct.unpack_from("=qq", ts)
        got.append((info, key, sec * 1_000_000_000 + nsec, len(data)))
    # the frame from its Ethernet header; SND 3 ms later, when netem releases it
    assert got == [(SCM_TSTAMP_SCHED, 0, t0, 14 + 20 + 8 + 10), (SCM_TSTAMP_SCHED, 1, t0, 14 + 20 + 8 + 20),
                   (SCM_TSTAMP_SND, 0, t0 + 3 * MS, 14 + 20 + 8 + 10),
                   (SCM_TSTAMP_SND, 1, t0 + 3 * MS, 14 + 20 + 8 + 20)]
    assert rx.recv(100) == b"warm"
    with pytest.raises(BlockingIOError):
        u.recvmsg(10, 0, MSG_ERRQUEUE)
