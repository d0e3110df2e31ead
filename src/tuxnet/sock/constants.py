"""Socket API numbers, with the values Linux uses (include/linux/socket.h, include/uapi/linux/in.h,
include/uapi/asm-generic/socket.h, include/uapi/linux/eventpoll.h, include/net/sock.h).

They are the same numbers Python's ``socket`` module exposes on Linux, so code written against one
runs against the other. Also the socket-side limits Linux applies (SOCK_MIN_RCVBUF ...).
"""

from __future__ import annotations

# address families
AF_UNSPEC = 0
AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10
AF_PACKET = 17

# socket types (include/linux/net.h)
SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
SOCK_RDM = 4
SOCK_SEQPACKET = 5
SOCK_DCCP = 6
SOCK_PACKET = 10
SOCK_MAX = SOCK_PACKET + 1
SOCK_TYPE_MASK = 0xF
SOCK_NONBLOCK = 0o4000
SOCK_CLOEXEC = 0o2000000

# protocols
IPPROTO_IP = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_UDPLITE = 136
IPPROTO_RAW = 255

# option levels
SOL_IP = 0
SOL_SOCKET = 1
SOL_TCP = 6
SOL_UDP = 17
SOL_RAW = 255

# SOL_SOCKET options (asm-generic/socket.h)
SO_DEBUG = 1
SO_REUSEADDR = 2
SO_TYPE = 3
SO_ERROR = 4
SO_DONTROUTE = 5
SO_BROADCAST = 6
SO_SNDBUF = 7
SO_RCVBUF = 8
SO_KEEPALIVE = 9
SO_OOBINLINE = 10
SO_NO_CHECK = 11
SO_PRIORITY = 12
SO_LINGER = 13
SO_BSDCOMPAT = 14
SO_REUSEPORT = 15
SO_PASSCRED = 16
SO_PEERCRED = 17
SO_RCVLOWAT = 18
SO_SNDLOWAT = 19
SO_RCVTIMEO = 20
SO_SNDTIMEO = 21
SO_BINDTODEVICE = 25
SO_TIMESTAMP = 29
SO_ACCEPTCONN = 30
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
SO_MARK = 36
SO_PROTOCOL = 38
SO_DOMAIN = 39
SO_RXQ_OVFL = 40
SO_BINDTOIFINDEX = 62

# IPPROTO_IP options (uapi/linux/in.h)
IP_TOS = 1
IP_TTL = 2
IP_HDRINCL = 3
IP_OPTIONS = 4
IP_RECVOPTS = 6
IP_PKTINFO = 8
IP_MTU_DISCOVER = 10
IP_RECVERR = 11
IP_RECVTTL = 12
IP_RECVTOS = 13
IP_MTU = 14
IP_FREEBIND = 15
IP_TRANSPARENT = 19
IP_NODEFRAG = 22
IP_BIND_ADDRESS_NO_PORT = 24
IP_MULTICAST_IF = 32
IP_MULTICAST_TTL = 33
IP_MULTICAST_LOOP = 34
IP_ADD_MEMBERSHIP = 35
IP_DROP_MEMBERSHIP = 36
IP_MULTICAST_ALL = 49
IP_UNICAST_IF = 50

IP_PMTUDISC_DONT = 0
IP_PMTUDISC_WANT = 1
IP_PMTUDISC_DO = 2
IP_PMTUDISC_PROBE = 3
IP_PMTUDISC_INTERFACE = 4
IP_PMTUDISC_OMIT = 5

# SOL_RAW (uapi/linux/icmp.h)
ICMP_FILTER = 1

# msg flags
MSG_OOB = 0x1
MSG_PEEK = 0x2
MSG_DONTROUTE = 0x4
MSG_CTRUNC = 0x8
MSG_PROBE = 0x10
MSG_TRUNC = 0x20
MSG_DONTWAIT = 0x40
MSG_EOR = 0x80
MSG_WAITALL = 0x100
MSG_CONFIRM = 0x800
MSG_ERRQUEUE = 0x2000
MSG_NOSIGNAL = 0x4000
MSG_MORE = 0x8000

