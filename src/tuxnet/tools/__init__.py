"""Operator tools run inside a namespace, like commands on a Linux host.

Each tool is a module ``tuxnet.tools.<name>`` with ``async def main(ns, argv, out, err) -> int``:
``argv`` excludes the program name, ``out``/``err`` are text streams, the return value is the exit
code. Tools are coroutines because some need time to pass (``ping -c 3`` takes two virtual seconds);
``run_command`` runs one to completion on the lab's loop. Syntax, output, error wording and exit codes
follow the real tools.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

# command name -> module under tuxnet.tools
TOOLS: dict[str, str] = {
    "ip": "ip",
    "bridge": "bridge",
    "tc": "tc",
    "sysctl": "sysctl",
    "cat": "cat",
    "ping": "ping",
    "traceroute": "traceroute",
    "tcpdump": "tcpdump",
    "nc": "nc",
    "ss": "ss",
    "dig": "dig",
    "iptables": "iptables",
    "nft": "nft",
    "conntrack": "conntrack",
    "iperf3": "iperf3",
    "curl": "curl",
    "nstat": "nstat",
}


class CommandNotFound(Exception):
    pass


def resolve(name: str):
    mod = TOOLS.get(name)
    if mod is None:
        raise CommandNotFound(name)
    try:
        return importlib.import_module(f"tuxnet.tools.{mod}")
    except ModuleNotFoundError as e:
        if e.name == f"tuxnet.tools.{mod}":
            raise CommandNotFound(name) from None
        raise


def parse_duration(text: str) -> float:
    """coreutils' DURATION: a number with an optional s/m/h/d suffix."""
    mult = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(text[-1:])
    num = text[:-1] if mult else text
    value = float(num)
    if value < 0 or value != value:
        raise ValueError(text)
    return value * (mult or 1)


async def _timeout(ns: Namespace, argv: list[str], out: io.TextIOBase, err: io.TextIOBase) -> int:
    """timeout(1): run a command, interrupt it after DURATION of (virtual) time; 124 if it timed out.

    The tool sees the interruption as ``asyncio.CancelledError`` (as a process sees SIGTERM/SIGINT),
    so ping and tcpdump print their summaries before they exit."""
    args = list(argv)
    while args and args[0].startswith("-") and args[0] not in ("-",):
        opt = args.pop(0)
        if opt in ("-s", "--signal", "-k", "--kill-after") and args:
            args.pop(0)
        elif opt.startswith(("--signal=", "--kill-after=")) or opt in ("--preserve-status", "--foreground"):
            pass
        else:
            err.write(f"timeout: invalid option -- '{opt.lstrip('-')}'\n")
            return 125
    if len(args) < 2:
        err.write("timeout: missing operand\nTry 'timeout --help' for more information.\n")
        return 125
    try:
        secs = parse_duration(args[0])
    except ValueError:
        err.write(f"timeout: invalid time interval '{args[0]}'\n")
        return 125
    task = asyncio.ensure_future(run_argv(ns, args[1:], out, err))
    done, _ = await asyncio.wait({task}, timeout=secs)
    if task in done:
        return task.result()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return 124


async def _sleep(ns: Namespace, argv: list[str], err: io.TextIOBase) -> int:
    """sleep(1): wait the sum of its DURATIONs of (virtual) time, so background jobs run meanwhile."""
    if not argv:
        err.write("sleep: missing operand\n")
        return 1
    total = 0.0
    for a in argv:
        try:
            total += parse_duration(a)
        except ValueError:
            err.write(f"sleep: invalid time interval '{a}'\n")
            return 1
    await asyncio.sleep(total)
    return 0


async def run_argv(ns: Namespace, argv: list[str], out: io.TextIOBase, err: io.TextIOBase) -> int:
    if not argv:
        return 0
    if argv[0] == "timeout":
        return await _timeout(ns, argv[1:], out, err)
    if argv[0] == "sleep":
        return await _sleep(ns, argv[1:], err)
    try:
        mod = resolve(argv[0])
    except CommandNotFound:
        err.write(f"{argv[0]}: command not found\n")
        return 127
    return await mod.main(ns, argv[1:], out, err)


class Job:
    """A background command (``cmd &``): its task, its output so far, its number and command line."""

    __slots__ = ("num", "cmdline", "task", "out")

    def __init__(self, num: int, cmdline: str, task: asyncio.Task, out: io.StringIO) -> None:
        self.num = num
        self.cmdline = cmdline
        self.task = task
        self.out = out

    def state(self) -> str:
        if not self.task.done():
            return "Running"
        if self.task.cancelled():
            return "Terminated"
        exc = self.task.exception()
        if exc is not None:
            return "Exit 70"
        rc = self.task.result()
        return "Done" if rc == 0 else f"Exit {rc}"

    def rc(self) -> int:
        if self.task.cancelled():
            return 143
        if self.task.exception() is not None:
            return 70
        return self.task.result()


def _jobs(ns: Namespace) -> dict[int, Job]:
    jobs = getattr(ns, "jobs", None)
    if jobs is None:
        jobs = {}
        ns.jobs = jobs  # type: ignore[attr-defined]
    return jobs


