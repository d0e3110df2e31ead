"""epoll for packetdrill scripts: epoll_create, epoll_ctl and epoll_wait over tuxnet sockets.

The instance follows fs/eventpoll.c: each watched socket has an entry on the socket's wait queue
(ep_poll_callback) that puts the item on the ready list when a wakeup's key meets its events;
ADD and MOD also queue the item when the socket is ready at once; EPOLLERR and EPOLLHUP are
always watched. epoll_wait (ep_send_events) re-polls each ready item, reports the events that are
still there, keeps level-triggered items on the list, drops edge-triggered ones (EPOLLET) until the
next wakeup and disables EPOLLONESHOT items until EPOLL_CTL_MOD. Errors are Linux's: EEXIST,
ENOENT, EINVAL, EBADF.

The script side is run_system_call.c's: the first reported event is compared with the script's
``{events=..., fd|ptr|u32|u64=...}`` (zeros when nothing was reported), with its messages.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuxnet.sock.constants import EPOLLERR, EPOLLHUP
from tuxnet.tools.packetdrill import Epollev, Expr, Int, Syscall
from tuxnet.tools.packetdrill.packets import SockRec
from tuxnet.tools.packetdrill.syscalls import CallError, evaluate, type_name

if TYPE_CHECKING:
    from tuxnet.socket import Socket
    from tuxnet.tools.packetdrill.syscalls import Syscalls

EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EPOLLEXCLUSIVE, EPOLLONESHOT, EPOLLET = 1 << 28, 1 << 30, 1 << 31
EP_PRIVATE_BITS = EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE


@dataclass(eq=False)
class Item:
    sock: Socket
    events: int
    data: tuple[str, int]
    entry: Any = None


@dataclass(eq=False)
class Epoll:
    items: dict[int, Item] = field(default_factory=dict)  # by the target's script fd
    ready: list[Item] = field(default_factory=list)
    waiters: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for item in self.items.values():
            item.sock.wq.remove(item.entry)
        self.items.clear()
        self.ready.clear()

    def queue(self, item: Item) -> None:
        if item not in self.ready:
            self.ready.append(item)
        for fut in self.waiters:
            if not fut.done():
                fut.set_result(None)

    def callback(self, item: Item) -> Any:
        def ep_poll_callback(key: int) -> None:
            if not item.events & ~EP_PRIVATE_BITS:
                return  # a disabled EPOLLONESHOT item
            if key and not key & item.events:
                return
            self.queue(item)
        return ep_poll_callback

    def poll_item(self, item: Item) -> int:
        return item.sock.poll() & item.events if item.sock.fileno() >= 0 else 0

    def send_events(self, maxevents: int) -> list[tuple[int, tuple[str, int]]]:
        out: list[tuple[int, tuple[str, int]]] = []
        pending, self.ready = self.ready, []
        for i, item in enumerate(pending):
            if len(out) >= maxevents:
                self.ready.extend(x for x in pending[i:] if x not in self.ready)
                break
            revents = self.poll_item(item)
            if not revents:
                continue
            out.append((revents, item.data))
            if item.events & EPOLLONESHOT:
                item.events &= EP_PRIVATE_BITS
            elif not item.events & EPOLLET:
                self.ready.append(item)
        return out


def _event(sys: Syscalls, e: Expr) -> tuple[int, tuple[str, int]]:
    """get_epoll_event_from_expr: (events, (data member, value)); an fd is kept as its script fd."""
    if not isinstance(e, Epollev):
        raise CallError(f"Bad type; actual: {type_name(e)} expected: epoll_event")
    events = sys.s32(evaluate(e.events)) & 0xFFFFFFFF
    value = evaluate(e.value)
    if not isinstance(value, Int):
        raise CallError(f"Bad type; actual: {type_name(value)} expected: integer")
    return events, (e.member, value.value)


def _epoll(sys: Syscalls, fd: int) -> Epoll:
    for r in sys.run.fds:
        if not r.closed and r.script_fd == fd and isinstance(r.sock, Epoll):
            return r.sock
    raise CallError(f"unable to find fd with script fd {fd}")


async def sys_epoll_create(sys: Syscalls, sc: Syscall, args: tuple[Expr, ...]) -> None:
    sys.count(args, 1)
    size = sys.s32(args[0])
    result = 0 if size > 0 else -1
    if size <= 0:
        sys.errno = errno.EINVAL
    await sys.end(sc, result, fd_mode=True)
    if result < 0:
        return
    script_fd = sys.s32(sc.result)
    if any(not r.closed and r.script_fd == script_fd for r in sys.run.fds):
        raise CallError(f"duplicate fd {script_fd} in script")
    sys.run.add_fd(SockRec(state="epoll", script_fd=script_fd, sock=Epoll(), protocol=-1))


async def sys_epoll_ctl(sys: Syscalls, sc: Syscall, args: tuple[Expr, ...]) -> None:
    sys.count(args, 4)
    ep = _epoll(sys, sys.s32(args[0]))
    op, fd = sys.s32(args[1]), sys.s32(args[2])
    target = sys.rec(fd)
    events, data = _event(sys, args[3])
    if data[0] == "fd" and data[1] != fd:
        raise CallError("wrong fd specified in epoll_event")
    sock = target.sock
    item = ep.items.get(fd)
    result = 0
    if isinstance(sock, Epoll):
        sys.errno, result = errno.EINVAL, -1
    elif op == EPOLL_CTL_ADD:
        if item is not None:
            sys.errno, result = errno.EEXIST, -1
        else:
            item = Item(sock, events | EPOLLERR | EPOLLHUP, data)  # type: ignore[arg-type]
            item.entry = item.sock.wq.add(0xFFFFFFFF, ep.callback(item))
            ep.items[fd] = item
            if ep.poll_item(item):
                ep.queue(item)
    elif op == EPOLL_CTL_MOD:
        if item is None:
            sys.errno, result = errno.ENOENT, -1
        elif item.events & EPOLLEXCLUSIVE or events & EPOLLEXCLUSIVE:
            sys.errno, result = errno.EINVAL, -1
        else:
            item.events, item.data = events | EPOLLERR | EPOLLHUP, data
            if ep.poll_item(item):
                ep.queue(item)
    elif op == EPOLL_CTL_DEL:
        if item is None:
            sys.errno, result = errno.ENOENT, -1
        else:
            item.sock.wq.remove(item.entry)
            del ep.items[fd]
            if item in ep.ready:
                ep.ready.remove(item)
    else:
        sys.errno, result = errno.EINVAL, -1
    await sys.end(sc, result)


async def sys_epoll_wait(sys: Syscalls, sc: Syscall, args: tuple[Expr, ...]) -> None:
    sys.count(args, 4)
    ep = _epoll(sys, sys.s32(args[0]))
    want_events, want_data = _event(sys, args[1])
    if want_data[0] == "fd":
        sys.rec(want_data[1])  # the script names a live fd (to_live_fd)
    maxevents, timeout = sys.s32(args[2]), sys.s32(args[3])
    run = sys.run
    if maxevents <= 0:
        sys.errno = errno.EINVAL
        await sys.end(sc, -1)
        return
    deadline = None if timeout < 0 else run.now_ns() + timeout * 1_000_000
    got = ep.send_events(maxevents)
    while not got and (deadline is None or run.now_ns() < deadline):
        fut = run.loop.create_future()
        ep.waiters.append(fut)
        timer = run.loop.call_at_ns(deadline, lambda f=fut: f.done() or f.set_result(None)) \
            if deadline is not None else None
        try:
            await run.sleep_on_future(sc, fut)
        finally:
            ep.waiters.remove(fut)
            if timer is not None:
                timer.cancel()
        got = ep.send_events(maxevents)
    await sys.end(sc, len(got))
    live_events, live_data = got[0] if got else (0, (want_data[0], 0))
    if want_events != live_events:
        raise CallError(f"epoll_event->events does not match script: expected: {want_events:#x} "
                        f"actual: {live_events:#x}")
    if want_data[1] != live_data[1]:
        raise CallError(f"epoll_event->data does not match script: expected: {want_data[1]} "
                        f"actual: {live_data[1]}")
