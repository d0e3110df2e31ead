"""``tuxnet shell``: an interactive prompt in a lab, in the manner of Mininet's CLI.

    tuxnet> h1 ping -c 3 h2          run a command on a node (node names resolve to first addresses)
    tuxnet> nodes | links | net      what the lab has
    tuxnet> time                     the virtual time
    tuxnet> sleep 5                  advance virtual time by 5 s
    tuxnet> help | exit | quit

History is kept with readline when the terminal has it. Errors are printed, never raised.
"""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING, TextIO

from tuxnet.core.loop import NSEC_PER_SEC

if TYPE_CHECKING:
    from tuxnet.lab.lab import Lab

HELP = """Commands:
  NODE COMMAND...   run COMMAND on NODE (e.g. "h1 ping -c 3 h2"; node names resolve to their first address)
  nodes             list the nodes
  links             list the links
  net               nodes with their interfaces and addresses
  time              show the virtual time
  sleep SECONDS     advance virtual time
  help              this text
  exit, quit        leave (Ctrl-D too)
"""


_SHELL_OPERATORS = frozenset({"&", "&&", "||", "|", ";", ">", ">>", "<", "2>&1", "&>"})


def resolve_node_names(lab: Lab, cmdline: str) -> str:
    """Replace arguments that are node names with the node's first address (Mininet does the same).
    Shell operators (a trailing ``&``, ``&&``, ``|``, redirections) stay operators."""
    lex = shlex.shlex(cmdline, posix=True, punctuation_chars="&|;<>")
    lex.whitespace_split = True
    try:
        argv = list(lex)
    except ValueError:
        return cmdline
    changed = False
    for i, a in enumerate(argv[1:], 1):
        if a in lab.nodes:
            ip = lab.nodes[a].IP()
            if ip is not None:
                argv[i] = ip
                changed = True
    if not changed:
        return cmdline
    return " ".join(a if a in _SHELL_OPERATORS else shlex.quote(a) for a in argv)


class Shell:
    def __init__(self, lab: Lab, out: TextIO = sys.stdout) -> None:
        self.lab = lab
        self.out = out

    def onecmd(self, line: str) -> bool:
        """Run one line; returns False when the shell should exit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        try:
            words = shlex.split(line)
        except ValueError as e:
            self.out.write(f"*** syntax error: {e}\n")
            return True
        w = words[0]
        lab = self.lab
        if w in ("exit", "quit", "EOF"):
            return False
        if w in ("help", "?"):
            self.out.write(HELP)
        elif w == "time":
            self.out.write(f"{lab.loop.now_ns / NSEC_PER_SEC:.6f} s\n")
        elif w == "sleep":
            try:
                secs = float(words[1])
                if secs < 0:
                    raise ValueError
            except (IndexError, ValueError):
                self.out.write("*** usage: sleep SECONDS\n")
                return True
            lab.run(secs)
        elif w == "nodes":
            self.out.write("available nodes are: \n" + " ".join(lab.nodes) + "\n")
        elif w in ("links", "net"):
            self._links(detail=w == "net")
        elif w in lab.nodes:
            if len(words) == 1:
                self.out.write(f"*** usage: {w} COMMAND...\n")
                return True
            rest = line[len(w):].strip()
            rc, text = lab.nodes[w].cmd_rc(resolve_node_names(lab, rest))
            self.out.write(text)
        else:
            self.out.write(f"*** Unknown command: {line}\n")
        return True

    def _links(self, detail: bool) -> None:
        seen = set()
        for ns in self.lab.hosts.values():
            for dev in ns.devices.values():
                peer = getattr(dev, "peer", None)
                if detail:
                    continue
                if peer is None or id(dev) in seen:
                    continue
                seen.add(id(peer))
                state = "OK" if dev.running and peer.running else "DOWN"
                self.out.write(f"{ns.name}-{dev.name}<->{peer.ns.name}-{peer.name} ({state} {state})\n")
        if detail:
            for name, node in self.lab.nodes.items():
                parts = []
                for dev in sorted(node.ns.devices.values(), key=lambda d: d.ifindex):
                    if dev.kind == "loopback":
                        continue
                    peer = getattr(dev, "peer", None)
                    addrs = ",".join(f"{_ntoa(i.local)}/{i.prefixlen}" for i in dev.in_dev.ifa_list) \
                        if dev.in_dev else ""
                    p = f":{peer.ns.name}-{peer.name}" if peer is not None else ""
                    parts.append(f"{dev.name}{p}" + (f" {addrs}" if addrs else ""))
                self.out.write(f"{name} " + " ".join(parts) + "\n")


def _ntoa(a: int) -> str:
    from tuxnet.wire.addr import ip_ntoa

    return ip_ntoa(a)


def run_shell(topology: str, *, seed: int = 0, pcap: str | None = None,
              stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    from tuxnet.lab.build import BuildError, build
    from tuxnet.lab.capture import LabCapture
    from tuxnet.lab.topology import TopologyError, load

    try:
        lab = build(load(topology), seed=seed)
    except (TopologyError, BuildError) as e:
        print(f"tuxnet: {e}", file=sys.stderr)
        return 2
    capture = LabCapture(lab, pcap) if pcap else None
    sh = Shell(lab, out)
    interactive = stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401  (history and line editing)
        except ImportError:
            pass
        out.write(f"*** tuxnet lab {lab.name!r}: {len(lab.nodes)} nodes. Type 'help'.\n")
    try:
        while True:
            if interactive:
                try:
                    line = input("tuxnet> ")
                except EOFError:
                    out.write("\n")
                    break
            else:
                line = stdin.readline()
                if not line:
                    break
            if not sh.onecmd(line):
                break
            out.flush()
    except KeyboardInterrupt:
        out.write("\n")
    finally:
        if capture is not None:
            capture.close()
    return 0
