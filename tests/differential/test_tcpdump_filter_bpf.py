"""Differential test at scale: tcpdump's compiled BPF program against tuxnet's filter.

``tcpdump -ddd EXPR`` prints the (optimised) classic-BPF program libpcap builds; a small BPF
interpreter here runs it the way libpcap's bpf_filter() does (a read past the captured bytes or
a division by zero rejects the packet, shifts by 32 or more give 0), and every expression must
give the same verdict as ``compile_filter`` on thousands of frames: the capture of
test_tcpdump_filter plus seeded random mutations of it (truncations, flipped header bytes,
other ether types, IP header lengths and fragment offsets).  A second test does the same for
randomly generated expressions, comparing refusals too.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess

import pytest
from test_tcpdump_filter import EXPRESSIONS, corpus

from tuxnet.tools.pcap_filter import FilterSyntaxError, compile_filter

TCPDUMP = shutil.which("tcpdump")
pytestmark = [
    pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed (apt-get install tcpdump)"),
    pytest.mark.slow,
]
M32 = 0xFFFFFFFF


def bpf_program(expr: str, pcap: str, optimize: bool = True) -> list[tuple[int, int, int, int]] | str:
    opts = ["-ddd"] if optimize else ["-O", "-ddd"]
    r = subprocess.run([TCPDUMP, *opts, "-r", pcap, "--", expr], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        msg = [ln for ln in r.stderr.splitlines() if ln.startswith("tcpdump: ")]
        return msg[0][len("tcpdump: "):] if msg else r.stderr
    lines = r.stdout.split("\n")
    count = int(lines[0])
    prog = [tuple(int(x) for x in ln.split()) for ln in lines[1:1 + count]]
    return prog  # type: ignore[return-value]


def bpf_run(prog: list[tuple[int, int, int, int]], p: bytes, wirelen: int) -> bool:
    """libpcap's bpf_filter() for the instructions tcpdump emits."""
    a = x = 0
    mem = [0] * 16
    n = len(p)
    pc = 0
    while True:
        code, jt, jf, k = prog[pc]
        pc += 1
        cls = code & 0x07
        if cls in (0, 1):  # LD, LDX
            mode = code & 0xE0
            size = {0x00: 4, 0x08: 2, 0x10: 1}[code & 0x18]
            if mode == 0x00:
                v = k
            elif mode == 0x80:
                v = wirelen
            elif mode == 0x60:
                v = mem[k]
            elif mode in (0x20, 0x40):
                off = k + (x if mode == 0x40 else 0)
                if off + size > n:
                    return False
                v = int.from_bytes(p[off:off + size], "big")
            elif mode == 0xA0:  # ldxb 4*([k]&0xf)
                if k >= n:
                    return False
                v = (p[k] & 0xF) << 2
            else:
                raise AssertionError(code)
            if cls == 0:
                a = v
            else:
                x = v
        elif cls == 2:
            mem[k] = a
        elif cls == 3:
            mem[k] = x
        elif cls == 4:  # ALU
            op = code & 0xF0
            src = x if code & 0x08 else k
            if op == 0x00:
                a = (a + src) & M32
            elif op == 0x10:
                a = (a - src) & M32
            elif op == 0x20:
                a = (a * src) & M32
            elif op == 0x30:
                if src == 0:
                    return False
                a //= src
            elif op == 0x90:
                if src == 0:
                    return False
                a %= src
            elif op == 0x40:
                a |= src
            elif op == 0x50:
                a &= src
            elif op == 0xA0:
                a ^= src
            elif op == 0x60:
                a = (a << src) & M32 if src < 32 else 0
            elif op == 0x70:
                a = a >> src if src < 32 else 0
            elif op == 0x80:
                a = (-a) & M32
            else:
                raise AssertionError(code)
        elif cls == 5:  # JMP
            op = code & 0xF0
            src = x if code & 0x08 else k
            if op == 0x00:
                pc += k
                continue
            cond = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: (a & src) != 0}[op]
            pc += jt if cond else jf
        elif cls == 6:  # RET
            return bool(a if code & 0x18 == 0x10 else k)
        else:  # MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x


