"""``tuxnet packetdrill FILE...``: run packetdrill scripts against a tuxnet host in virtual time.

Each script gets a fresh namespace on its own virtual Loop with a tun0 stand-in (netdev.py): local
address 192.168.0.1/16, remote 192.0.2.1 routed ``via 192.168.0.1 dev tun0``, as packetdrill's
config.c and netdev.c set them up (``--local_ip``, ``--remote_ip``, ``--gateway_ip``,
``--netmask_ip``, ``--bind_port``, ``--connect_port``, ``--mtu`` change them). The script's commands
run in the emulated shell (shell.py), its system calls on the namespace's sockets (syscalls.py), its
packets are injected into and sniffed from tun0 (packets.py), its ``%{ }%`` code sees TCP_INFO
(pycode.py).

Timing is packetdrill's (run.c), on the virtual clock: event times are relative to the script start;
``+T`` is relative to the moment the previous event finished (consecutive inbound packets to the
previous one's script time); inbound packets, system calls and commands wait for their time;
outbound packets are sniffed as soon as the event is reached, and must be sent within
``--tolerance_usecs`` (default 4000) or ``--tolerance_percent`` (default 12.5) of the gap since the
previous event, or inside ``A~B``; ``*`` accepts any time. A sniff gives up ``2 + gap`` seconds after
it starts (``Timed out waiting for packet``). Blocking calls (``...T``) run beside the main flow, like
packetdrill's system-call thread: the main flow continues once the call has started and slept, and
the call's result and return time are checked the next time the main flow waits (packetdrill's
global lock). Packets the stack sends for other connections are ignored; unexpected packets for the
socket under test fail the next outbound event, as in packetdrill.

Output: ``PASS path`` / ``FAIL path:LINE: reason`` / ``SKIP path: unsupported: ...`` per script, then
``N passed, N failed, N skipped``; ``-v`` adds, under each script, the script and actual packets of a
failed packet check and the run's log (sysctls set, packets injected and sniffed, system calls).
Exit status 1 when a script failed, 2 for usage errors.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuxnet.core.loop import LoopIdle
from tuxnet.core.rand import make_rng
from tuxnet.socket import Socket
from tuxnet.tools import run_command
from tuxnet.tools.packetdrill import (
    LINUX_IPV4_DEFINES,
    Code,
    Command,
    Event,
    IcmpPacket,
    PacketdrillSyntaxError,
    Script,
    Syscall,
    TcpPacket,
    UdpPacket,
    parse_file,
)
from tuxnet.tools.packetdrill.config import Config, make_config
from tuxnet.tools.packetdrill.errors import ScriptFailure, Unsupported
from tuxnet.tools.packetdrill.netdev import make_host
from tuxnet.tools.packetdrill.packets import (
    ACK,
    SYN,
    Mismatch,
    SockRec,
    TcpView,
    aggregate,
    build_icmp_error,
    build_ipv4_tcp,
    dump,
    icmp_type_code,
    live_to_script,
    map_inbound,
    map_outbound_ts,
    packet_to_string,
    parse_frame,
    script_tcp,
    verify_headers,
    verify_options,
    verify_payload,
)
from tuxnet.tools.packetdrill.pycode import Fragment, execute, snapshot
from tuxnet.tools.packetdrill.shell import Shell
from tuxnet.tools.packetdrill.syscalls import CallError, Syscalls
from tuxnet.wire.addr import ip_ntoa

NS_PER_USEC = 1000
BLOCKED_CALL_LIMIT_NS = 3600 * 10**9  # a call packetdrill would block on forever
ANY_TIME_SNIFF_LIMIT_NS = 3600 * 10**9
MAX_WAIT_IDLE_NS = 10**9  # await_idle_thread's MAX_WAIT_SECS


@dataclass(slots=True, eq=False)
class RtEvent:
    """A script event with its run-time (adjusted) times, in script microseconds."""

    event: Event
    kind: str
    time_usecs: int
    end_usecs: int | None
    syscall_end_usecs: int | None = None
    offset_usecs: int = 0

    @property
    def line(self) -> int:
        return self.event.line

    @property
    def inbound_packet(self) -> bool:
        a = self.event.action
        return isinstance(a, (TcpPacket, UdpPacket, IcmpPacket)) and a.direction == "<"


@dataclass(slots=True, eq=False)
class Blocking:
    """The system-call thread's one call in progress."""

    ev: RtEvent
    task: asyncio.Task[None] | None = None
    started: bool = False
    sleeping: bool = False
    live_end_usecs: int | None = None
    waiter: asyncio.Future[None] | None = None

    def notify(self) -> None:
        """The main flow, waiting for this call to start and sleep, looks again."""
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


