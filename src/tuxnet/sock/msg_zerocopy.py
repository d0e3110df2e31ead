"""MSG_ZEROCOPY: the ubuf_info_msgzc of a send and its completion notification.

Mirrors the zerocopy part of net/core/skbuff.c (msg_zerocopy_alloc, msg_zerocopy_realloc,
__msg_zerocopy_callback, skb_zerocopy_notify_extend, msg_zerocopy_complete, msg_zerocopy_put_abort,
skb_zcopy_clear, skb_orphan_frags_rx / skb_copy_ubufs) and include/linux/skbuff.h
(net_zcopy_get/put, skb_zcopy_set).

Guarantees, as Linux 6.x:
- Each zerocopy send takes the next id from ``sk_zckey`` (u32). A send appended to the unsent tail
  skb that already carries the previous send's uarg extends that uarg (ids [id, id+len-1]) while it
  covers at most 512 KiB and fewer than 65535 sends; otherwise it gets its own.
- A uarg is referenced by the send in progress and by every skb holding its data; when the last
  reference goes (the skbs were acked and freed, or purged), one notification is queued on the
  error queue: ee_errno 0, ee_origin SO_EE_ORIGIN_ZEROCOPY, ee_info = lo, ee_data = hi, ee_code
  SO_EE_CODE_ZEROCOPY_COPIED when any transmission of the data had to copy it. It is merged into
  the tail entry when that is a zerocopy notification ending at lo - 1 (the range stays below
  2**32); nothing is queued for a dead socket or an aborted send (len 0).
- A send that fails before taking any byte aborts its uarg: ``sk_zckey`` and the uarg's len go back
  down, so the next send reuses the id (closed.pkt, fastopen-client.pkt).
- Every tuxnet device copies what it transmits (loopback and veth deliver to a local receive path,
  tun/tap hand the bytes to user space: skb_orphan_frags_rx), so ``skb_orphan_frags_rx`` at the
  device marks the uarg copied, and notifications carry SO_EE_CODE_ZEROCOPY_COPIED, as Linux
  reports on these devices. A segment dropped before the device leaves it unmarked, as Linux's
  kfree path (skb_zcopy_clear(skb, true)).
- Not modelled: UDP. SO_ZEROCOPY is accepted on UDP sockets as Linux accepts it, but a UDP
  MSG_ZEROCOPY send is a plain copy that queues no notification (Linux notifies once the
  datagram's skb is freed).
"""

from __future__ import annotations

from typing import Any

from tuxnet.sock.constants import SO_EE_CODE_ZEROCOPY_COPIED, SO_EE_ORIGIN_ZEROCOPY
from tuxnet.sock.errqueue import SockExterr, skb_queue_err_tail

U32 = 0xFFFFFFFF
USHRT_MAX = 0xFFFF
BYTE_LIMIT = 1 << 19  # msg_zerocopy_realloc: "limit to a few TSO"
MAX_SKB_FRAGS = 17  # CONFIG_MAX_SKB_FRAGS default
PAGE_SIZE = 4096


class UbufInfo:
    """struct ubuf_info_msgzc."""

    __slots__ = ("sk", "id", "len", "bytelen", "zerocopy", "refcnt")

    def __init__(self, sk: Any, id_: int, size: int) -> None:
        self.sk = sk
        self.id = id_
        self.len = 1
        self.bytelen = size
        self.zerocopy = True
        self.refcnt = 1

    def __repr__(self) -> str:
        return f"<UbufInfo id={self.id} len={self.len} refcnt={self.refcnt} zerocopy={self.zerocopy}>"


def msg_zerocopy_alloc(sk: Any, size: int) -> UbufInfo:
    """msg_zerocopy_alloc: the next notification id, one reference for the caller."""
    uarg = UbufInfo(sk, sk.sk_zckey, size)
    sk.sk_zckey = (sk.sk_zckey + 1) & U32
    return uarg


def msg_zerocopy_realloc(sk: Any, size: int, uarg: UbufInfo | None) -> UbufInfo:
    """msg_zerocopy_realloc: extend the uarg of the skb being appended to, else allocate."""
    if uarg is not None:
        bytelen = uarg.bytelen + size
        if uarg.len < USHRT_MAX - 1 and bytelen <= BYTE_LIMIT and (uarg.id + uarg.len) & U32 == sk.sk_zckey:
            uarg.len += 1
            uarg.bytelen = bytelen
            sk.sk_zckey = (sk.sk_zckey + 1) & U32
            uarg.refcnt += 1  # net_zcopy_get: a stream socket's extra reference
            return uarg
    return msg_zerocopy_alloc(sk, size)


def net_zcopy_get(uarg: UbufInfo) -> None:
    uarg.refcnt += 1


