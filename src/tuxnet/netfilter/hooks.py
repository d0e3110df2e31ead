"""Netfilter's five IPv4 hooks (net/netfilter/core.c, include/uapi/linux/netfilter.h).

The IPv4 path calls ``ns.nf.hook(HOOK, skb, indev, outdev, okfn)`` between its stages, exactly where
Linux calls NF_HOOK(). Registered ops run in ascending priority (raw -300, conntrack -200, mangle -150,
dst-nat -100, filter 0, security 50, src-nat 100, conntrack confirm INT_MAX); a verdict of NF_DROP
frees the packet with reason NETFILTER_DROP, NF_STOLEN means an op kept it, NF_ACCEPT goes on, and
after the last op ``okfn`` continues the packet's path. With no ops on a hook, ``okfn`` runs directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuxnet.core.trace import SkbDropReason

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff

NF_INET_PRE_ROUTING = 0
NF_INET_LOCAL_IN = 1
NF_INET_FORWARD = 2
NF_INET_LOCAL_OUT = 3
NF_INET_POST_ROUTING = 4
HOOK_NAMES = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")

NF_DROP = 0
NF_ACCEPT = 1
NF_STOLEN = 2
NF_QUEUE = 3
NF_REPEAT = 4

# enum nf_ip_hook_priorities
NF_IP_PRI_RAW = -300
NF_IP_PRI_CONNTRACK = -200
NF_IP_PRI_MANGLE = -150
NF_IP_PRI_NAT_DST = -100
NF_IP_PRI_FILTER = 0
NF_IP_PRI_SECURITY = 50
NF_IP_PRI_NAT_SRC = 100
NF_IP_PRI_CONNTRACK_CONFIRM = 2**31 - 1

HookFn = Callable[["SkBuff", Any, Any], int]  # (skb, indev, outdev) -> verdict


@dataclass(order=True)
class NfHookOps:
    priority: int
    seq: int
    fn: HookFn = field(compare=False)
    name: str = field(compare=False, default="")


class NfHooks:
    """The per-namespace hook table (``ns.nf``)."""

    __slots__ = ("ns", "ops", "_seq")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.ops: list[list[NfHookOps]] = [[] for _ in range(5)]
        self._seq = 0

    def register(self, hook: int, priority: int, fn: HookFn, name: str = "") -> NfHookOps:
        if not callable(fn):
            raise TypeError("netfilter hook function is not callable")
        self._seq += 1
        op = NfHookOps(priority, self._seq, fn, name)
        self.ops[hook].append(op)
        self.ops[hook].sort()
        return op

    def unregister(self, hook: int, op: NfHookOps) -> None:
        self.ops[hook].remove(op)

    def hook(self, hook: int, skb: SkBuff, indev: Any, outdev: Any,
             okfn: Callable[[SkBuff], Any]) -> None:
        """NF_HOOK(): run the hook's ops, then ``okfn`` if the packet was accepted."""
        ops = self.ops[hook]
        if ops:
            for op in ops:
                v = op.fn(skb, indev, outdev)
                if v == NF_ACCEPT:
                    continue
                if v == NF_DROP:
                    self.ns.kfree_skb(skb, SkbDropReason.NETFILTER_DROP)
                    return
                if v == NF_STOLEN:
                    return
                raise ValueError(f"netfilter op {op.name or op.fn!r} returned unsupported verdict {v}")
        okfn(skb)
