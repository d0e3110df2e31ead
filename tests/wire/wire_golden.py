"""Golden frames for the wire codec tests.

The pcap files in ``golden/`` were captured with tcpdump 4.99.3 from Linux 6.18 on veth pairs
between network namespaces, with ``ethtool -K <dev> tx off rx off`` so every checksum on the wire
is complete (no CHECKSUM_PARTIAL):

* ``veth_basic.pcap``: 10.0.0.1 (02:00:00:00:00:01) <-> 10.0.0.2 (02:00:00:00:00:02): ARP, ping,
  a TCP connection with default sysctls, a SYN with net.ipv4.tcp_sack=0, a SYN with
  net.ipv4.tcp_timestamps=0 (both answered by RST), a UDP datagram to a closed port and the ICMP
  port unreachable it drew.
* ``veth_router.pcap``: 10.1.0.1 through a forwarding namespace 10.1.0.254 / 10.2.0.254 (MTU 1400
  on the far side) to 10.2.0.2: ``ping -t 1`` (time exceeded), ``ping -M do -s 1450`` (fragmentation
  needed, mtu 1400), ``ping -R`` (record route) and ``ping -s 1600`` to the router (fragments).
* ``veth_sack.pcap``: two ACKs with one and two SACK blocks, from a bulk transfer with every
  seventh data segment dropped by nftables on the receiver.
"""

from __future__ import annotations

import struct
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def frames(name: str) -> list[bytes]:
    """The frames of ``golden/<name>.pcap``, read with a plain struct loop (independent of the codec)."""
    data = (GOLDEN / f"{name}.pcap").read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    out = []
    off = 24
    while off < len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, off)
        out.append(data[off + 16 : off + 16 + incl])
        off += 16 + incl
    return out


BASIC = frames("veth_basic")
ROUTER = frames("veth_router")
SACK = frames("veth_sack")

# Indices into BASIC / ROUTER (see `tcpdump -nn -v -r tests/wire/golden/<file>`).
ARP_REQUEST, ARP_REPLY, ECHO_REQUEST, ECHO_REPLY, SYN, SYNACK, ACK, DATA_HELLO = range(8)
SYN_NO_SACK, RST_ACK, SYN_NO_TS = 15, 16, 17
UDP_TO_CLOSED_PORT, ICMP_PORT_UNREACH = 19, 20
R_TTL_PROBE, R_TIME_EXCEEDED, R_BIG_DF, R_FRAG_NEEDED, R_RR_REQUEST, R_RR_REPLY, R_FRAG1, R_FRAG2 = (
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
)
