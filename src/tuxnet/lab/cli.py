"""The ``tuxnet`` command.

    tuxnet run TOPOLOGY [--cmd "NODE: COMMAND"]... [--script FILE] [--until SECONDS] [--seed N] [--pcap DIR]
    tuxnet shell TOPOLOGY [--seed N] [--pcap DIR]
    tuxnet packetdrill FILE...
    tuxnet live --tap NAME --address CIDR ...

``run`` builds the lab, runs the nodes' ``exec`` lists, then each command in order (virtual time
advances as each command needs), printing each command's output under a header, and exits 1 if any
command failed. Node names used as arguments resolve to the node's first address, as in Mininet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tuxnet.core.loop import NSEC_PER_SEC


def _parse_cmd(text: str, where: str) -> tuple[str, str]:
    node, sep, cmd = text.partition(":")
    if not sep or not node.strip() or not cmd.strip():
        raise SystemExit(f"tuxnet: {where}: expected \"NODE: COMMAND\", got {text!r}")
    return node.strip(), cmd.strip()


def _read_script(path: str) -> list[tuple[str, str]]:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise SystemExit(f"tuxnet: cannot read script {path}: {e.strerror}") from None
    out = []
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        out.append(_parse_cmd(s, f"{path}:{i}"))
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from tuxnet.lab.build import BuildError, build
    from tuxnet.lab.capture import LabCapture
    from tuxnet.lab.shell import resolve_node_names
    from tuxnet.lab.topology import TopologyError, load

    commands: list[tuple[str, str]] = []
    for s in args.script or []:
        commands += _read_script(s)
    commands += [_parse_cmd(c, "--cmd") for c in args.cmd or []]
    try:
        topo = load(args.topology)
    except TopologyError as e:
        print(f"tuxnet: {e}", file=sys.stderr)
        return 2
    for node, _ in commands:
        if node not in topo.nodes:
            print(f"tuxnet: no node named {node!r} in {args.topology}", file=sys.stderr)
            return 2
    try:
        lab = build(topo, seed=args.seed, run_exec=False)
    except (TopologyError, BuildError) as e:
        print(f"tuxnet: {e}", file=sys.stderr)
        return 2
    capture = LabCapture(lab, args.pcap) if args.pcap else None
    failed = 0
    try:
        for spec in topo.nodes.values():
            for c in spec.exec:
                rc, out = lab.node(spec.name).cmd_rc(c)
                if rc != 0:
                    msg = f"tuxnet: {args.topology}: node {spec.name!r}: exec {c!r} failed (exit {rc})\n{out}"
                    print(msg, file=sys.stderr, end="")
                    return 1
        for node, c in commands:
            line = resolve_node_names(lab, c)
            t = lab.loop.now_ns / NSEC_PER_SEC
            if capture is not None:
                capture.flush()  # so a command may read what was captured so far (tcpdump -r)
            print(f"=== {node}$ {c}   [t={t:.3f}s]")
            rc, out = lab.node(node).cmd_rc(line)
            sys.stdout.write(out)
            if rc != 0:
                print(f"--- exit {rc}")
                failed += 1
            sys.stdout.flush()
        if args.until is not None:
            target = int(args.until * NSEC_PER_SEC)
            if target > lab.loop.now_ns:
                lab.loop.run_until(target)
    finally:
        if capture is not None:
            capture.close()
            counts = ", ".join(f"{c.dev.ns.name}-{c.dev.name}: {c.count}" for c in capture.captures)
            print(f"=== capture: {len(capture.captures)} files in {args.pcap} ({counts})")
    print(f"=== done at t={lab.loop.now_ns / NSEC_PER_SEC:.3f}s, {failed} command(s) failed")
    return 1 if failed else 0


def cmd_shell(args: argparse.Namespace) -> int:
    from tuxnet.lab.shell import run_shell

    return run_shell(args.topology, seed=args.seed, pcap=args.pcap)


def cmd_packetdrill(args: argparse.Namespace) -> int:
    try:
        from tuxnet.tools.packetdrill.runner import main as pd_main
    except ModuleNotFoundError:
        print("tuxnet: packetdrill runner is not available yet", file=sys.stderr)
        return 2
    sysctls = {}
    for item in args.sysctl:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            print(f"tuxnet packetdrill: --sysctl wants KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        sysctls[key.strip().replace("/", ".")] = value.strip()
    return pd_main(args.files, verbose=args.verbose, sysctls=sysctls, setup=args.setup)


def cmd_live(args: argparse.Namespace) -> int:
    try:
        from tuxnet.lab.live import main as live_main
    except ModuleNotFoundError:
        print("tuxnet: live mode is not available yet", file=sys.stderr)
        return 2
    return live_main(args)


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tuxnet", description="The Linux network stack in Python: "
                                "a deterministic multi-host lab, and a live host on a TAP device.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="build a lab from a topology file and run commands in it")
    r.add_argument("topology")
    r.add_argument("--cmd", action="append", metavar="\"NODE: COMMAND\"",
                   help="a command to run (repeatable)")
    r.add_argument("--script", action="append", metavar="FILE",
                   help="a file of \"NODE: COMMAND\" lines")
    r.add_argument("--until", type=float, metavar="SECONDS",
                   help="advance virtual time to SECONDS at the end")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--pcap", metavar="DIR", help="capture every interface to DIR/NODE-IFACE.pcap")
    r.set_defaults(func=cmd_run)
    s = sub.add_parser("shell", help="an interactive prompt in a lab (like Mininet's CLI)")
    s.add_argument("topology")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--pcap", metavar="DIR")
    s.set_defaults(func=cmd_shell)
    d = sub.add_parser("packetdrill", help="run packetdrill scripts against a tuxnet namespace")
    d.add_argument("files", nargs="+")
    d.add_argument("-v", "--verbose", action="store_true")
    d.add_argument("--sysctl", action="append", default=[], metavar="KEY=VALUE",
                   help="configure the host before each script (e.g. net.ipv4.tcp_syn_linear_timeouts=0 "
                        "for scripts written before Linux 6.7)")
    d.add_argument("--setup", action="append", default=[], metavar="CMD",
                   help="run a command on the host before each script, after --sysctl (e.g. "
                        "'ip link set dev tun0 gso_max_segs 1' for scripts written for a stack without TSO)")
    d.set_defaults(func=cmd_packetdrill)
    live = sub.add_parser("live", help="run a tuxnet host on a real TAP device")
    live.add_argument("--tap", required=True)
    live.add_argument("--address", required=True, metavar="CIDR")
    live.add_argument("--gateway")
    live.add_argument("--serve", action="append", default=[])
    live.add_argument("--pcap")
    live.add_argument("--cmd", action="append", default=[])
    live.set_defaults(func=cmd_live)
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
