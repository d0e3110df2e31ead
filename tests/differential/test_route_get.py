"""Differential test: ``ip route get`` answers of tuxnet against the real Linux kernel.

The same seeded random topology (veth devices, some down or without carrier, primary and secondary
addresses, routes of every type across several tables with tos, metrics, prefsrc, onlink, and
policy rules with every selector and action) is built in a real network namespace with the real
``ip`` and in a tuxnet namespace with tuxnet's ``ip``. Every setup command must give the same exit
code and messages on both sides, the resulting ``ip rule`` and ``ip route show table all`` must be
identical (IPv6 routes, which tuxnet does not have, aside), and then over a thousand random
``ip route get ADDR [from A] [iif D | oif D] [mark M] [tos T]`` lookups, under four settings of
ip_forward and rp_filter, must print the same answer or the same error. Nothing is normalised: the
``cache`` lines, ``uid 0`` and flags match byte for byte.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
from collections.abc import Callable

import pytest
from netns_probe import netns_skip_reason

from tuxnet.lab.lab import Lab
from tuxnet.netns import Namespace
from tuxnet.tools import run_command

pytestmark = [pytest.mark.root, pytest.mark.slow]

# 5 seeds x 4 phases x 100 = 2000 lookups; TUXNET_ROUTE_DIFF_SEEDS=N runs seeds 1..N instead
SEEDS = tuple(range(1, int(os.environ.get("TUXNET_ROUTE_DIFF_SEEDS", "5")) + 1))
LOOKUPS_PER_PHASE = 100


_SKIP = netns_skip_reason("tnprobe")


class Kernel:
    """The real side: network namespace ``name`` (veth pairs have both ends in it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sink = name
        for n in (self.name,):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
            subprocess.run(["ip", "netns", "add", n], check=True)

    def close(self) -> None:
        for n in (self.name,):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)

    def ip(self, cmd: str, ns: str | None = None) -> tuple[int, str]:
        p = subprocess.run(["ip", "-n", ns or self.name, *cmd.split()], capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def sysctl(self, key: str, value: int) -> None:
        subprocess.run(["ip", "netns", "exec", self.name, "sysctl", "-qw", f"{key}={value}"], check=True)

    def batch_get(self, cmds: list[str]) -> list[str]:
        """Run ``ip route get`` commands through one ``ip -force -batch``; one answer per command."""
        p = subprocess.run(["ip", "-n", self.name, "-force", "-batch", "-"], input="\n".join(cmds) + "\n",
                           capture_output=True, text=True)
        failed: dict[int, str] = {}
        for m in re.finditer(r"(.*?)Command failed -:(\d+)\n?", p.stderr, re.S):
            failed[int(m.group(2))] = m.group(1)
        lines = p.stdout.splitlines(keepends=True)
        out = []
        pos = 0
        for i, _c in enumerate(cmds, 1):
            if i in failed:
                out.append(failed[i])
            else:
                out.append("".join(lines[pos:pos + 2]))
                pos += 2
        assert pos == len(lines), "unparsed kernel output"
        return out


class Tux:
    def __init__(self) -> None:
        self.lab = Lab(7)
        self.h = self.lab.add_host("h", lo_up=False)
        self.sink = self.h

    def ip(self, cmd: str, ns: Namespace | None = None) -> tuple[int, str]:
        return run_command(ns or self.h, "ip " + cmd)

    def sysctl(self, key: str, value: int) -> None:
        self.h.sysctl.set(key, value)

    def batch_get(self, cmds: list[str]) -> list[str]:
        return [run_command(self.h, "ip " + c)[1] for c in cmds]


def _prefix_hosts(rng: random.Random, net: int, plen: int) -> int:
    size = 1 << (32 - plen)
    return net + rng.randrange(size) if size > 1 else net


def ntoa(a: int) -> str:
    return f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}"


Scenario = tuple[list[tuple[str, str]], list[str], list[int], list[tuple[int, int]],
                 dict[str, list[tuple[int, int]]]]


