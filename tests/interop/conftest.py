"""Fixtures for interop tests: tuxnet on a TAP, the Linux kernel on the other side in a fresh netns.

Two ways to run tuxnet, both on the real code path:
- ``live``: ``python -m tuxnet.lab.cli live ...`` as a subprocess inside the kernel's netns (what a
  user runs); the test talks to it with the kernel's tools and Python sockets in that netns.
- ``inproc``: a ``TapDevice`` opened by the test process in the root netns, then moved into the
  kernel's netns with ``ip link set TAP netns K`` (the fd keeps working: that is checked too); the
  test drives tuxnet's sockets on the real-time loop while kernel-side programs run in K.

Every namespace, TAP and process a test creates is removed in a ``finally``, even on failure.
Traffic only goes to addresses inside those namespaces.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
TUXNET_IP = "10.99.0.2"
KERNEL_IP = "10.99.0.1"
PREFIX = 24
_counter = itertools.count(1)


def root_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (TAP devices and network namespaces)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun on this machine"
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    name = f"tnprobe{os.getpid()}"
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        return f"ip netns add failed: {p.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


ROOT_SKIP = root_skip_reason()
needs_root = pytest.mark.skipif(ROOT_SKIP is not None, reason=ROOT_SKIP or "")


def unique(prefix: str) -> str:
    """A name unique to this process and test (interface names stay under 16 bytes)."""
    return f"{prefix}{os.getpid() % 100000}x{next(_counter)}"


def sh(cmd: list[str] | str, *, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd!r} failed ({p.returncode}): {p.stdout}{p.stderr}")
    return p


class Kernel:
    """The kernel's side: a network namespace ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def ip(self, args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh(["ip", "-n", self.name, *args.split()], check=check)

    def exec(self, cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        return sh(["ip", "netns", "exec", self.name, *cmd], **kw)

    def popen(self, cmd: list[str], **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], text=True, **kw)

    def python(self, script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a Python script in the kernel's netns; fails the test with its stderr if it fails."""
        p = self.exec([PY, "-c", script, *args], check=False, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"kernel-side script failed ({p.returncode}):\n{p.stdout}{p.stderr}")
        return p

    def configure_tap(self, tap: str, addr: str = f"{KERNEL_IP}/{PREFIX}") -> None:
        self.ip(f"addr add {addr} dev {tap}")
        self.ip(f"link set {tap} up")

    def mac(self, dev: str) -> str:
        out = self.ip(f"link show {dev}").stdout
        return out.split("link/ether", 1)[1].split()[0]


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    if ROOT_SKIP:
        pytest.skip(ROOT_SKIP)
    name = unique("tnk")
    sh(["ip", "netns", "add", name])
    try:
        k = Kernel(name)
        k.ip("link set lo up")
        yield k
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


# ------------------------------------------------------------------------------------------ live
class Live:
    """A ``tuxnet live`` process; its stdout and stderr are collected as they come."""

    def __init__(self, kernel: Kernel | None, tap: str, args: list[str], *, user: str | None = None) -> None:
        self.tap = tap
        cmd = [PY, "-m", "tuxnet.lab.cli", "live", "--tap", tap, *args]
        if user is not None:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
        if kernel is not None:
            cmd = ["ip", "netns", "exec", kernel.name, *cmd]
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO / "src"))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, start_new_session=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._ready = threading.Event()
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)
            if "ready" in line:
                self._ready.set()
        self._ready.set()  # EOF: no longer worth waiting

    def wait_ready(self, timeout: float = 20) -> None:
        if not self._ready.wait(timeout) or self.proc.poll() is not None and not self.ready_line():
            self.kill()
            raise AssertionError(f"tuxnet live did not get ready:\n{self.text()}")

    def ready_line(self) -> str:
        return next((line for line in self.out if "ready" in line), "")

    def wait_for(self, text: str, timeout: float = 30) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in "".join(self.out):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        return text in "".join(self.out)

    def send_signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float = 30) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"tuxnet live did not exit:\n{self.text()}") from None
        for t in self._threads:
            t.join(5)
        return rc

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.send_signal(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stdout(self) -> str:
        return "".join(self.out)

    def text(self) -> str:
        return "".join(self.out) + "".join(self.err)


@pytest.fixture
def live(kernel: Kernel) -> Iterator[Any]:
    """``live(*args, configure=True)`` starts ``tuxnet live`` (``--address 10.99.0.2/24`` unless
    given) in the kernel's netns on a new TAP (created by tuxnet) and, once it is ready, addresses
    and brings up the kernel's side. Without ``--serve`` the process exits after its commands."""
    started: list[Live] = []

    def start(*args: str, tap: str | None = None, configure: bool = True, wait: bool = True) -> Live:
        tap = tap or unique("tnt")
        argv = list(args)
        if "--address" not in argv:
            argv += ["--address", f"{TUXNET_IP}/{PREFIX}"]
        lv = Live(kernel, tap, argv)
        started.append(lv)
        if wait:
            lv.wait_ready()
            if configure:
                kernel.configure_tap(tap)
        return lv

    try:
        yield start
    finally:
        for lv in started:
            lv.kill()


@pytest.fixture
def persistent_tap(kernel: Kernel) -> str:
    """A persistent TAP already addressed and up in the kernel's netns (tuxnet attaches to it)."""
    tap = unique("tnp")
    kernel.ip(f"tuntap add dev {tap} mode tap")
    kernel.configure_tap(tap)
    return tap  # deleted with the namespace


# ------------------------------------------------------------------------------------------ inproc
class InProc:
    """tuxnet in this process: a TapDevice made in the root netns and moved into the kernel's."""

    def __init__(self, kernel: Kernel) -> None:
        from tuxnet.core.loop import Loop
        from tuxnet.drivers.tap import TapDevice
        from tuxnet.netns import Namespace

        self.kernel = kernel
        self.tap = unique("tni")
        self.loop = Loop(realtime=True)
        self.ns = Namespace("live", loop=self.loop, seed=int.from_bytes(os.urandom(4), "big"))
        self.ns.lo.open()
        self.dev = TapDevice(self.ns, self.tap)
        self.ns.register_netdevice(self.dev)
        self.cmd(f"ip link set {self.tap} up")
        self.cmd(f"ip addr add {TUXNET_IP}/{PREFIX} dev {self.tap}")
        sh(["ip", "link", "set", self.tap, "netns", kernel.name])
        kernel.configure_tap(self.tap)

    def cmd(self, line: str) -> str:
        import io
        import shlex

        from tuxnet.tools import run_argv

        buf = io.StringIO()
        rc = self.run(run_argv(self.ns, shlex.split(line), buf, buf))
        assert rc == 0, f"{line}: {buf.getvalue()}"
        return buf.getvalue()

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    async def wait_proc(self, p: subprocess.Popen[str], timeout: float = 60) -> int:
        """Let the loop run while a kernel-side process works."""
        end = self.loop.time() + timeout
        while p.poll() is None:
            if self.loop.time() > end:
                p.kill()
                raise AssertionError("kernel-side process did not finish")
            await asyncio.sleep(0.005)
        return p.returncode

    async def kernel_python(self, script: str, *args: str, timeout: float = 60,
                            started: str | None = None) -> tuple[int, str, str]:
        """Run a Python script in the kernel's netns while tuxnet keeps running."""
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = self.kernel.popen([PY, "-c", script, *args], stdout=out, stderr=err)
            try:
                rc = await self.wait_proc(p, timeout)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            out.seek(0)
            err.seek(0)
            return rc, out.read(), err.read()

    def close(self) -> None:
        self.dev.release()
        if not self.loop.is_closed():
            self.loop.close()


@pytest.fixture
def inproc(kernel: Kernel) -> Iterator[InProc]:
    h = InProc(kernel)
    try:
        yield h
    finally:
        h.close()


class KernelServer:
    """A kernel-side Python server started in the background; ``started`` waits for its first line."""

    def __init__(self, kernel: Kernel, script: str, *args: str) -> None:
        self.out = tempfile.TemporaryFile("w+")  # noqa: SIM115  (closed in close())
        self.err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = kernel.popen([PY, "-u", "-c", script, *args], stdout=self.out, stderr=self.err)

    def wait_line(self, timeout: float = 10) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.out.seek(0)
            text = self.out.read()
            if "\n" in text:
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise AssertionError(f"kernel server did not start: {self.output()}")

    def output(self) -> str:
        self.out.seek(0)
        self.err.seek(0)
        return self.out.read() + self.err.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.out.close()
        self.err.close()


@pytest.fixture
def kernel_server(kernel: Kernel) -> Iterator[Any]:
    servers: list[KernelServer] = []

    def start(script: str, *args: str) -> KernelServer:
        s = KernelServer(kernel, script, *args)
        servers.append(s)
        s.wait_line()
        return s

    try:
        yield start
    finally:
        for s in servers:
            s.close()


def netem_skip_reason(kernel: Kernel, dev: str) -> str | None:
    """Whether ``tc qdisc add dev DEV root netem`` works in this kernel (sch_netem may be missing)."""
    if shutil.which("tc") is None:
        return "tc is not installed"
    p = kernel.exec(["tc", "qdisc", "add", "dev", dev, "root", "netem", "delay", "20ms", "loss", "2%"],
                    check=False)
    if p.returncode != 0:
        if "unknown" in p.stderr.lower() or "not supported" in p.stderr.lower():
            return "netem qdisc not available in this kernel"
        return f"tc qdisc add ... netem failed: {p.stderr.strip()}"
    return None