@dataclass
class Outcome:
    path: str
    status: str  # PASS, FAIL, SKIP
    line: int = 0
    message: str = ""
    details: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.status == "PASS":
            return f"PASS {self.path}"
        if self.status == "SKIP":
            return f"SKIP {self.path}: unsupported: {self.message}"
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"FAIL {where}: {self.message}"


class Run:
    """The state of one script run (packetdrill's struct state)."""

    def __init__(self, script: Script, config: Config, verbose: bool = False,
                 sysctls: dict[str, str] | None = None, setup: list[str] | None = None) -> None:
        self.script = script
        self.path = script.path
        self.config = config
        self.verbose = verbose
        self.log: list[str] = []
        self.ns, self.dev = make_host(config)
        self.loop = self.ns.loop
        for key, value in (sysctls or {}).items():  # the host's configuration, before the script's own
            try:
                self.ns.sysctl.set(key, value)
            except OSError as e:
                what = f"cannot stat {self.ns.sysctl.path_of(key)}: " if key not in self.ns.sysctl.v else ""
                raise ScriptFailure(0, f"--sysctl {key}={value}: {what}{e.strerror or e}") from None
            self.log.append(f"sysctl {key}={value} (host profile)")
        for cmd in setup or []:  # e.g. "ip link set dev tun0 gso_max_segs 1"
            rc, out = run_command(self.ns, cmd)
            if rc:
                raise ScriptFailure(0, f"--setup {cmd!r} failed (exit {rc}): {out.strip()}")
            self.log.append(f"{cmd} (host profile)")
        self.shell = Shell(self.ns, Path(script.path).parent, self.log)
        self.sys = Syscalls(self)
        self.fds: list[SockRec] = []
        self.socket_under_test: SockRec | None = None
        self.start_ns = 0
        self.event: RtEvent | None = None
        self.last_event: RtEvent | None = None
        self.num_events = 0
        self.blocking: Blocking | None = None
        self.unlocked = False
        self._lock_waiters: list[asyncio.Future[None]] = []
        self.fragments: list[Fragment] = []
        self.ports = make_rng(config.seed, "packetdrill", "ephemeral ports")
        self.failure: BaseException | None = None
        self.main_task: asyncio.Task[None] | None = None

    # -- clock and helpers

    def now_ns(self) -> int:
        return self.loop.now_ns

    def now_usecs(self) -> int:
        """Live time since the script started, in microseconds."""
        return (self.loop.now_ns - self.start_ns) // NS_PER_USEC

    def say(self, text: str) -> None:
        self.log.append(text)

    def add_fd(self, rec: SockRec) -> None:
        self.fds.append(rec)

    # -- the global lock: blocking calls report back only while the main flow waits

    async def _unlocked(self, aw: Any) -> Any:
        self.unlocked = True
        waiters, self._lock_waiters = self._lock_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)
        try:
            return await aw
        finally:
            self.unlocked = False

    async def syscall_returned(self) -> None:
        """end_syscall for a blocking call: note the return time, then take the global lock."""
        b = self.blocking
        if b is not None:
            b.live_end_usecs = self.now_usecs()
            b.sleeping = False
        while not self.unlocked:
            fut: asyncio.Future[None] = self.loop.create_future()
            self._lock_waiters.append(fut)
            await fut

    async def sleep_on(self, sc: Syscall, sock: Socket, events: int) -> None:
        """A socket call sleeps until ``events``; in the main flow that is bounded (a hang there
        would be forever in packetdrill)."""
        await self.sleep_on_any(sc, [(sock, events)], None)

    async def sleep_on_any(self, sc: Syscall, socks: list[tuple[Socket, int]], deadline: int | None) -> None:
        """Sleep until one of the sockets has one of its events, or ``deadline``."""
        fut: asyncio.Future[None] = self.loop.create_future()

        def wake(_key: int = 0) -> None:
            if not fut.done():
                fut.set_result(None)

        entries = [(s, s.wq.add(ev, wake)) for s, ev in socks]
        timer = self.loop.call_at_ns(deadline, wake) if deadline is not None else None
        try:
            await self.sleep_on_future(sc, fut)
        finally:
            for s, e in entries:
                s.wq.remove(e)
            if timer is not None:
                timer.cancel()

    async def sleep_on_future(self, sc: Syscall, fut: asyncio.Future[None]) -> None:
        """A system call sleeps until ``fut``. In a blocking call the main flow goes on meanwhile;
        in the main flow the sleep is bounded (packetdrill would hang there forever)."""
        b = self.blocking
        if sc.end_usecs is not None:
            if b is not None:
                b.sleeping = True
                b.notify()
            try:
                await fut
            finally:
                if b is not None:
                    b.sleeping = False
            return
        limit = self.now_ns() + BLOCKED_CALL_LIMIT_NS
        await self._bounded(fut, limit)

    async def _bounded(self, fut: asyncio.Future[None], limit: int) -> None:
        stop = self.until(limit)
        await asyncio.wait({fut, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not fut.done():
            fut.cancel()
            raise CallError("the call blocked and nothing would wake it (a call expected to block "
                            "needs `...` in the script)")
        stop.cancel()

    def until(self, when_ns: int, task: asyncio.Task[None] | None = None) -> asyncio.Future[None]:
        """A future done at ``when_ns`` of virtual time (or when ``task`` finishes, if earlier)."""
        fut: asyncio.Future[None] = self.loop.create_future()

        def wake(*_: Any) -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.loop.call_at_ns(when_ns, wake)
        fut.add_done_callback(lambda _f: timer.cancel())
        if task is not None:
            task.add_done_callback(wake)
        return fut

    # -- timing (run.c)

    def verify_time(self, kind: str, script_usecs: int, script_end: int | None, live_usecs: int,
                    last_usecs: int | None, description: str, offset_usecs: int = 0) -> str | None:
        if kind == "any":
            return None
        tol = self.config.tolerance_usecs
        if last_usecs is not None:
            tol = max(tol, int(self.config.tolerance_percent / 100.0 * (script_usecs - last_usecs)))
        if kind in ("absolute_range", "relative_range"):
            assert script_end is not None
            if live_usecs < script_usecs - tol or live_usecs > script_end + tol:
                if kind == "absolute_range":
                    return (f"timing error: expected {description} in time range {script_usecs / 1e6:.6f}"
                            f"~{script_end / 1e6:.6f} sec but happened at {live_usecs / 1e6:.6f} sec")
                lo, hi = (script_usecs - offset_usecs) / 1e6, (script_end - offset_usecs) / 1e6
                return (f"timing error: expected {description} in relative time range +{lo:.6f}~+{hi:.6f} "
                        f"sec but happened at {(live_usecs - offset_usecs) / 1e6:+.6f} sec")
            return None
        if live_usecs < script_usecs - tol or live_usecs > script_usecs + tol:
            return (f"timing error: expected {description} at {script_usecs / 1e6:.6f} sec but happened at "
                    f"{live_usecs / 1e6:.6f} sec; tolerance {tol / 1e6:.6f} sec")
        return None

    def adjust(self, ev: RtEvent) -> None:
        """adjust_relative_event_times."""
        if ev.kind not in ("any", "relative", "relative_range"):
            return
        last = self.last_event
        off = last.time_usecs if last is not None and last.inbound_packet and ev.inbound_packet \
            else self.now_usecs()
        ev.offset_usecs = off
        ev.time_usecs += off
        if ev.kind == "relative_range" and ev.end_usecs is not None:
            ev.end_usecs += off
        if ev.kind == "relative" and ev.syscall_end_usecs is not None:
            ev.syscall_end_usecs += off

    def description(self, ev: RtEvent) -> str:
        a = ev.event.action
        if isinstance(a, (TcpPacket, UdpPacket, IcmpPacket)):
            return "inbound packet" if a.direction == "<" else "outbound packet"
        if isinstance(a, Syscall):
            return "system call start"
        if isinstance(a, Command):
            return "command"
        return "data collection for code"

    async def wait_for_event(self, ev: RtEvent, main: bool = True) -> None:
        """Sleep until the event's time (releasing the global lock in the main flow), then check
        that it is not late."""
        target = self.start_ns + ev.time_usecs * NS_PER_USEC
        if target > self.now_ns():
            await (self._unlocked(self.until(target)) if main else self.until(target))
        if self.num_events > 0:
            last = self.last_event.time_usecs if self.last_event is not None else None
            err = self.verify_time(ev.kind, ev.time_usecs, ev.end_usecs, self.now_usecs(), last,
                                   self.description(ev), ev.offset_usecs)
            if err:
                raise ScriptFailure(ev.line, err)

    async def await_idle(self) -> bool:
        """await_idle_thread: let a blocking call finish, for at most a second."""
        b = self.blocking
        if b is None or b.task is None:
            return True
        if not b.task.done():
            await self._unlocked(self.until(self.now_ns() + MAX_WAIT_IDLE_NS, b.task))
        return b.task.done()

    # -- the script

    async def main(self) -> None:
        s = self.script
        if s.init_command is not None:
            await self.command(s.init_command.command, None, "init")
        self.start_ns = self.now_ns()
        script_last = 0
        for i, e in enumerate(s.events):
            t = e.time
            ev = RtEvent(e, t.kind, t.usecs, t.end_usecs)
            if isinstance(e.action, Syscall):
                ev.syscall_end_usecs = e.action.end_usecs
            if i == 0 and t.usecs != 0:
                raise ScriptFailure(e.line, "first event should be at time 0")
            last = self.last_event
            if last is not None and last.kind.startswith("absolute") and t.kind.startswith("absolute") \
                    and t.usecs < script_last:
                raise ScriptFailure(e.line, f"time goes backward in script from {script_last} usec to "
                                    f"{t.usecs} usec")
            self.event = ev
            self.adjust(ev)
            await self.dispatch(ev)
            self.num_events += 1
            script_last = ev.time_usecs
            self.last_event = ev
        if s.cleanup_command is not None:
            await self.command(s.cleanup_command.command, None, "cleanup")
        execute(self.fragments)
        if not await self.await_idle():
            line = self.blocking.ev.line if self.blocking is not None else 0
            raise ScriptFailure(line, "runtime error: exiting while a blocking system call is in progress")

    async def dispatch(self, ev: RtEvent) -> None:
        a = ev.event.action
        if isinstance(a, TcpPacket):
            await self.packet(ev, a)
        elif isinstance(a, IcmpPacket) and a.direction == "<" and not a.encap:
            await self.icmp(ev, a)
        elif isinstance(a, Syscall):
            if a.end_usecs is not None:
                await self.enqueue(ev, a)
            else:
                await self.await_idle()
                await self.wait_for_event(ev)
                await self.syscall(ev, a)
        elif isinstance(a, Command):
            await self.wait_for_event(ev)
            await self.command(a.command, ev.line, "event")
        elif isinstance(a, Code):
            await self.wait_for_event(ev)
            self.code(ev, a)
        else:
            raise Unsupported(f"{'UDP' if isinstance(a, UdpPacket) else 'ICMP'} packets", ev.line)

    async def command(self, text: str, line: int | None, what: str) -> None:
        status = await self.shell.run(text)
        if status:
            if line is None:
                raise ScriptFailure(0, f"error executing {what} command: non-zero status {status}")
            raise ScriptFailure(line, f"error executing `{text.strip()}` command: non-zero status {status}")

    def code(self, ev: RtEvent, a: Code) -> None:
        sut = self.socket_under_test
        if sut is None:
            raise ScriptFailure(ev.line, "runtime error in code: no socket to use for code")
        if sut.sock is None or sut.protocol != 6 or getattr(sut.sock, "sk", None) is None:
            raise ScriptFailure(ev.line, "runtime error in code: can't find getsockopt to get TCP info")
        self.fragments.append(Fragment(self.path, ev.line, a.code, snapshot(sut.sock)))

    # -- system calls

    async def syscall(self, ev: RtEvent, sc: Syscall) -> None:
        try:
            await self.sys.invoke(sc)
        except CallError as e:
            raise ScriptFailure(ev.line, f"runtime error in {sc.name} call: {e}") from None
        except Unsupported as e:
            e.line = e.line or ev.line
            raise

    async def enqueue(self, ev: RtEvent, sc: Syscall) -> None:
        """enqueue_system_call: start the call beside the main flow; go on once it has started and
        sleeps, or has finished."""
        if not await self.await_idle():
            raise ScriptFailure(ev.line, f"runtime error in {sc.name} call: blocking system call while "
                                "another blocking system call is already in progress")
        b = Blocking(ev)
        self.blocking = b
        b.task = self.loop.create_task(self.blocking_call(b, sc))
        b.task.add_done_callback(self._blocking_done)
        while not b.task.done() and not (b.started and b.sleeping):
            b.waiter = self.loop.create_future()
            await self._unlocked(b.waiter)

    async def blocking_call(self, b: Blocking, sc: Syscall) -> None:
        ev = b.ev
        await self.wait_for_event(ev, main=False)
        b.started = True
        await self.syscall(ev, sc)
        assert ev.syscall_end_usecs is not None and b.live_end_usecs is not None
        err = self.verify_time(ev.kind, ev.syscall_end_usecs, None, b.live_end_usecs, ev.time_usecs,
                               "system call return")
        if err:
            raise ScriptFailure(ev.line, err)

    def _blocking_done(self, task: asyncio.Task[None]) -> None:
        if self.blocking is not None:
            self.blocking.notify()
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self.failure is None:
            self.failure = exc
            if self.main_task is not None and not self.main_task.done():
                self.main_task.cancel()

    # -- packets

    def socket_for(self, ev: RtEvent, v: TcpView, inbound: bool) -> SockRec:
        """find_or_create_socket_for_script_packet."""
        sut = self.socket_under_test
        if inbound and (sut is None or sut.state == "listening"):
            child = SockRec(state="passive_packet_received", script_remote=(0, v.sport),
                            script_local=(0, v.dport), script_remote_isn=v.seq,
                            live_remote=(self.config.remote_ip, self.ports.randrange(32768, 61000)),
                            live_local=(self.config.local_ip, self.config.bind_port), live_remote_isn=v.seq)
            self.add_fd(child)
            self.socket_under_test = child
            return child
        if not inbound and v.flags & SYN and not v.flags & ACK and sut is not None \
                and sut.state == "active_connecting":
            sut.state = "active_syn_sent"
            sut.script_remote, sut.script_local = (0, v.dport), (0, v.sport)
            sut.script_local_isn = v.seq
            return sut
        if sut is not None and sut.protocol == 6:
            return sut
        raise ScriptFailure(ev.line, "error handling packet: no matching socket for script packet")

    async def packet(self, ev: RtEvent, p: TcpPacket) -> None:
        v = script_tcp(p)
        inbound = p.direction == "<"
        sr = self.socket_for(ev, v, inbound)
        if inbound:
            await self.wait_for_event(ev)
            await self.inbound(sr, v)
        else:
            await self.outbound(ev, sr, v)

    async def icmp(self, ev: RtEvent, p: IcmpPacket) -> None:
        """An inbound ICMP error quoting a packet of the socket under test."""
        t, c = icmp_type_code(p.icmp_type, p.icmp_code, ev.line)
        if p.mtu is not None and (t, c) != (3, 4):
            raise ScriptFailure(ev.line, "semantic error: ICMPv4 MTU is only valid for "
                                "unreachable-frag_needed")
        echoed = p.echoed
        if echoed is not None and echoed.protocol != "tcp":
            raise Unsupported(f"ICMP quoting a {echoed.protocol} packet", ev.line)
        sr = self.socket_under_test
        if sr is None or sr.protocol != 6:
            raise ScriptFailure(ev.line, "error handling packet: no matching socket for script packet")
        ip = p.ip
        tos = (ip.tos if ip.tos is not None else 0) if ip is not None else 0
        ttl = ip.ttl if ip is not None and ip.ttl is not None else 0
        await self.wait_for_event(ev)
        data = build_icmp_error(sr, t, c, p.mtu, echoed.start_seq if echoed else 0,
                                echoed.payload_len if echoed else 0, tos, ttl)
        if self.verbose:
            self.say(f"inbound injected packet: {self.now_usecs() / 1e6:9.6f} icmp type {t} code {c}")
        self.dev.inject(data)
        await self.until(self.now_ns())

    async def inbound(self, sr: SockRec, v: TcpView) -> None:
        if sr.state == "passive_synack_sent" and v.flags & ACK:
            sr.state = "passive_synack_acked"
        elif sr.state == "active_syn_sent" and v.flags & SYN and v.flags & ACK:
            sr.state = "active_syn_acked"
            sr.script_remote_isn = sr.live_remote_isn = v.seq
        live = map_inbound(sr, v, self.config.tcp_ts_ecr_scaled)
        if self.verbose:
            self.say(f"inbound injected packet: {self.now_usecs() / 1e6:9.6f} {_endpoints(live)} "
                     f"{packet_to_string(live)}")
        sr.last_injected = live
        mss = self.config.mss
        self.dev.inject(build_ipv4_tcp(live), mss if mss and len(live.payload) > mss else 0)
        # a tun write hands the packet to the stack before it returns: let it be processed
        await self.until(self.now_ns())

    def _match_live(self, live: TcpView) -> SockRec | None:
        """find_socket_for_live_packet / find_connect_for_live_packet (outbound only)."""
        sut = self.socket_under_test
        if sut is None:
            return None
        if (live.saddr, live.sport, live.daddr, live.dport) == sut.live_outbound_tuple():
            return sut
        if sut.state == "active_syn_sent" and live.flags & SYN and not live.flags & ACK \
                and (live.daddr, live.dport) == sut.live_remote:
            sut.live_local = (live.saddr, live.sport)
            sut.live_local_isn = live.seq
            return sut
        return None

    async def sniff(self, ev: RtEvent, sr: SockRec) -> TcpView:
        """sniff_outbound_live_packet: the next packet of the socket under test."""
        last = self.last_event.time_usecs if self.last_event is not None else 0
        gap = max(ev.time_usecs, ev.end_usecs if ev.end_usecs is not None else 0) - last
        timeout_ns = ANY_TIME_SNIFF_LIMIT_NS if ev.kind == "any" else (int(gap / 1e6) + 2) * 10**9
        while True:
            got = await self.dev.next_frame(self.now_ns() + timeout_ns)
            if got is None:
                raise Mismatch("Timed out waiting for packet")
            t_ns, frame = got
            live = parse_frame(frame, (t_ns - self.start_ns) // NS_PER_USEC)
            if live is None:
                continue
            rec = self._match_live(live)
            if rec is None:
                continue
            if rec is not sr:
                raise Mismatch("packet is not for expected socket")
            return live

    async def outbound(self, ev: RtEvent, sr: SockRec, script: TcpView) -> None:
        """do_outbound_script_packet + verify_outbound_live_packet."""
        details: list[str] = []
        synack = sr.state == "passive_packet_received" and script.flags & SYN and script.flags & ACK
        if synack:
            sr.script_local_isn = script.seq
        frags: list[TcpView] = []
        total = 0
        try:
            while True:
                live = await self.sniff(ev, sr)
                if synack and sr.state == "passive_packet_received":
                    sr.state = "passive_synack_sent"
                    sr.live_local_isn = live.seq
                if self.verbose:
                    self.say(f"outbound sniffed packet: {live.time_usecs / 1e6:9.6f} {_endpoints(live)} "
                             f"{packet_to_string(live)}")
                sr.last_outbound = live
                if not live.ip_csum_ok:
                    raise Mismatch("bad outbound IP checksum")
                conv = live_to_script(sr, live)
                if frags:
                    try:
                        self._verify_fragment(conv, frags[-1], total, script.payload_len)
                    except Mismatch:
                        details.append(dump("   script", script, ev.time_usecs))
                        details += [dump(f"actual #{i}", f, f.time_usecs)
                                    for i, f in enumerate([*frags, conv])]
                        raise
                frags.append(conv)
                total += conv.payload_len
                if total >= script.payload_len or self.config.strict_segments:
                    break
            if total != script.payload_len:
                raise Mismatch(f"live packet payload: expected {script.payload_len} bytes vs actual "
                               f"{total} bytes")
            actual = aggregate(frags)
            try:
                map_outbound_ts(sr, script, actual)
                verify_headers(actual, script, True)
                verify_options(actual, script, self.config.tcp_ts_tick_usecs, self.config.tolerance_usecs)
                verify_payload(actual, script)
                last = self.last_event.time_usecs if self.last_event is not None else None
                err = self.verify_time(ev.kind, ev.time_usecs, ev.end_usecs, actual.time_usecs, last,
                                       "outbound packet", ev.offset_usecs)
                if err:
                    raise Mismatch(err)
            except Mismatch:
                details += [dump("script", script, ev.time_usecs), dump("actual", actual, actual.time_usecs)]
                raise
        except Mismatch as e:
            raise ScriptFailure(ev.line, f"error handling packet: {e}", details) from None

    @staticmethod
    def _verify_fragment(cur: TcpView, prev: TcpView, sniffed: int, expected: int) -> None:
        """verify_packet_fragments: one more segment of the same burst."""
        verify_headers(cur, prev, False)
        if cur.payload_len < expected - sniffed and cur.payload_len != prev.payload_len:
            raise Mismatch(f"fragment payload: expected {prev.payload_len} bytes vs actual "
                           f"{cur.payload_len} bytes; total payload: expected {expected} bytes vs actual "
                           f"{cur.payload_len + sniffed} bytes")


def _endpoints(v: TcpView) -> str:
    return f"{ip_ntoa(v.saddr)}:{v.sport} > {ip_ntoa(v.daddr)}:{v.dport}"


# --- running scripts -------------------------------------------------------------------------------


def run_script(path: str | Path, verbose: bool = False, defines: dict[str, str] | None = None,
               sysctls: dict[str, str] | None = None, setup: list[str] | None = None) -> Outcome:
    """Parse and run one script; never raises for a bad script or a failing run. ``sysctls`` configure
    the host before the script runs (``tuxnet packetdrill --sysctl KEY=VALUE``), as an administrator
    would configure the machine packetdrill runs on; then each ``setup`` command runs there
    (``--setup CMD``, any tuxnet tool: ``ip link set dev tun0 gso_max_segs 1``)."""
    p = str(path)
    try:
        script = parse_file(path, {**LINUX_IPV4_DEFINES, **(defines or {})})
    except PacketdrillSyntaxError as e:
        return Outcome(p, "FAIL", e.line, e.message)
    except OSError as e:
        return Outcome(p, "FAIL", 0, f"cannot read script: {e.strerror or e}")
    run: Run | None = None
    try:
        run = Run(script, make_config(script), verbose, sysctls, setup)
        _drive(run)
    except ScriptFailure as e:
        return Outcome(p, "FAIL", e.line, e.message, e.details, run.log if run else [])
    except Unsupported as e:
        return Outcome(p, "SKIP", e.line, e.what, log=run.log if run else [])
    except Exception as e:  # a bug in tuxnet or in the runner: reported, never a traceback on stdout
        where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        line = run.event.line if run is not None and run.event is not None else 0
        log = (run.log if run else []) + (traceback.format_exc().splitlines() if verbose else [])
        return Outcome(p, "FAIL", line, f"internal error: {type(e).__name__}: {e}{at}", log=log)
    return Outcome(p, "PASS", log=run.log)


def _drive(run: Run) -> None:
    loop = run.loop
    task = loop.create_task(run.main())
    run.main_task = task
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    except LoopIdle:
        line = run.event.line if run.event else 0
        raise ScriptFailure(line, "the run stalled: nothing left to happen") from None
    finally:
        _settle(run)
        run.shell.restore()
    if run.failure is not None:
        raise run.failure


def _settle(run: Run) -> None:
    """Tasks still pending when the run ends (a blocking call asleep, or everything after an
    exception out of the stack) are cancelled, as packetdrill tears its threads down."""
    pending = [t for t in (run.main_task, run.blocking.task if run.blocking else None)
               if t is not None and not t.done()]
    if not pending:
        return
    for t in pending:
        t.cancel()

    async def reap() -> None:
        await asyncio.wait(pending)

    try:
        run.loop.run_until_complete(reap(), timeout_ns=0)
    except BaseException:  # the run is over: how the tasks end does not matter
        pass


def main(files: list[str], verbose: bool = False, out: Any = None,
         sysctls: dict[str, str] | None = None, setup: list[str] | None = None) -> int:
    """The ``tuxnet packetdrill`` command."""
    out = out or sys.stdout
    missing = [f for f in files if not Path(f).is_file()]
    if not files or missing:
        msg = "no script given" if not files else f"cannot open {missing[0]}: No such file"
        print(f"tuxnet packetdrill: {msg}", file=sys.stderr)
        return 2
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for f in files:
        res = run_script(f, verbose, sysctls=sysctls, setup=setup)
        counts[res.status] += 1
        print(res.summary(), file=out)
        if verbose:  # the packets of a failed check, then what the run did
            for line in res.details + res.log:
                print(f"    {line}", file=out)
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped", file=out)
    return 1 if counts["FAIL"] else 0
