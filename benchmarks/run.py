"""tuxnet's benchmarks: scenario runs measured in wall time, printed as a table.

    ./run bench                 every scenario
    ./run bench forward ping    chosen scenarios
    ./run bench --json out.json also write the figures as JSON

Each scenario builds a lab, does real work through the whole stack, and reports figures (rates per
wall-second, ratios of virtual to wall time, memory). These are the project's speed figures; unit tests
are never timed. Benchmarks read the wall clock (time.perf_counter); the lab itself does not.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tuxnet.lab.lab import Lab
from tuxnet.socket import AF_INET, SOCK_DGRAM


def sh(lab: Lab, node: str, cmd: str) -> str:
    rc, out = lab.node(node).cmd_rc(cmd)
    if rc != 0:
        raise RuntimeError(f"{node}: {cmd!r} failed ({rc}): {out}")
    return out


def router_chain(n_routers: int = 3, *, impair: dict | None = None) -> Lab:
    """h1 -- r1 -- r2 -- ... -- rN -- h2, 10.0.K.0/24 per link, static routes both ways."""
    lab = Lab(seed=1)
    names = ["h1"] + [f"r{i}" for i in range(1, n_routers + 1)] + ["h2"]
    for n in names:
        lab.add_host(n)
    for k in range(len(names) - 1):
        lab.add_link(names[k], "eth1", names[k + 1], "eth0", impair=impair)
        sh(lab, names[k], f"ip addr add 10.0.{k}.1/24 dev eth1")
        sh(lab, names[k + 1], f"ip addr add 10.0.{k}.2/24 dev eth0")
    last = len(names) - 2
    for i, n in enumerate(names):
        if n.startswith("r"):
            sh(lab, n, "sysctl -w net.ipv4.ip_forward=1")
        # everything left of node i is reached via 10.0.(i-1).1, right of it via 10.0.i.2
        for k in range(len(names) - 1):
            if k < i - 1:
                sh(lab, n, f"ip route add 10.0.{k}.0/24 via 10.0.{i - 1}.1")
            elif k > i:
                sh(lab, n, f"ip route add 10.0.{k}.0/24 via 10.0.{i}.2")
    assert last >= 0
    return lab


def bench_forward(packets: int = 30000, payload: int = 64) -> dict[str, float]:
    """UDP datagrams forwarded per wall-second through a chain of 3 routers (h1 -> r1 -> r2 -> r3 -> h2)."""
    lab = router_chain(3)
    h1, h2 = lab.host("h1"), lab.host("h2")
    dst_ip = "10.0.3.2"
    rx = h2.socket(AF_INET, SOCK_DGRAM)
    rx.bind(("0.0.0.0", 9000))
    rx.setblocking(False)
    tx = h1.socket(AF_INET, SOCK_DGRAM)
    data = bytes(payload)
    # warm up: ARP everywhere, route caches
    tx.sendto(data, (dst_ip, 9000))
    lab.run(1)
    while True:
        try:
            rx.recvfrom(2048)
        except BlockingIOError:
            break
    got = 0
    batch = 200
    t0 = time.perf_counter()
    sent = 0
    while sent < packets:
        for _ in range(min(batch, packets - sent)):
            tx.sendto(data, (dst_ip, 9000))
            sent += 1
        lab.loop.run_until_idle(lab.loop.now_ns + 1_000_000)
        while True:
            try:
                rx.recvfrom(2048)
                got += 1
            except BlockingIOError:
                break
    wall = time.perf_counter() - t0
    fwd = sum(lab.host(r).mib.ip.ForwDatagrams for r in ("r1", "r2", "r3"))
    return {"datagrams sent": sent, "datagrams received": got, "forwarded (sum over routers)": fwd,
            "wall s": round(wall, 3), "end-to-end datagrams per wall-s": round(got / wall),
            "router forwards per wall-s": round(fwd / wall)}


def bench_ping_flood(seconds: float = 20.0) -> dict[str, float]:
    """Virtual seconds per wall-second for a ping flood (ping -f) over 2 links with 1 ms delay each."""
    lab = router_chain(1, impair={"delay": "1ms"})
    t0 = time.perf_counter()
    v0 = lab.now
    rc, out = lab.node("h1").cmd_rc(f"timeout {seconds:g} ping -f -q 10.0.1.2")
    if rc != 124:  # timeout(1) ends the flood: 124 is the expected status
        raise RuntimeError(f"ping flood ended with {rc}: {out}")
    wall = time.perf_counter() - t0
    virt = (lab.now - v0) / 1e9
    sent = recv = 0
    for line in out.splitlines():
        if "packets transmitted" in line:
            parts = line.split(",")
            sent = int(parts[0].split()[0])
            recv = int(parts[1].split()[0])
    return {"virtual s": round(virt, 3), "wall s": round(wall, 3),
            "virtual s per wall-s": round(virt / wall, 2), "echo requests": sent, "echo replies": recv,
            "pings per wall-s": round(recv / wall)}


SCENARIOS: dict[str, Callable[[], dict[str, float]]] = {
    "forward": bench_forward,
    "ping": bench_ping_flood,
}


def _extra_scenarios() -> None:
    """Scenarios in other files of this folder register themselves (bench_*.py with SCENARIOS)."""
    here = Path(__file__).resolve().parent
    for f in sorted(here.glob("bench_*.py")):
        mod = importlib.import_module(f.stem)
        for name, fn in getattr(mod, "SCENARIOS", {}).items():
            SCENARIOS.setdefault(name, fn)


def main(argv: list[str] | None = None) -> int:
    _extra_scenarios()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    names = args.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)}")
    results: dict[str, dict[str, float]] = {}
    for name in names:
        try:
            results[name] = SCENARIOS[name]()
        except Exception as e:  # a broken scenario is reported, the others still run
            results[name] = {"error": f"{type(e).__name__}: {e}"}  # type: ignore[dict-item]
        print(f"== {name}: {(SCENARIOS[name].__doc__ or '').strip().splitlines()[0]}")
        for k, v in results[name].items():
            print(f"   {k:<40} {v}")
        sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