def _job_arg(ns: Namespace, args: list[str]) -> list[Job] | str:
    jobs = _jobs(ns)
    if not args:
        return list(jobs.values())
    out = []
    for a in args:
        try:
            out.append(jobs[int(a.lstrip("%"))])
        except (ValueError, KeyError):
            return f"{a}: no such job"
    return out


def _report(job: Job, buf: io.StringIO) -> None:
    buf.write(job.out.getvalue())
    job.out.seek(0)
    job.out.truncate()
    buf.write(f"[{job.num}]+  {job.state():<24}{job.cmdline}\n")


def _job_builtin(ns: Namespace, argv: list[str], buf: io.StringIO, limit: float) -> int:
    """jobs, wait [%N...], kill [%N...]: bash's job control over background tools."""
    name = argv[0]
    sel = _job_arg(ns, [a for a in argv[1:] if not a.startswith("-")])  # kill -INT %1: signal ignored
    if isinstance(sel, str):
        buf.write(f"bash: {name}: {sel}\n")
        return 127 if name == "wait" else 1
    jobs = _jobs(ns)
    if name == "jobs":
        for job in sel:
            buf.write(f"[{job.num}]   {job.state():<24}{job.cmdline}\n")
        return 0
    if name == "kill":
        if not argv[1:]:
            buf.write("kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ...\n")
            return 2
        for job in sel:
            job.task.cancel()
    tasks = [j.task for j in sel if not j.task.done()]
    if tasks:
        async def gather() -> None:
            await asyncio.wait(tasks)

        try:
            ns.loop.run_until_complete(gather(), timeout_ns=int(limit * 1e9))
        except TimeoutError:
            buf.write(f"tuxnet: wait: jobs still running after {limit:g} s of virtual time\n")
            return 130
    rc = 0
    for job in sel:
        if job.task.done():
            _report(job, buf)
            rc = job.rc()
            del jobs[job.num]
    return rc if name == "wait" else 0


def run_command(ns: Namespace, cmdline: str, *, timeout: float | None = None) -> tuple[int, str]:
    """Run one command line to completion on the namespace's loop; returns (exit code, output).

    stdout and stderr are interleaved into one text, as a terminal shows them. A line ending in
    ``&`` starts a background job (``[1] 1001`` is printed, as bash does) that runs while later
    commands advance time; ``jobs``, ``wait [%N]`` and ``kill %N`` (interrupt, so the tool prints its
    summary) manage them, and a finished job's output is shown by the next ``wait``/``jobs``.
    """
    background = cmdline.rstrip().endswith("&") and not cmdline.rstrip().endswith("&&")
    if background:
        cmdline = cmdline.rstrip()[:-1]
    try:
        argv = shlex.split(cmdline)
    except ValueError as e:
        return 2, f"sh: syntax error: {e}\n"
    from tuxnet.core.loop import LoopIdle

    buf = io.StringIO()
    # A command that never ends (tcpdump with no -c, ping with no -c) would hold virtual time forever
    # while periodic timers keep the loop busy: such a command is stopped after ``timeout`` seconds
    # of virtual time (default COMMAND_LIMIT_S), like an operator's Ctrl-C.
    limit = COMMAND_LIMIT_S if timeout is None else timeout
    if argv and argv[0] in ("jobs", "wait", "kill") and not background:
        return _job_builtin(ns, argv, buf, limit), buf.getvalue()
    if background:
        jobs = _jobs(ns)
        num = max(jobs, default=0) + 1
        jbuf = io.StringIO()
        task = ns.loop.create_task(run_argv(ns, argv, jbuf, jbuf))
        # a job still running when the lab is dropped is a server left up, not a lost task
        task._log_destroy_pending = False  # type: ignore[attr-defined]
        jobs[num] = Job(num, cmdline.strip(), task, jbuf)
        # let the job start (a capture must be listening before the next command sends)
        ns.loop.run_until(ns.loop.now_ns)
        return 0, f"[{num}] {1000 + num}\n"
    task = ns.loop.create_task(run_argv(ns, argv, buf, buf))
    try:
        rc = ns.loop.run_until_complete(task, timeout_ns=int(limit * 1e9))
    except TimeoutError:
        buf.write(f"tuxnet: command stopped after {limit:g} s of virtual time\n")
        rc = 130
    except LoopIdle:
        # e.g. "nc -l 9999" in a lab where nothing else will ever happen: in real life it would wait
        # for ever; the lab has run out of events, so the command is stopped like an operator's ^C
        buf.write("tuxnet: command stopped: it waits for an event that nothing in the lab will cause\n")
        rc = 130
    except Exception as e:  # a bug in a tool must not take the lab down: report it like a crash
        import traceback

        buf.write(f"tuxnet: {argv[0]}: internal error: {type(e).__name__}: {e}\n")
        buf.write("".join(traceback.format_exception(e)[-3:]))
        rc = 70
    return rc, buf.getvalue()


# Virtual seconds after which a foreground command is interrupted (see run_command).
COMMAND_LIMIT_S = 3600.0
