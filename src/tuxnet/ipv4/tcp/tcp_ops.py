"""inet_stream_ops: the socket layer's calls for SOCK_STREAM/IPPROTO_TCP (net/ipv4/af_inet.c
inet_stream_connect, inet_accept, inet_listen, inet_getname, inet_shutdown, inet_release).

Registered in the inet protocol switch as the permanent SOCK_STREAM entry; the facade
(``tuxnet.socket.Socket``) calls these with its socket, whose ``sk`` is the ``TcpSock``. See
``tcp.py`` for the semantics and errnos of each call.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.ipv4.tcp import tcp_ctl, tcp_fastopen, tcp_input, tcp_output, tcp_sockopt
from tuxnet.ipv4.tcp.tcp import (
    SS_DISCONNECTING,
    sock_error,
    tcp_close,
    tcp_disconnect,
    tcp_ioctl,
    tcp_poll,
    tcp_recvmsg,
    tcp_sendmsg_locked,
    tcp_shutdown,
    tcp_v4_connect,
    tcp_zerocopy_uarg,
)
from tuxnet.ipv4.tcp.tcp_sock import (
    RCV_SHUTDOWN,
    SHUTDOWN_MASK,
    SOCK_BINDADDR_LOCK,
    SOCK_BINDPORT_LOCK,
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_LISTEN,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    U32,
    TcpSock,
    tcpf,
)
from tuxnet.sock import msg_zerocopy
from tuxnet.sock.af_inet import (
    INET_PROTOSW_ICSK,
    INET_PROTOSW_PERMANENT,
    ProtoOps,
    RecvResult,
    SockAddr,
    inet_register_protosw,
)
from tuxnet.sock.constants import (
    AF_INET,
    AF_UNSPEC,
    IPPROTO_TCP,
    MSG_DONTWAIT,
    MSG_FASTOPEN,
    SOCK_STREAM,
    SOL_IP,
    SS_CONNECTED,
    SS_CONNECTING,
    SS_UNCONNECTED,
)
from tuxnet.sock.sockopt import ip_getsockopt, ip_setsockopt

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.sock.sock import Cred
    from tuxnet.socket import Socket


class InetStreamOps(ProtoOps):
    """inet_stream_ops: what the facade calls for SOCK_STREAM sockets."""

    __slots__ = ()
    name = "inet_stream_ops"

    def release(self, sock: Socket) -> None:
        tp = sock.sk
        if tp is not None:
            tcp_close(tp)

    def bind(self, sock: Socket, addr: SockAddr) -> None:
        """__inet_bind for TCP."""
        tp: TcpSock = sock.sk
        ns = sock.ns
        family, ip, port = addr
        if family != AF_INET and (family != AF_UNSPEC or ip != 0):
            raise oserror(errno.EAFNOSUPPORT)
        from tuxnet.ipv4.fib_semantics import RTN_BROADCAST, RTN_LOCAL, RTN_MULTICAST
        from tuxnet.ipv4.inet_hashtables import inet_port_requires_bind_service

        chk = ns.fib.addr_type(ip)
        nonlocal_ok = bool(ns.sysctl.v["net.ipv4.ip_nonlocal_bind"]) or tp.freebind or tp.transparent
        if not (nonlocal_ok or ip == 0 or chk in (RTN_LOCAL, RTN_MULTICAST, RTN_BROADCAST)):
            raise oserror(errno.EADDRNOTAVAIL)
        if (port and inet_port_requires_bind_service(ns, port)
                and not tp.sk_cred.capable("CAP_NET_BIND_SERVICE")):
            raise oserror(errno.EACCES)
        if tp.sk_state != TCP_CLOSE or tp.inet_num:
            raise oserror(errno.EINVAL)
        tp.inet_rcv_saddr = tp.inet_saddr = ip
        if chk in (RTN_MULTICAST, RTN_BROADCAST):
            tp.inet_saddr = 0
        if port or not tp.bind_address_no_port:
            try:
                tp.net.inet_csk_get_port(tp, port)
            except OSError:
                tp.inet_saddr = tp.inet_rcv_saddr = 0
                raise
        if tp.inet_rcv_saddr:
            tp.sk_userlocks |= SOCK_BINDADDR_LOCK
        if port:
            tp.sk_userlocks |= SOCK_BINDPORT_LOCK
        tp.inet_sport = tp.inet_num
        tp.inet_daddr = 0
        tp.inet_dport = 0
        tp.sk_dst = None

    def connect(self, sock: Socket, addr: SockAddr, nonblock: bool) -> None:
        """__inet_stream_connect (never sleeps: EINPROGRESS, then the result once known)."""
        err = self.stream_connect(sock, addr, False)
        if err:
            raise oserror(-err)

    def stream_connect(self, sock: Socket, addr: SockAddr | None, is_sendmsg: bool) -> int:
        """__inet_stream_connect: 0 or a negative errno. A deferred Fast Open connect (TCP_FASTOPEN_CONNECT)
        returns 0 at once; sendmsg's call finds it in progress (EINPROGRESS)."""
        tp: TcpSock = sock.sk
        if addr is not None and addr[0] == AF_UNSPEC:
            tcp_disconnect(tp)
            sock.state = SS_UNCONNECTED
            return 0
        if sock.state == SS_CONNECTED:
            return -errno.EISCONN
        if sock.state == SS_CONNECTING:
            if tp.defer_connect:
                err = -errno.EINPROGRESS if is_sendmsg else -errno.EISCONN
            else:
                err = -errno.EALREADY
        elif sock.state == SS_UNCONNECTED:
            if tp.sk_state != TCP_CLOSE:
                return -errno.EISCONN
            if addr is None:
                return -errno.EINVAL
            family, ip, port = addr
            if family != AF_INET:
                return -errno.EAFNOSUPPORT
            try:
                tcp_v4_connect(tp, ip, port)
            except OSError as e:
                return -(e.errno or errno.EINVAL)
            sock.state = SS_CONNECTING
            if tp.defer_connect:
                return 0
            err = -errno.EINPROGRESS
        else:
            return -errno.EINVAL
        if (1 << tp.sk_state) & tcpf(TCP_SYN_SENT, TCP_SYN_RECV):
            return err
        if tp.sk_state == TCP_CLOSE:
            # closed by an RST, a timeout, an ICMP error: report it once
            e = sock_error(tp) or errno.ECONNABORTED
            sock.state = SS_UNCONNECTED
            tcp_disconnect(tp)
            return -e
        sock.state = SS_CONNECTED
        return 0

    def accept(self, sock: Socket, nonblock: bool) -> Socket:
        """inet_accept / inet_csk_accept."""
        tp: TcpSock = sock.sk
        if tp.sk_state != TCP_LISTEN:
            raise oserror(errno.EINVAL)
        if not tp.icsk_accept_queue:
            raise oserror(errno.EAGAIN)
        child: TcpSock = tp.icsk_accept_queue.popleft()
        tp.sk_ack_backlog -= 1
        child.listener = None
        child.req = None
        from tuxnet.socket import Socket as _Socket

        new = _Socket(sock.ns, sock.family, sock.type, sock.proto)
        new.ops = self
        new.sk = child
        child.sk_socket = new
        child.sk_cred = tp.sk_cred
        child.sk_uid = tp.sk_uid
        new.state = SS_CONNECTED
        sock.ns.sockets.install(new)
        return new

    def listen(self, sock: Socket, backlog: int) -> None:
        """inet_listen / inet_csk_listen_start."""
        tp: TcpSock = sock.sk
        somaxconn = int(sock.ns.sysctl.v["net.core.somaxconn"])  # type: ignore[call-overload]
        if backlog > somaxconn or backlog < 0 and (backlog & U32) > somaxconn:
            backlog = somaxconn
        if sock.state != SS_UNCONNECTED or sock.type != SOCK_STREAM:
            raise oserror(errno.EINVAL)
        old = tp.sk_state
        if not (1 << old) & tcpf(TCP_CLOSE, TCP_LISTEN):
            raise oserror(errno.EINVAL)
        tp.sk_max_ack_backlog = backlog
        if old == TCP_LISTEN:
            return
        net = tp.net
        tp.sk_ack_backlog = 0
        tp.icsk_accept_queue.clear()
        if tp.inet_num:
            net.check_listen_conflict(tp)
        tcp_input.tcp_set_state(tp, TCP_LISTEN)
        if not tp.inet_num:
            try:
                net.inet_csk_get_port(tp, 0)
            except OSError:
                tcp_input.tcp_set_state(tp, TCP_CLOSE)
                raise
            tp.inet_sport = tp.inet_num
        net.lhash.setdefault(tp.inet_num, []).append(tp)
        net.sockets.add(tp)
        fo = tcp_fastopen.sysctl_fastopen(sock.ns)
        if (fo & tcp_fastopen.TFO_SERVER_WO_SOCKOPT1 and fo & tcp_fastopen.TFO_SERVER_ENABLE
                and not tp.fastopen_max_qlen):
            # every listener offers Fast Open, without the TCP_FASTOPEN option
            tcp_fastopen.fastopen_queue_tune(tp, backlog)
            net.fastopen.init_key_once()

    def getname(self, sock: Socket, peer: bool | int) -> tuple[int, int]:
        """inet_getname; ``peer`` 2 is accept()'s question, answered even for a closed child."""
        tp: TcpSock = sock.sk
        if peer:
            if not tp.inet_dport or ((1 << tp.sk_state) & tcpf(TCP_CLOSE, TCP_SYN_SENT) and peer == 1):
                raise oserror(errno.ENOTCONN)
            return tp.inet_daddr, tp.inet_dport
        return tp.inet_rcv_saddr or tp.inet_saddr, tp.inet_sport

    def poll(self, sock: Socket) -> int:
        return tcp_poll(sock.sk)

    def shutdown(self, sock: Socket, how: int) -> None:
        """inet_shutdown."""
        how += 1
        if how & ~SHUTDOWN_MASK or not how:
            raise oserror(errno.EINVAL)
        tp: TcpSock = sock.sk
        if sock.state == SS_CONNECTING:
            if (1 << tp.sk_state) & tcpf(TCP_SYN_SENT, TCP_SYN_RECV, TCP_CLOSE):
                sock.state = SS_DISCONNECTING
            else:
                sock.state = SS_CONNECTED
        err = 0
        st = tp.sk_state
        if st == TCP_LISTEN:
            if how & RCV_SHUTDOWN:
                tcp_disconnect(tp)
                sock.state = SS_UNCONNECTED
        elif st == TCP_SYN_SENT:
            tcp_disconnect(tp)
            sock.state = SS_UNCONNECTED
        else:
            if st == TCP_CLOSE:
                err = errno.ENOTCONN
            tp.sk_shutdown |= how
            tcp_shutdown(tp, how)
        tp.sk_state_change()
        if err:
            raise oserror(err)

    def setsockopt(self, sock: Socket, level: int, optname: int, value: Any) -> None:
        if level == SOL_IP:
            ip_setsockopt(sock, optname, value)
        elif level == IPPROTO_TCP:
            tcp_sockopt.do_tcp_setsockopt(sock.sk, optname, value)
        else:
            raise oserror(errno.ENOPROTOOPT)

    def getsockopt(self, sock: Socket, level: int, optname: int, buflen: int | None) -> int | bytes:
        if level == SOL_IP:
            return ip_getsockopt(sock, optname, buflen)
        if level == IPPROTO_TCP:
            return tcp_sockopt.do_tcp_getsockopt(sock.sk, optname, buflen)
        raise oserror(errno.ENOPROTOOPT)

    def sendmsg(self, sock: Socket, data: bytes, addr: SockAddr | None, flags: int,
                iov: list[int] | None = None) -> int:
        """tcp_sendmsg. ``iov``: the lengths of the caller's buffers, for MSG_ZEROCOPY's page frags.
        A zerocopy send has one uarg for its SYN data (Fast Open) and the rest; a send that takes
        nothing gives its id back, and a blocking Fast Open call keeps it while it waits for the
        handshake (tcp_sendmsg_fastopen's fo->uarg)."""
        tp: TcpSock = sock.sk
        fo = tp.fastopen_req
        resumed = fo is not None and fo.waiting and fo.uarg is not None
        uarg = fo.uarg if resumed else tcp_zerocopy_uarg(tp, data, flags)  # type: ignore[union-attr]
        try:
            copied = self._sendmsg(sock, data, addr, flags, iov, uarg)
        except OSError:
            fo = tp.fastopen_req
            if uarg is not None:
                if fo is not None and fo.waiting:
                    fo.uarg = uarg
                else:
                    msg_zerocopy.msg_zerocopy_put_abort(uarg, True)
            raise
        if uarg is not None:
            msg_zerocopy.net_zcopy_put(uarg)
        return copied

    def _sendmsg(self, sock: Socket, data: bytes, addr: SockAddr | None, flags: int, iov: list[int] | None,
                 uarg: msg_zerocopy.UbufInfo | None) -> int:
        tp: TcpSock = sock.sk
        copied_syn = 0
        if flags & MSG_FASTOPEN or tp.defer_connect:
            copied_syn = self.sendmsg_fastopen(sock, data, addr, flags, uarg)
            if copied_syn < 0:
                return -copied_syn  # EINPROGRESS with data in the SYN: that much was sent
            data = data[copied_syn:]
        if sock.state == SS_CONNECTING and tp.sk_state == TCP_ESTABLISHED:
            sock.state = SS_CONNECTED
        if copied_syn and not data:
            return copied_syn
        try:
            if iov is not None and copied_syn:
                iov = msg_zerocopy.iov_tail(iov, copied_syn)
            return copied_syn + tcp_sendmsg_locked(tp, data, flags, uarg, iov)
        except OSError:
            if copied_syn:
                return copied_syn
            raise

    def sendmsg_fastopen(self, sock: Socket, data: bytes, addr: SockAddr | None, flags: int,
                         uarg: msg_zerocopy.UbufInfo | None = None) -> int:
        """tcp_sendmsg_fastopen: connect with data in the SYN. Returns the bytes the SYN took once
        connected, or minus them when the connect is still in progress (a non-blocking call returns
        them); raises the connect's error otherwise. A blocking call (the facade never sleeps) raises
        EINPROGRESS while the handshake runs, keeping its request, and picks up its result when
        called again (inet_wait_for_connect)."""
        tp: TcpSock = sock.sk
        nonblock = not sock.blocking or bool(flags & MSG_DONTWAIT)
        fo = tp.fastopen_req
        if fo is not None and fo.waiting:
            # the same blocking call, back after the handshake moved on
            if (1 << tp.sk_state) & tcpf(TCP_SYN_SENT, TCP_SYN_RECV):
                raise oserror(errno.EINPROGRESS)
            fo.waiting = False
            if fo.data is not None:
                tp.sk_write_pending -= 1
            err = self.stream_connect(sock, None, True)
        else:
            if (not tcp_fastopen.sysctl_fastopen(sock.ns) & tcp_fastopen.TFO_CLIENT_ENABLE
                    or (addr is not None and addr[0] == AF_UNSPEC)):
                raise oserror(errno.EOPNOTSUPP)
            if fo is not None:
                raise oserror(errno.EALREADY)  # another Fast Open is in progress
            fo = tp.fastopen_req = tcp_fastopen.FastopenRequest(data)
            fo.uarg = uarg  # the SYN's data is part of this zerocopy send
            if tp.defer_connect:
                err = tcp_ctl.tcp_connect(tp, tcp_output.sk_dst_get(tp))
                if err:
                    tcp_input.tcp_set_state(tp, TCP_CLOSE)
                    tp.inet_dport = 0
            err = self.stream_connect(sock, addr, True)
            if err == -errno.EINPROGRESS and not nonblock:
                fo.waiting = True
                if fo.data is not None:
                    tp.sk_write_pending += 1  # the ACK of the SYN-ACK waits for the rest of the data
                raise oserror(errno.EINPROGRESS)
        copied = 0
        if tp.fastopen_req is fo:
            copied = fo.copied
            tp.fastopen_req = None
            tp.defer_connect = False
        if err == -errno.EINPROGRESS and copied > 0:
            return -copied
        if err:
            raise oserror(-err)
        return copied

    def recvmsg(self, sock: Socket, bufsize: int, flags: int, nonblock: bool) -> RecvResult:
        return tcp_recvmsg(sock.sk, bufsize, flags, nonblock or bool(flags & MSG_DONTWAIT))

    def ioctl(self, sock: Socket, cmd: int) -> int:
        return tcp_ioctl(sock.sk, cmd)


def tcp_sock_factory(ns: Namespace, sk_type: int, protocol: int, cred: Cred) -> TcpSock:
    tp = ns.tcp.new_socket()
    tp.sk_cred = cred
    tp.sk_uid = cred.uid
    return tp


inet_stream_ops = InetStreamOps()
inet_register_protosw(SOCK_STREAM, IPPROTO_TCP, tcp_sock_factory, inet_stream_ops,
                      INET_PROTOSW_PERMANENT | INET_PROTOSW_ICSK)
_unused = (Any,)