def mutations(frames: list[bytes], per_frame: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = list(frames)
    for fr in frames:
        for _ in range(per_frame):
            b = bytearray(fr)
            choice = rng.randrange(7)
            if choice == 0 and len(b) > 1:
                b = b[: rng.randrange(len(b))]
            elif choice == 1 and len(b) > 14:
                b[12:14] = rng.choice([b"\x08\x00", b"\x08\x06", b"\x86\xdd", b"\x81\x00", b"\x80\x35",
                                        b"\x00\x40", b"\x05\xdc", b"\x88\xa8"])
            elif choice == 2 and len(b) > 20:
                b[14] = (b[14] & 0xF0) | rng.choice([0, 1, 4, 5, 6, 15])
            elif choice == 3 and len(b) > 22:
                b[20:22] = rng.choice([b"\x00\x00", b"\x20\x00", b"\x00\x01", b"\x1f\xff", b"\x40\x00"])
            elif choice == 4 and len(b) > 24:
                b[23] = rng.choice([1, 2, 6, 17, 44, 58, 132, 0])
            for _ in range(rng.randrange(3)):
                if b:
                    b[rng.randrange(min(len(b), 70))] = rng.randrange(256)
            out.append(bytes(b))
    return out


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return mutations(corpus(), per_frame=40, seed=20240601)


@pytest.fixture(scope="module")
def pcap_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    from test_tcpdump_filter import write_pcap

    path = tmp_path_factory.mktemp("bpf") / "one.pcap"
    write_pcap(path, corpus()[:1])
    return str(path)


def check(expr: str, pcap: str, frames: list[bytes]) -> None:
    """Same refusal as tcpdump, else the same verdict as libpcap's unoptimised program on every
    frame, and as the optimised one wherever the optimiser itself kept the verdict.

    libpcap's optimiser may reorder tests on the same field (or_pullup/and_pullup), which changes
    the verdict on a frame too short for a field read between them; the compiler keeps the
    order of the expression, so such frames follow the unoptimised program."""
    prog = bpf_program(expr, pcap)
    try:
        f = compile_filter(expr)
    except FilterSyntaxError as e:
        assert prog == str(e), f"{expr!r}: tcpdump gives {prog!r}, tuxnet refuses with {e}"
        return
    assert not isinstance(prog, str), f"{expr!r}: tcpdump refuses ({prog}), tuxnet compiles it"
    plain = bpf_program(expr, pcap, optimize=False)
    assert not isinstance(plain, str)
    bad = []
    for fr in frames:
        mine = f(fr)
        want = bpf_run(plain, fr, len(fr))
        opt = bpf_run(prog, fr, len(fr))
        if mine != want or (opt == want and mine != opt):
            bad.append((want, opt, fr.hex()))
    assert not bad, f"{expr!r}: {len(bad)} of {len(frames)} verdicts differ, first: {bad[:2]}"


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_bpf_verdicts(expr: str, pcap_path: str, frames: list[bytes]) -> None:
    check(expr, pcap_path, frames)


# -- random expressions ----------------------------------------------------------------------
PRIMS = [
    "ip", "arp", "tcp", "udp", "icmp", "ip6", "vlan", "vlan 100", "broadcast", "multicast",
    "ip multicast", "ip broadcast", "host 10.0.0.1", "host 10.0.0.2", "src host 10.0.0.1",
    "dst net 10.0.0.0/8", "net 192.168", "port 80", "port 53", "src port 40000", "tcp dst port 80",
    "udp port 53", "portrange 1-1024", "ether host 02:00:00:00:00:01", "ether src 02:00:00:00:00:02",
    "ether proto 0x0800", "ip proto 17", "less 60", "greater 100", "stp", "llc", "ipx",
    "ip6 host 2001:db8::1", "sctp", "icmp6", "ether dst ff:ff:ff:ff:ff:ff", "ip proto \\tcp",
]
IDS = ["10.0.0.1", "10.0.0.2", "192.168.1.7", "80", "53", "443", "(80 or 53)", "not 10.0.0.1"]
LOADS = ["ether[{}]", "ip[{}]", "tcp[{}]", "udp[{}]", "icmp[{}]", "arp[{}]", "ip[{}:2]", "tcp[{}:2]",
         "ether[{}:4]", "ip6[{}]"]
OPS = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]
RELS = ["=", "!=", "<", "<=", ">", ">=", "=="]


def rand_arith(rng: random.Random, depth: int) -> str:
    r = rng.random()
    if depth <= 0 or r < 0.3:
        return str(rng.choice([0, 1, 2, 3, 4, 6, 8, 13, 17, 0x45, 0xF, 0xF0, 255, 1024, 0x800]))
    if r < 0.6:
        index = rand_arith(rng, depth - 2) if rng.random() < 0.2 else rng.randrange(40)
        return rng.choice(LOADS).format(index)
    if r < 0.65:
        return "-" + rand_arith(rng, depth - 1)
    if r < 0.7:
        return "len"
    if r < 0.8:
        return f"({rand_arith(rng, depth - 1)} {rng.choice(OPS)} {rand_arith(rng, depth - 1)})"
    return f"{rand_arith(rng, depth - 1)} {rng.choice(OPS)} {rand_arith(rng, depth - 1)}"


def rand_expr(rng: random.Random, depth: int) -> str:
    r = rng.random()
    if depth <= 0 or r < 0.35:
        if rng.random() < 0.6:
            return rng.choice(PRIMS)
        return f"{rand_arith(rng, 3)} {rng.choice(RELS)} {rand_arith(rng, 3)}"
    if r < 0.45:
        return rng.choice(["not ", "!"]) + rand_expr(rng, depth - 1)
    if r < 0.55:
        return f"({rand_expr(rng, depth - 1)})"
    if r < 0.65:
        return f"{rand_expr(rng, depth - 1)} {rng.choice(['and', 'or', '&&', '||'])} {rng.choice(IDS)}"
    return f"{rand_expr(rng, depth - 1)} {rng.choice(['and', 'or', '&&', '||'])} {rand_expr(rng, depth - 1)}"


# PCAPFILTER_RANDOM=5000 checks more of them (about a minute with -n 8)
RANDOM_COUNT = int(os.environ.get("PCAPFILTER_RANDOM", "250"))
RANDOM_EXPRESSIONS = [rand_expr(random.Random(1000 + i), 4) for i in range(RANDOM_COUNT)]


@pytest.mark.parametrize("expr", RANDOM_EXPRESSIONS)
def test_random_expressions(expr: str, pcap_path: str, frames: list[bytes]) -> None:
    check(expr, pcap_path, frames[:: 3])