# socket ioctls (uapi/asm-generic/ioctls.h, uapi/linux/sockios.h)
SIOCINQ = FIONREAD = 0x541B
SIOCOUTQ = TIOCOUTQ = 0x5411
SIOCATMARK = 0x8905
SIOCOUTQNSD = 0x894B

# shutdown(2) and sk_shutdown
SHUT_RD = 0
SHUT_WR = 1
SHUT_RDWR = 2
RCV_SHUTDOWN = 1
SEND_SHUTDOWN = 2
SHUTDOWN_MASK = 3

# poll bits (uapi/linux/eventpoll.h)
EPOLLIN = 0x001
EPOLLPRI = 0x002
EPOLLOUT = 0x004
EPOLLERR = 0x008
EPOLLHUP = 0x010
EPOLLRDNORM = 0x040
EPOLLRDBAND = 0x080
EPOLLWRNORM = 0x100
EPOLLWRBAND = 0x200
EPOLLRDHUP = 0x2000
# what select() counts as readable / writable (fs/select.c POLLIN_SET, POLLOUT_SET)
POLLIN_SET = EPOLLRDNORM | EPOLLRDBAND | EPOLLIN | EPOLLHUP | EPOLLERR
POLLOUT_SET = EPOLLWRBAND | EPOLLWRNORM | EPOLLOUT | EPOLLERR
POLLEX_SET = EPOLLPRI

# struct socket state (include/uapi/linux/net.h socket_state)
SS_FREE = 0
SS_UNCONNECTED = 1
SS_CONNECTING = 2
SS_CONNECTED = 3
SS_DISCONNECTING = 4

# sk_userlocks (include/net/sock.h)
SOCK_SNDBUF_LOCK = 1
SOCK_RCVBUF_LOCK = 2
SOCK_BINDADDR_LOCK = 4
SOCK_BINDPORT_LOCK = 8

# sk_reuse
SK_NO_REUSE = 0
SK_CAN_REUSE = 1
SK_FORCE_REUSE = 2

# sk_state values a datagram socket takes (include/net/tcp_states.h)
TCP_ESTABLISHED = 1
TCP_CLOSE = 7

# struct sock_extended_err (uapi/linux/errqueue.h)
SO_EE_ORIGIN_NONE = 0
SO_EE_ORIGIN_LOCAL = 1
SO_EE_ORIGIN_ICMP = 2

# Buffer sizes (include/net/sock.h): sizeof(struct sk_buff) is 232, SKB_DATA_ALIGN'd to 256;
# sizeof(struct skb_shared_info) is 320.
SKB_DATA_ALIGN_SK_BUFF = 256
SKB_SHINFO_SIZE = 320
TCP_SKB_MIN_TRUESIZE = 2048 + SKB_DATA_ALIGN_SK_BUFF
SOCK_MIN_RCVBUF = TCP_SKB_MIN_TRUESIZE
SOCK_MIN_SNDBUF = TCP_SKB_MIN_TRUESIZE * 2
INT_MAX = 2**31 - 1

# ip_tos2prio (net/ipv4/route.c), indexed by IPTOS_TOS(tos) >> 1
TC_PRIO_BESTEFFORT = 0
TC_PRIO_FILLER = 1
TC_PRIO_BULK = 2
TC_PRIO_INTERACTIVE_BULK = 4
TC_PRIO_INTERACTIVE = 6
IP_TOS2PRIO = (0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4)  # ECN_OR_COST(x) is TC_PRIO_x
IPTOS_TOS_MASK = 0x1E
INET_ECN_MASK = 3


def rt_tos2priority(tos: int) -> int:
    """rt_tos2priority: the skb priority a TOS value implies (IP_TOS also sets SO_PRIORITY)."""
    return IP_TOS2PRIO[(tos & IPTOS_TOS_MASK) >> 1]
