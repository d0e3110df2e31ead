"""A tuxnet device on a real TAP interface (drivers/net/tun.c seen from user space): live mode's wire.

The kernel side of a TAP is an Ethernet interface (``tap0``); its character device, opened through
``/dev/net/tun`` with ``TUNSETIFF(IFF_TAP | IFF_NO_PI)``, carries whole Ethernet frames, one per read
or write. ``TapDevice`` is the other end of that wire: a ``NetDevice`` in a tuxnet namespace, like the
NIC of a virtual machine plugged into the TAP, with its own random MAC (not the kernel TAP's).

Guarantees:
- Opening creates the TAP when no interface has that name, or attaches to an existing (persistent)
  one, as ``ip tuntap add`` / QEMU do. Failures are ``TapError`` with a one-line message a user can
  act on: no /dev/net/tun, no permission (needs root or CAP_NET_ADMIN), busy (another process holds
  the TAP: EBUSY), a name taken by an interface that is not a TAP (EINVAL), an invalid name.
  A TAP this device created disappears when it is closed; a persistent one stays.
- The fd is non-blocking and registered with ``loop.add_reader`` (the real-time loop). Each wakeup
  reads at most ``net.core.dev_weight`` frames (the NAPI budget) and hands them to ``netif_rx``;
  frames longer than MTU + Ethernet header + one VLAN tag are dropped (rx_length_errors,
  PKT_TOO_BIG). Received frames are CHECKSUM_NONE: the kernel computed their checksums (the TAP has
  no offloads without TUNSETOFFLOAD) and tuxnet verifies them in software, as tun_get_user leaves it.
- ``ndo_start_xmit`` writes the frame. Checksums left to the "hardware" (``ip_summed`` PARTIAL) are
  completed first (skb_checksum_help): frames leaving for a real wire always carry correct ones.
  A write that would block (EAGAIN) queues the frame in the driver's ring (``txqueuelen`` frames,
  then tail drop: tx_dropped, QDISC_DROP) and waits for the fd to become writable
  (``loop.add_writer``); later frames queue behind it, so order is kept. A write refused because
  the kernel side of the TAP is down (EIO) drops the frame (tx_carrier_errors, LINK_DOWN), as a NIC
  without link does.
- A read error other than EAGAIN (the TAP was deleted under us: EBADFD) takes the carrier down,
  stops reading and calls ``on_error(exc)``, so live mode can say what happened.

The stack never touches the fd: only this driver does (I/O at the edges).
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from tuxnet.core.trace import SkbDropReason
from tuxnet.drivers.netdevice import IFF_BROADCAST, IFF_MULTICAST, NetDevice
from tuxnet.sched.netem import skb_checksum_help
from tuxnet.skb import Csum, SkBuff
from tuxnet.wire.ethernet_consts import ETH_HLEN

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

TUN_PATH = "/dev/net/tun"  # module attribute so tests can point it elsewhere

# include/uapi/linux/if_tun.h
TUNSETIFF = 0x400454CA
TUNGETIFF = 0x800454D2
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_TUN_EXCL = 0x8000
IFNAMSIZ = 16
VLAN_HLEN = 4
RX_BUF = 65536 + ETH_HLEN + VLAN_HLEN  # the largest frame a TAP can hand us (64 KiB MTU)

_IFREQ = struct.Struct(f"{IFNAMSIZ}sH")


class TapError(Exception):
    """Opening the TAP failed; ``str(e)`` is the message for the user, ``errno`` the cause."""

    def __init__(self, message: str, errno_: int = 0) -> None:
        super().__init__(message)
        self.errno = errno_


def tun_alloc(name: str, *, path: str | None = None) -> tuple[int, bool]:
    """Open ``path`` (/dev/net/tun) and attach to TAP ``name``, creating it when missing.

    Returns (non-blocking fd, created). Raises TapError with a message naming the cause."""
    path = TUN_PATH if path is None else path
    if not name or len(name.encode()) >= IFNAMSIZ or "/" in name or any(c.isspace() for c in name):
        raise TapError(f"tuxnet: \"{name}\" is not a valid interface name", errno.EINVAL)
    existed = os.path.exists(f"/sys/class/net/{name}")
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise TapError(f"tuxnet: cannot open {path}: No such file or directory (the tun module is not "
                       "loaded, or this container has no /dev/net/tun)", errno.ENOENT) from None
    except PermissionError as e:
        raise TapError(f"tuxnet: cannot open {path}: {e.strerror} (live mode needs root or "
                       "CAP_NET_ADMIN)", e.errno or errno.EACCES) from None
    except OSError as e:
        raise TapError(f"tuxnet: cannot open {path}: {e.strerror}", e.errno or 0) from None
    try:
        fcntl.ioctl(fd, TUNSETIFF, _IFREQ.pack(name.encode(), IFF_TAP | IFF_NO_PI))
    except OSError as e:
        os.close(fd)
        code = e.errno or 0
        why = os.strerror(code)
        if code == errno.EBUSY:
            msg = f"tuxnet: {name} is busy ({why})"
        elif code == errno.EPERM:
            msg = (f"tuxnet: cannot attach to {name}: {why} (live mode needs root or CAP_NET_ADMIN, or a "
                   f"TAP made for you with: ip tuntap add dev {name} mode tap user $USER)")
        elif code == errno.EINVAL and existed:
            msg = f"tuxnet: {name} exists and is not a TAP device ({why})"
        elif code in (errno.ENOTTY, errno.EBADFD, errno.EINVAL):
            msg = f"tuxnet: {path} is not the TUN/TAP device ({why})"
        else:
            msg = f"tuxnet: cannot attach to {name}: {why}"
        raise TapError(msg, code) from None
    return fd, not existed


class TapDevice(NetDevice):
    """A tuxnet NIC whose wire is a kernel TAP interface, driven by the real-time loop."""

    kind = "tun"
    default_qdisc = "pfifo_fast"  # a TAP's qdisc in Linux is the default one, txqueuelen 1000

    def __init__(self, ns: Namespace, name: str, *, tap: str | None = None, fd: int | None = None,
                 mac: bytes | None = None, mtu: int = 1500, path: str | None = None) -> None:
        """``name`` is the device inside tuxnet; ``tap`` the kernel interface (default: the same).
        An already-open frame fd may be given instead (tests use a datagram socketpair)."""
        super().__init__(ns, name, mac=mac, mtu=mtu, flags=IFF_BROADCAST | IFF_MULTICAST)
        self.tap_name = tap or name
        self.created = False
        if fd is None:
            fd, self.created = tun_alloc(self.tap_name, path=path)
        else:
            os.set_blocking(fd, False)
        self.fd = fd
        self.txq: deque[SkBuff] = deque()
        self._writer_armed = False
        self._rxbuf = bytearray(RX_BUF)
        self._rxview = memoryview(self._rxbuf)
        self.on_error: Callable[[OSError], None] | None = None
        self.rx_wakeups = 0  # reader callbacks run (frames per wakeup = rx_packets / rx_wakeups)
        ns.loop.add_reader(fd, self._rx_ready)

    # ----------------------------------------------------------- receive
    def _rx_ready(self) -> None:
        """The fd is readable: a NAPI-style batch of at most dev_weight frames into netif_rx."""
        fd = self.fd
        if fd < 0:
            return
        self.rx_wakeups += 1
        budget = self.ns.sysctl.v["net.core.dev_weight"]
        readv = os.readv
        bufs = [self._rxbuf]
        view = self._rxview
        limit = self.mtu + ETH_HLEN + VLAN_HLEN
        while budget > 0:
            budget -= 1
            try:
                n = readv(fd, bufs)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as e:
                self._fail(e)
                return
            if n == 0:  # end of file: the other end is gone (not a TAP's behaviour; a socketpair's)
                self._fail(OSError(errno.EBADFD, os.strerror(errno.EBADFD)))
                return
            skb = SkBuff.from_bytes(view[:n])
            skb.ip_summed = Csum.NONE
            if n > limit:
                st = self.stats
                st.rx_length_errors += 1
                st.rx_errors += 1
                self.ns.kfree_skb(skb, SkbDropReason.PKT_TOO_BIG)
                continue
            self.netif_rx(skb)

    def _fail(self, e: OSError) -> None:
        self.ns.loop.remove_reader(self.fd)
        self.ns.loop.remove_writer(self.fd)
        self.set_carrier(False)
        if self.on_error is not None:
            self.on_error(e)

    # ----------------------------------------------------------- transmit
    def ndo_start_xmit(self, skb: SkBuff) -> None:
        if skb.ip_summed == Csum.PARTIAL:
            skb_checksum_help(skb)  # the frame leaves for a real wire: no one else will fill it in
        if self.txq:
            self._queue(skb)
            return
        self._write(skb)

    def _write(self, skb: SkBuff) -> bool:
        """One frame to the fd; False when it would block (the caller keeps it queued)."""
        st = self.stats
        try:
            os.write(self.fd, memoryview(skb.buf)[skb.data:skb.tail])
        except BlockingIOError:
            if not self.txq or self.txq[0] is not skb:
                self._queue(skb)
            return False
        except OSError as e:
            st.tx_dropped += 1
            if e.errno == errno.EIO:  # the kernel side of the TAP is down
                st.tx_carrier_errors += 1
                st.tx_errors += 1
                self.ns.kfree_skb(skb, SkbDropReason.LINK_DOWN)
            else:
                st.tx_errors += 1
                self.ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
            return True
        st.tx_packets += 1
        st.tx_bytes += skb.tail - skb.data
        self.ns.consume_skb(skb)
        return True

    def _queue(self, skb: SkBuff) -> None:
        if len(self.txq) >= max(self.txqueuelen, 1):
            self.stats.tx_dropped += 1
            self.ns.kfree_skb(skb, SkbDropReason.QDISC_DROP)
            return
        self.txq.append(skb)
        if not self._writer_armed and self.fd >= 0:
            self._writer_armed = True
            self.ns.loop.add_writer(self.fd, self._tx_ready)

    def _tx_ready(self) -> None:
        """The fd is writable again: send what waited, in order, until it would block."""
        txq = self.txq
        while txq:
            if not self._write(txq[0]):
                return
            txq.popleft()
        self._writer_armed = False
        self.ns.loop.remove_writer(self.fd)

    # ----------------------------------------------------------- lifetime
    def close(self) -> None:
        """dev_close: also forget frames waiting in the driver's ring."""
        super().close()
        self.txq.clear()

    def release(self) -> None:
        """Close the fd: a TAP this device created disappears with it; a persistent one stays."""
        fd = self.fd
        if fd < 0:
            return
        self.ns.loop.remove_reader(fd)
        self.ns.loop.remove_writer(fd)
        self._writer_armed = False
        self.fd = -1
        os.close(fd)
        self.set_carrier(False)