def build_scenario(seed: int) -> Scenario:
    """Setup commands, devices, local addresses, prefixes, and each device's connected prefixes."""
    rng = random.Random(seed)
    cmds: list[tuple[str, str]] = [("h", "link set lo up")]
    ndev = rng.randint(4, 6)
    devs = [f"e{i}" for i in range(ndev)]
    for d in devs:
        cmds.append(("h", f"link add {d} type veth peer name p{d[1:]}"))
    locals_: list[int] = []
    prefixes: list[tuple[int, int]] = [(0x7F000000, 8)]
    dev_addrs: dict[str, list[int]] = {d: [] for d in devs}
    dev_prefixes: dict[str, list[tuple[int, int]]] = {d: [] for d in devs}
    for i, d in enumerate(devs):
        # most devices up with carrier, some down, some up without carrier (peer down)
        state = rng.choices(["up", "down", "nocarrier"], [6, 1, 1])[0]
        if state != "nocarrier":
            cmds.append(("h", f"link set p{d[1:]} up"))
        if state != "down":
            cmds.append(("h", f"link set {d} up"))
        for _ in range(rng.randint(1, 3)):
            plen = rng.choice([24, 24, 24, 16, 28, 30, 31, 32])
            net = (10 << 24) | (rng.randrange(8) << 16) | (rng.randrange(4) << 8)
            if plen == 16:
                net &= 0xFFFF0000
            net &= (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
            addr = _prefix_hosts(rng, net, plen)
            if plen < 31 and (addr == net or addr == net | ((1 << (32 - plen)) - 1)):
                addr = net + 1
            if addr in locals_:
                continue
            extra = rng.choice(["", "", "", " noprefixroute", " brd +", f" metric {rng.randrange(1, 50)}"])
            cmds.append(("h", f"addr add {ntoa(addr)}/{plen} dev {d}{extra}"))
            locals_.append(addr)
            prefixes.append((net, plen))
            dev_addrs[d].append(addr)
            dev_prefixes[d].append((net, plen))
        if i == 0 and dev_addrs[d]:
            # a secondary in the first subnet
            a0 = dev_addrs[d][0]
            for c in cmds[::-1]:
                if c[1].startswith(f"addr add {ntoa(a0)}/"):
                    plen = int(c[1].split()[2].split("/")[1])
                    break
            if plen <= 28:
                sec = a0 + 3
                cmds.append(("h", f"addr add {ntoa(sec)}/{plen} dev {d}"))
                locals_.append(sec)
                dev_addrs[d].append(sec)
    # routes
    gw_candidates = [a + 1 if (a & 255) < 250 else a - 1 for a in locals_]
    tables = ["", " table 100", " table 200", " table 253", " table 100"]
    for _ in range(rng.randint(25, 40)):
        kind = rng.choices(["gw", "dev", "onlink", "blackhole", "unreachable", "prohibit", "throw", "local",
                            "broadcast", "anycast", "default"], [8, 5, 2, 2, 3, 2, 2, 1, 1, 1, 3])[0]
        plen = rng.choice([8, 12, 16, 20, 24, 24, 25, 28, 30, 32])
        net = (rng.choice([10, 10, 10, 172, 192]) << 24) | (rng.randrange(16) << 16) | (rng.randrange(8) << 8)
        if rng.random() < 0.5 and prefixes:
            pn, pp = rng.choice(prefixes)
            net = pn
            plen = rng.choice([pp, min(32, pp + 4), max(8, pp - 4)])
        net &= (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        dst = f"{ntoa(net)}/{plen}"
        table = rng.choice(tables)
        tos = rng.choice(["", "", "", " tos 0x10", " tos 0x08", " tos 0x04"])
        metric = rng.choice(["", "", f" metric {rng.randrange(1, 500)}"])
        dev = rng.choice(devs)
        extra = rng.choice(["", "", "", " mtu 1400", " proto static", " advmss 1200", " scope link"])
        if kind == "gw":
            gw = rng.choice(gw_candidates + [0x0A636363])
            src = f" src {ntoa(rng.choice(locals_))}" if locals_ and rng.random() < 0.2 else ""
            extra = "" if extra == " scope link" else extra
            cmd = f"route add {dst} via {ntoa(gw)}{table}{tos}{metric}{src}{extra}"
        elif kind == "dev":
            cmd = f"route add {dst} dev {dev}{table}{tos}{metric}{extra}"
        elif kind == "onlink":
            gw = rng.choice(gw_candidates or [0x0A000001])
            cmd = f"route add {dst} via {ntoa(gw)} dev {dev} onlink{table}"
        elif kind == "default":
            gw = rng.choice(gw_candidates or [1])
            cmd = f"route add default via {ntoa(gw)}{table} metric {rng.randrange(1000)}"
        elif kind in ("local", "broadcast", "anycast"):
            cmd = f"route add {kind} {dst} dev {dev}{rng.choice(['', table])}"
        else:
            cmd = f"route add {kind} {dst}{table}{tos}{metric}"
        cmds.append(("h", cmd))
        prefixes.append((net, plen))
    for _ in range(rng.randint(2, 5)):
        # deletes and appends exercise the partial-match rules
        verb = rng.choice(["route del", "route append", "route prepend"])
        cmds.append(("h", rng.choice(cmds[-30:])[1].replace("route add", verb)))
    # policy rules
    prefs = sorted(rng.sample(range(100, 32000), 12))
    for pref in prefs:
        sel = ""
        if rng.random() < 0.4:
            pn, pp = rng.choice(prefixes)
            sel += f" from {ntoa(pn)}/{pp}"
        if rng.random() < 0.3:
            pn, pp = rng.choice(prefixes)
            sel += f" to {ntoa(pn)}/{pp}"
        if rng.random() < 0.25:
            sel += f" iif {rng.choice(devs + ['lo', 'nosuch'])}"
        if rng.random() < 0.2:
            sel += f" oif {rng.choice(devs)}"
        if rng.random() < 0.3:
            sel += rng.choice([" fwmark 7", " fwmark 0x10/0xf0", " fwmark 3/3"])
        if rng.random() < 0.15:
            sel += rng.choice([" tos 0x10", " tos 0x08"])
        if rng.random() < 0.1:
            sel = " not" + sel
        later = [p for p in prefs if p > pref] + [32766]
        action = rng.choices([f" lookup {rng.choice(['100', '200', 'main', 'default', '300'])}", " blackhole",
                              " unreachable", " prohibit", f" goto {rng.choice(later)}", " nop",
                              " lookup main suppress_prefixlength 0", " lookup 100 suppress_prefixlength 16"],
                             [10, 1, 1, 1, 2, 1, 2, 1])[0]
        cmds.append(("h", f"rule add pref {pref}{sel}{action}"))
    if rng.random() < 0.5:
        cmds.append(("h", "rule add from 10.0.0.0/8 lookup 100"))  # default priority
    return cmds, devs, locals_, prefixes, dev_prefixes


def build_lookups(seed: int, n: int, devs: list[str], locals_: list[int], prefixes: list[tuple[int, int]],
                  dev_prefixes: dict[str, list[tuple[int, int]]]) -> list[str]:
    """Random ``route get`` commands: destinations in known prefixes, local and broadcast addresses,
    specials; output lookups with and without ``from``/``oif``, input lookups from plausible sources."""
    rng = random.Random(seed * 7919)
    out = []
    specials = [0xFFFFFFFF, 0xE0000001, 0xE0000005, 0xEF010203, 0x7F000001, 0x7F000005, 0, 0x08080808]
    for _ in range(n):
        r = rng.random()
        if r < 0.55:
            net, plen = rng.choice(prefixes)
            dst = _prefix_hosts(rng, net, plen)
        elif r < 0.75 and locals_:
            dst = rng.choice(locals_)
        elif r < 0.85:
            net, plen = rng.choice(prefixes)
            dst = net | ((1 << (32 - plen)) - 1)
        else:
            dst = rng.choice(specials)
        cmd = f"route get {ntoa(dst)}"
        mode = rng.choices(["out", "in", "oif"], [5, 4, 1])[0]
        if mode == "in":
            iif = rng.choice(devs + devs + ["lo"])
            conn = dev_prefixes.get(iif) or prefixes
            src = rng.choices([_prefix_hosts(rng, *rng.choice(conn)), 0x0B000001, 0xC0A80001,
                               _prefix_hosts(rng, *rng.choice(prefixes)),
                               rng.choice(locals_) if locals_ else 1, 0x7F000001, 0],
                              [10, 3, 2, 3, 2, 1, 1])[0]
            cmd += f" from {ntoa(src)} iif {iif}"
        else:
            if rng.random() < 0.35:
                src = rng.choice(locals_ + [0x0B000001, 0xE0000001]) if locals_ else 0x0B000001
                cmd += f" from {ntoa(src)}"
            if mode == "oif":
                cmd += f" oif {rng.choice(devs)}"
        if rng.random() < 0.3:
            cmd += f" mark {rng.choice([7, 0x10, 0x13, 3, 0x25])}"
        if rng.random() < 0.15:
            cmd += f" tos {rng.choice(['0x10', '0x08', '0x14', '0xb8'])}"
        out.append(cmd)
    return out


def _ipv4_only(text: str) -> str:
    """Drop the kernel's IPv6 routes (tuxnet has no IPv6): IPv4 route lines never contain ':'."""
    return "".join(line for line in text.splitlines(keepends=True) if ":" not in line)


def _apply(side_ip: Callable[..., tuple[int, str]], cmds: list[tuple[str, str]], sink: object) -> list[str]:
    res = []
    for where, c in cmds:
        rc, out = side_ip(c, sink if where == "sink" else None)
        res.append(f"{where}: ip {c} -> rc={rc} {out}")
    return res


@pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")
@pytest.mark.parametrize("seed", SEEDS)
def test_route_get_matches_linux(seed: int) -> None:
    kernel = Kernel(f"tnd{os.getpid()}x{seed}")
    tux = Tux()
    try:
        cmds, devs, locals_, prefixes, dev_prefixes = build_scenario(seed)
        k_setup = _apply(kernel.ip, cmds, kernel.sink)
        t_setup = _apply(tux.ip, cmds, tux.sink)
        setup_diff = [f"kernel: {a}tuxnet: {b}" for a, b in zip(k_setup, t_setup, strict=True) if a != b]
        assert not setup_diff, "setup commands differ:\n" + "\n".join(setup_diff)
        for show in ("rule", "route show table all"):
            k = kernel.ip(show)[1]
            if show.startswith("route"):
                k = _ipv4_only(k)
            t = tux.ip(show)[1]
            assert k == t, f"`ip {show}` differs:\n--- kernel\n{k}--- tuxnet\n{t}"
        total = 0
        mismatches = []
        phases = [(0, 0), (1, 0), (1, 2), (1, 1)]
        for phase, (fwd, rpf) in enumerate(phases):
            for side in (kernel, tux):
                side.sysctl("net.ipv4.ip_forward", fwd)
                side.sysctl("net.ipv4.conf.all.rp_filter", rpf)
            lookups = build_lookups(seed * 10 + phase, LOOKUPS_PER_PHASE, devs, locals_, prefixes,
                                    dev_prefixes)
            k_ans = kernel.batch_get(lookups)
            t_ans = tux.batch_get(lookups)
            for c, a, b in zip(lookups, k_ans, t_ans, strict=True):
                total += 1
                if a != b:
                    mismatches.append(f"[fwd={fwd} rp_filter={rpf}] ip {c}\n  kernel: {a!r}\n"
                                      f"  tuxnet: {b!r}")
        agreement = 100.0 * (total - len(mismatches)) / total
        print(f"seed {seed}: {total} lookups, agreement {agreement:.2f}%")
        assert not mismatches, (f"{len(mismatches)}/{total} lookups differ ({agreement:.2f}% agree):\n"
                                + "\n".join(mismatches[:40]))
    finally:
        kernel.close()
