"""Live mode: one tuxnet host on a real TAP device, in real time (``tuxnet live``).

    tuxnet live --tap NAME --address CIDR [--gateway IP] [--serve SERVICES]... [--pcap FILE] [--cmd CMD]...

One ``Namespace`` runs on ``Loop(realtime=True)``: the same stack and the same loop as the lab, driven
by the monotonic clock, with the TAP's fd in its selector (``drivers/tap.py``). Steps, in order:

1. Arguments are checked first (address, gateway, services, pcap file): a bad one is a one-line
   error and exit status 2, before any TAP exists.
2. The TAP is opened (created, or attached to when it exists; errors such as no root, no
   /dev/net/tun or a busy TAP are one line and exit 1), ``lo`` and the device come up, the address is
   added and the default route via ``--gateway`` set, with tuxnet's own ``ip`` tool. Then a line
   containing ``ready`` is printed: from here the host answers ARP and ping.
3. Services start (``echo``, ``discard``, ``chargen``, ``daytime`` over UDP and TCP, ``http[:PORT]``
   over TCP; ``NAME:PORT`` moves any of them), then each ``--cmd`` runs in order, as a tuxnet tool
   (``ping``, ``ip``, ``ss``, ``curl``, ...), its output printed as it comes.
4. Without ``--serve`` the program exits after the commands (status 1 if one failed). With it, the
   host serves until SIGINT or SIGTERM. SIGINT/SIGTERM during a command interrupt that command as
   Ctrl-C would (ping prints its summary). Exit is clean: services and sockets are closed (TCP sends
   FIN and waits up to ``FIN_GRACE_S`` for it to be acknowledged), the capture (also flushed every
   second while running) is flushed and the TAP released (a TAP created here disappears; a persistent
   one stays).

Real time enters only here and in the loop: randomness is seeded from the OS (every run differs, as a
real host's ISNs and ports do), the namespace's wall clock is set once from the host clock
(``inetd.set_wall_epoch``), and ``--pcap`` files carry host time stamps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from tuxnet.core.loop import NSEC_PER_SEC, Loop

FIN_GRACE_S = 2.0
PCAP_FLUSH_NS = NSEC_PER_SEC
KNOWN_SERVICES = ("echo", "discard", "chargen", "daytime", "http")


class LiveError(Exception):
    """A problem to report to the user in one line, with an exit status."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LiveConfig:
    tap: str
    address: str
    gateway: str | None
    services: list[tuple[str, int | None]] = field(default_factory=list)
    pcap: str | None = None
    commands: list[str] = field(default_factory=list)


def parse_services(specs: list[str]) -> list[tuple[str, int | None]]:
    """``echo,discard`` / ``http:8080`` (comma lists, repeatable) -> [(name, port or None)]."""
    out: list[tuple[str, int | None]] = []
    for spec in specs:
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, port_text = item.partition(":")
            if name not in KNOWN_SERVICES:
                raise LiveError(f"tuxnet: unknown service {name!r} (known: {', '.join(KNOWN_SERVICES)})")
            port: int | None = None
            if sep:
                if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                    raise LiveError(f"tuxnet: bad port in service {item!r}")
                port = int(port_text)
            if any(n == name for n, _ in out):
                raise LiveError(f"tuxnet: service {name!r} given twice")
            out.append((name, port))
    return out


def parse_args(args: argparse.Namespace) -> LiveConfig:
    from tuxnet.wire.addr import ip_aton, parse_prefix

    try:
        addr, plen = parse_prefix(args.address)
    except ValueError:
        raise LiveError(f"tuxnet: invalid --address {args.address!r} (expected an IPv4 address with a "
                        "prefix length, such as 10.0.0.2/24)") from None
    if "/" not in args.address or plen in (0, 32) or addr >> 24 in (0, 127) or addr >> 28 >= 14:
        raise LiveError(f"tuxnet: invalid --address {args.address!r} (expected a unicast IPv4 address "
                        "with a prefix length from 1 to 31, such as 10.0.0.2/24)")
    if args.gateway is not None:
        try:
            ip_aton(args.gateway)
        except ValueError:
            raise LiveError(f"tuxnet: invalid --gateway {args.gateway!r} (expected an IPv4 address)"
                            ) from None
    return LiveConfig(tap=args.tap, address=args.address, gateway=args.gateway,
                      services=parse_services(list(args.serve or [])), pcap=args.pcap,
                      commands=list(args.cmd or []))


