"""Operator tools run inside a namespace, like commands on a Linux host.

Each tool is a module ``tuxnet.tools.<name>`` with ``async def main(ns, argv, out, err) -> int``:
``argv`` excludes the program name, ``out``/``err`` are text streams, the return value is the exit
code. Tools are coroutines because some need time to pass (``ping -c 3`` takes two virtual seconds);
``run_command`` runs one to completion on the lab's loop. Syntax, output, error wording and exit codes
follow the real tools.
"""

from __future__ import annotations

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


async def run_argv(ns: Namespace, argv: list[str], out: io.TextIOBase, err: io.TextIOBase) -> int:
    if not argv:
        return 0
    try:
        mod = resolve(argv[0])
    except CommandNotFound:
        err.write(f"{argv[0]}: command not found\n")
        return 127
    return await mod.main(ns, argv[1:], out, err)


def run_command(ns: Namespace, cmdline: str, *, timeout: float | None = None) -> tuple[int, str]:
    """Run one command line to completion on the namespace's loop; returns (exit code, output).

    stdout and stderr are interleaved into one text, as a terminal shows them.
    """
    try:
        argv = shlex.split(cmdline)
    except ValueError as e:
        return 2, f"sh: syntax error: {e}\n"
    buf = io.StringIO()
    timeout_ns = None if timeout is None else int(timeout * 1e9)
    rc = ns.loop.run_until_complete(run_argv(ns, argv, buf, buf), timeout_ns=timeout_ns)
    return rc, buf.getvalue()