def msg_zerocopy_complete(uarg: UbufInfo, success: bool) -> None:
    """msg_zerocopy_complete: record whether this user of the pages avoided a copy, drop its ref."""
    uarg.zerocopy = uarg.zerocopy and success
    uarg.refcnt -= 1
    if uarg.refcnt == 0:
        _msg_zerocopy_callback(uarg)


def net_zcopy_put(uarg: UbufInfo) -> None:
    """net_zcopy_put: the send's own reference."""
    msg_zerocopy_complete(uarg, True)


def msg_zerocopy_put_abort(uarg: UbufInfo, have_uref: bool) -> None:
    """msg_zerocopy_put_abort: a send that took nothing gives its id back."""
    sk = uarg.sk
    sk.sk_zckey = (sk.sk_zckey - 1) & U32
    uarg.len -= 1
    if have_uref:
        msg_zerocopy_complete(uarg, True)


def skb_zcopy_set(skb: Any, uarg: UbufInfo) -> None:
    """skb_zcopy_set: the skb references the uarg (once)."""
    if skb.zc is None:
        net_zcopy_get(uarg)
        skb.zc = uarg


def skb_zcopy_clear(skb: Any, success: bool = True) -> None:
    """skb_zcopy_clear: the skb lets go of its uarg (freed, or its pages copied)."""
    uarg = skb.zc
    if uarg is not None:
        skb.zc = None
        msg_zerocopy_complete(uarg, success)


def skb_zerocopy_clone(nskb: Any, orig: Any) -> None:
    """skb_zerocopy_clone (from skb_split): the new part references the same uarg."""
    if orig.zc is not None and nskb.zc is None:
        skb_zcopy_set(nskb, orig.zc)


def skb_orphan_frags_rx(uarg: UbufInfo | None) -> None:
    """skb_orphan_frags_rx -> skb_copy_ubufs -> skb_zcopy_clear(skb, false): the transmitted copy
    of the data was copied out of the user pages; the reference the copy took is dropped with it,
    so only the success flag changes."""
    if uarg is not None:
        uarg.zerocopy = False


def skb_queue_zcopy_purge(queue: Any) -> None:
    """The zerocopy part of freeing a queue of skbs (tcp_write_queue_purge, tcp_rtx_queue_purge)."""
    for skb in queue:
        if skb.zc is not None:
            skb_zcopy_clear(skb, True)


def _skb_zerocopy_notify_extend(tail: SockExterr, lo: int, length: int) -> bool:
    old_lo, old_hi = tail.ee_info, tail.ee_data
    if (old_hi - old_lo) % (1 << 32) + 1 + length >= 1 << 32:
        return False
    if lo != (old_hi + 1) & U32:
        return False
    tail.ee_data = (tail.ee_data + length) & U32
    return True


def _msg_zerocopy_callback(uarg: UbufInfo) -> None:
    """__msg_zerocopy_callback: queue (or merge) the completion notification."""
    sk = uarg.sk
    if not uarg.len or "SOCK_DEAD" in sk.sock_flags:
        return
    lo = uarg.id
    hi = (uarg.id + uarg.len - 1) & U32
    q = sk.sk_error_queue
    tail = q[-1] if q else None
    if (tail is None or tail.ee_origin != SO_EE_ORIGIN_ZEROCOPY
            or not _skb_zerocopy_notify_extend(tail, lo, uarg.len)):
        code = 0 if uarg.zerocopy else SO_EE_CODE_ZEROCOPY_COPIED
        skb_queue_err_tail(sk, SockExterr(0, SO_EE_ORIGIN_ZEROCOPY, 0, code, lo, 0, 0, 0, b"", ee_data=hi))
        return
    sk.sk_error_report()


def zerocopy_frags(iov: list[int], start: int, length: int) -> list[int]:
    """The page fragments ``length`` bytes from offset ``start`` of the user buffers ``iov`` (their
    lengths) pin, as __zerocopy_sg_from_iter takes them: each buffer is its own pages (page
    aligned here: Python buffers have no user addresses), one fragment per page touched.
    Returns the fragment sizes in order."""
    frags: list[int] = []
    base = 0
    end = start + length
    for n in iov:
        lo, hi = max(start, base), min(end, base + n)
        off = lo - base
        while lo < hi:
            size = min(hi - lo, PAGE_SIZE - off % PAGE_SIZE)
            frags.append(size)
            lo += size
            off += size
        base += n
        if base >= end:
            break
    return frags


def iov_tail(iov: list[int], skip: int) -> list[int]:
    """The buffer lengths left after the first ``skip`` bytes of a send were taken."""
    out = []
    for n in iov:
        if skip >= n:
            skip -= n
            continue
        out.append(n - skip)
        skip = 0
    return out