class _LineOut(io.TextIOBase):
    """A tool's stdout/stderr: written through and flushed at each newline (output as it happens)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, s: str) -> int:
        self.stream.write(s)
        if "\n" in s:
            self.stream.flush()
        return len(s)

    def flush(self) -> None:
        self.stream.flush()


class LiveHost:
    """The running host: namespace, TAP device, services, capture, signal handling."""

    def __init__(self, cfg: LiveConfig, *, out: Any = None, err: Any = None, seed: int | None = None) -> None:
        self.cfg = cfg
        self.out = _LineOut(out or sys.stdout)
        self.err = _LineOut(err or sys.stderr)
        self.seed = int.from_bytes(os.urandom(8), "big") if seed is None else seed
        self.loop = Loop(realtime=True)
        self.ns: Any = None
        self.dev: Any = None
        self.inetd: Any = None
        self.http: Any = None
        self.capture: Any = None
        self.pcap_file: BinaryIO | None = None
        self.stop_fut: asyncio.Future[str] | None = None
        self.current: asyncio.Task[int] | None = None
        self.fatal: str | None = None
        self._wake_r = self._wake_w = -1
        self._old_handlers: dict[int, Any] = {}
        self._old_wakeup: int | None = None

    # ------------------------------------------------------------------ setup
    def open(self) -> None:
        """Open the capture file and the TAP, build the namespace (no packets yet)."""
        from tuxnet.apps.inetd import set_wall_epoch
        from tuxnet.drivers.tap import TapDevice, TapError
        from tuxnet.netns import Namespace

        if self.cfg.pcap:
            try:
                self.pcap_file = open(self.cfg.pcap, "wb")  # noqa: SIM115  (closed in close())
            except OSError as e:
                raise LiveError(f"tuxnet: cannot write {self.cfg.pcap}: {e.strerror}") from None
        self.ns = ns = Namespace("live", loop=self.loop, seed=self.seed)
        # the one place live mode ties the namespace's wall clock to the host's
        set_wall_epoch(ns, time.time_ns() - self.loop.now_ns)
        ns.lo.open()
        try:
            self.dev = TapDevice(ns, self.cfg.tap)
        except TapError as e:
            raise LiveError(str(e), 1) from None
        except ValueError as e:
            raise LiveError(f"tuxnet: {e}", 2) from None
        self.dev.on_error = self._tap_failed
        ns.register_netdevice(self.dev)
        if self.pcap_file is not None:
            self._start_capture()

    def _start_capture(self) -> None:
        from tuxnet.apps.inetd import wall_time_ns
        from tuxnet.lab.capture import DeviceCapture
        from tuxnet.wire.pcap import PcapWriter

        assert self.pcap_file is not None
        writer = PcapWriter(self.pcap_file, autoflush=False)  # flushed every second, not per frame
        ns = self.ns

        def record(ts: int, frame: bytes, outgoing: bool) -> None:
            writer.write(wall_time_ns(ns), frame)  # host time: a live capture is read with real dates

        self.pcap_writer = writer
        self.capture = DeviceCapture(self.dev, callback=record)
        self.loop.call_later_ns(PCAP_FLUSH_NS, self._flush_pcap)

    def _flush_pcap(self) -> None:
        """Flush the capture every second, so the file can be read while the host runs."""
        if self.pcap_file is None or self.pcap_file.closed:
            return
        self.pcap_writer.flush()
        self.loop.call_later_ns(PCAP_FLUSH_NS, self._flush_pcap)

    async def sh(self, cmdline: str, out: Any, err: Any) -> int:
        import shlex

        from tuxnet.tools import run_argv

        return await run_argv(self.ns, shlex.split(cmdline), out, err)

    async def configure(self) -> None:
        """``ip link set up``, ``ip addr add``, ``ip route add default via``; errors are LiveErrors."""
        name = self.cfg.tap
        steps = [f"ip link set {name} up", f"ip addr add {self.cfg.address} dev {name}"]
        if self.cfg.gateway:
            steps.append(f"ip route add default via {self.cfg.gateway} dev {name}")
        for step in steps:
            buf = io.StringIO()
            rc = await self.sh(step, buf, buf)
            if rc != 0:
                raise LiveError(f"tuxnet: {step}: {buf.getvalue().strip()}", 2)

    async def start_services(self) -> list[str]:
        from tuxnet.apps.http import HttpServer
        from tuxnet.apps.inetd import SERVICES, Inetd, start_tcp, start_udp, tcp_available

        tcp = tcp_available(self.ns)
        self.inetd = Inetd(self.ns)
        shown: list[str] = []
        for name, port in self.cfg.services:
            if name == "http":
                if not tcp:
                    raise LiveError("tuxnet: the http service needs TCP streams, which this tuxnet lacks")
                self.http = await HttpServer(self.ns, port=port or 80).start()
                shown.append(f"http (tcp/{port or 80})")
                continue
            p = SERVICES[name] if port is None else port
            self.inetd.udp[name] = await start_udp(self.ns, name, p)
            if tcp:
                self.inetd.tcp[name] = await start_tcp(self.ns, name, p)
                shown.append(f"{name} (udp/{p}, tcp/{p})")
            else:
                shown.append(f"{name} (udp/{p}; tcp needs TCP streams)")
        return shown

    # ------------------------------------------------------------------ signals
    def install_signals(self) -> None:
        """SIGINT/SIGTERM stop the host from inside the loop: the handler only records the signal and
        the wakeup fd makes the selector return (as asyncio's add_signal_handler does)."""
        import threading

        if threading.current_thread() is not threading.main_thread():
            return  # signals can only be handled in the main thread (in-process tests use stop())
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self._wake_r, self._wake_w = r, w
        self.loop.add_reader(r, self._wakeup_read)
        self._old_wakeup = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, lambda s, f: None)

    def _wakeup_read(self) -> None:
        try:
            data = os.read(self._wake_r, 512)
        except BlockingIOError:
            return
        for b in data:
            if b in (signal.SIGINT, signal.SIGTERM):
                self.stop(signal.Signals(b).name)

    def restore_signals(self) -> None:
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        self._old_handlers.clear()
        if self._wake_r >= 0:
            signal.set_wakeup_fd(self._old_wakeup if self._old_wakeup is not None else -1)
            if not self.loop.is_closed():
                self.loop.remove_reader(self._wake_r)
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1

    def stop(self, why: str = "stop") -> None:
        """Interrupt the running command (as Ctrl-C) and end the session; callable from the loop."""
        if self.current is not None and not self.current.done():
            self.current.cancel()
        if self.stop_fut is not None and not self.stop_fut.done():
            self.stop_fut.set_result(why)

    def _tap_failed(self, e: OSError) -> None:
        self.fatal = f"tuxnet: {self.cfg.tap}: {e.strerror or e} (was the TAP deleted?)"
        self.stop("tap error")

    # ------------------------------------------------------------------ running
    async def run(self) -> int:
        cfg = self.cfg
        self.stop_fut = self.loop.create_future()
        await self.configure()
        from tuxnet.wire.addr import mac_ntoa

        gw = f", default via {cfg.gateway}" if cfg.gateway else ""
        self.out.write(f"tuxnet: {cfg.tap} ({'created' if self.dev.created else 'attached'}, "
                       f"mac {mac_ntoa(self.dev.mac)}) {cfg.address}{gw}: ready\n")
        shown = await self.start_services()
        failed = 0
        killed = False  # a command ended by a signal without handling it (as a shell sees 128+SIGINT)
        for cmd in cfg.commands:
            if self.stop_fut.done():
                break
            self.out.write(f"=== {cmd}\n")
            self.current = asyncio.ensure_future(self.sh(cmd, self.out, self.err))
            try:
                rc = await self.current
            except asyncio.CancelledError:
                rc = 130  # interrupted, and the tool did not catch it to print a summary
                killed = True
            except Exception as e:  # a tool's bug must not take the host down: report it
                self.err.write(f"tuxnet: {cmd.split()[0]}: internal error: {type(e).__name__}: {e}\n")
                rc = 70
            self.current = None
            if rc != 0:
                self.out.write(f"--- exit {rc}\n")
                failed += 1
        if cfg.services and not self.stop_fut.done():
            self.out.write(f"tuxnet: serving {', '.join(shown)}; stop with Ctrl-C or SIGTERM\n")
            await self.stop_fut
        if self.fatal:
            self.err.write(self.fatal + "\n")
            return 1
        if killed:
            return 130
        # a command that handled the interrupt (ping prints its summary) gives its own status
        return 1 if failed else 0

    async def shutdown(self) -> None:
        """Close services and sockets; give our FINs time to be acknowledged."""
        if self.http is not None:
            await self.http.close()
        if self.inetd is not None:
            await self.inetd.close()
        if self.ns is None:
            return
        sockets = getattr(self.ns, "sockets", None)
        for s in list(sockets or ()):
            with contextlib.suppress(OSError):
                s.close()
        deadline = self.loop.time() + FIN_GRACE_S
        while self._fin_pending() and self.loop.time() < deadline:
            await asyncio.sleep(0.01)

    def _fin_pending(self) -> bool:
        """A TCP socket whose FIN is not yet acknowledged (FIN_WAIT1, CLOSING, LAST_ACK)."""
        net = getattr(self.ns, "tcp", None)
        ehash = getattr(net, "ehash", None)
        if not ehash:
            return False
        from tuxnet.ipv4.tcp.tcp_sock import TCP_CLOSING, TCP_FIN_WAIT1, TCP_LAST_ACK

        return any(sk.sk_state in (TCP_FIN_WAIT1, TCP_CLOSING, TCP_LAST_ACK) for sk in ehash.values())

    def close(self) -> None:
        if self.capture is not None:
            self.capture.close()
            self.pcap_writer.flush()
        if self.pcap_file is not None:
            self.pcap_file.close()
        if self.dev is not None:
            self.dev.release()
        self.restore_signals()
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()


def main(args: argparse.Namespace) -> int:
    """``tuxnet live``: returns the exit status (0 ok, 1 a command failed or the TAP failed, 2 bad
    input, 130 a command was interrupted and did not handle it)."""
    try:
        cfg = parse_args(args)
    except LiveError as e:
        print(e, file=sys.stderr)
        return e.status
    host = LiveHost(cfg)
    try:
        try:
            host.open()
            host.install_signals()
            rc = host.loop.run_until_complete(host.run())
        except LiveError as e:
            print(e, file=sys.stderr)
            rc = e.status
        with contextlib.suppress(Exception):
            host.loop.run_until_complete(host.shutdown())
    finally:
        host.close()
    stats = host.dev.stats if host.dev is not None else None
    if stats is not None and rc in (0, 1) and cfg.services:
        print(f"tuxnet: stopped; {cfg.tap}: rx {stats.rx_packets} packets {stats.rx_bytes} bytes, "
              f"tx {stats.tx_packets} packets {stats.tx_bytes} bytes", flush=True)
    return rc
