"""Turn the filter's intermediate form into one Python function (compiled once).

The function evaluates the tests with Python's short-circuit ``and``/``or``/``not`` in the
order of libpcap's BPF blocks, reading the frame with ``p[i]`` and ``struct`` unpackers.  A read
past the end of the captured bytes (IndexError, struct.error) or a division by zero rejects the
packet, as the BPF interpreter returns 0 then, wherever the read sits in the expression.

``optimizer_refusal`` mirrors the parts of libpcap's optimizer that make tcpdump refuse an
expression: "expression rejects all packets" (``ip and arp``), found by threading tests decided
by the edges that dominate them (same value, same comparison) as optimize.c's opt_j/fold_edge
do, and a division, modulus or shift by a constant it folds (``ether[0] % (3 - 3)``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from .gencode import Node

__all__ = ["build", "optimizer_refusal", "python_source", "rejects_all"]

M32 = 0xFFFFFFFF
_HOIST_DEPTH = 24  # nesting kept in one Python expression before moving a part to a helper


class _Emitter:
    def __init__(self) -> None:
        self.helpers: list[str] = []

    # values --------------------------------------------------------------------------------
    def val(self, n: Node) -> str:
        tag = n[0]
        if tag in ("k", "kf"):
            return str(n[1])
        if tag == "len":
            return "L"
        if tag == "ld":
            _, size, base, k = n
            if base is None:
                off = str(k)
            elif base[0] in ("k", "kf"):
                off = str(base[1] + k)
            else:
                off = self.val(base) if k == 0 else f"{self.val(base)}+{k}"
            if size == 1:
                return f"p[{off}]"
            return f"{'_H' if size == 2 else '_I'}(p,{off})[0]"
        if tag == "msh":
            return f"((p[{n[1]}]&15)<<2)"
        if tag == "neg":
            return f"((-{self.val(n[1])})&{M32})"
        if tag == "alu":
            _, op, a, b = n
            x, y = self.val(a), self.val(b)
            if op in ("+", "-", "*"):
                return f"(({x}{op}{y})&{M32})"
            if op == "/":
                return f"({x}//{y})"
            if op == "<<":
                if b[0] in ("k", "kf") and b[1] < 32:
                    return f"(({x}<<{b[1]})&{M32})"
                return f"_lsh({x},{y})"
            return f"({x}{op}{y})"
        raise AssertionError(n)

    # booleans ------------------------------------------------------------------------------
    def boolean(self, n: Node) -> tuple[str, int]:
        tag = n[0]
        if tag == "true":
            return "True", 0
        if tag == "cmp":
            op, a, b = n[1], n[2], n[3]
            x, y = self.val(a), self.val(b)
            if op == "set":
                return f"({x}&{y})!=0", 1
            sym = {"eq": "==", "gt": ">", "ge": ">="}[op]
            return f"{x}{sym}{y}", 1
        if tag == "not":
            code, depth = self.boolean(n[1])
            return self._hoist(f"not ({code})", depth + 1)
        parts = []
        depth = 0
        for child in _flatten(n, tag):
            code, d = self.boolean(child)
            parts.append(f"({code})")
            depth = max(depth, d)
        return self._hoist(f" {tag} ".join(parts), depth + 1)

    def _hoist(self, code: str, depth: int) -> tuple[str, int]:
        if depth < _HOIST_DEPTH:
            return code, depth
        name = f"_f{len(self.helpers)}"
        self.helpers.append(f"def {name}(p, L):\n    return {code}\n")
        return f"{name}(p, L)", 1


def _flatten(n: Node, tag: str) -> list[Node]:
    out: list[Node] = []
    stack = [n]
    while stack:
        cur = stack.pop()
        if cur[0] == tag:
            stack.append(cur[2])
            stack.append(cur[1])
        else:
            out.append(cur)
    return out


def _lsh(a: int, b: int) -> int:
    return (a << b) & M32 if b < 32 else 0


def python_source(node: Node) -> str:
    """The source of ``_filter(p, wirelen=None) -> bool`` for ``node``."""
    em = _Emitter()
    code, _ = em.boolean(node)
    body = "".join(em.helpers)
    body += (
        "def _filter(p, wirelen=None):\n"
        "    L = len(p) if wirelen is None else wirelen\n"
        "    try:\n"
        f"        return bool({code})\n"
        "    except _REJECT:\n"
        "        return False\n"
    )
    return body


def build(node: Node, expr: str) -> Callable[..., bool]:
    src = python_source(node)
    namespace: dict[str, Any] = {
        "_H": struct.Struct(">H").unpack_from,
        "_I": struct.Struct(">I").unpack_from,
        "_lsh": _lsh,
        "_REJECT": (IndexError, struct.error, ZeroDivisionError),
    }
    exec(compile(src, f"<pcap filter {expr[:60]!r}>", "exec"), namespace)
    fn: Callable[..., bool] = namespace["_filter"]
    return fn


# -- what libpcap's optimizer refuses --------------------------------------------------------
# The tests become a graph of blocks like libpcap's (each with a true and a false successor, or
# accept/reject), then, as bpf_optimize() does: a jump whose outcome the edges dominating it
# decide (the same value compared the same way on every way in) is threaded past the test, and
# a test whose two successors end up the same is dropped; tests of two immediates are decided.
# The first pass finds the tests no packet reaches; then the arithmetic of the tests left is
# folded, refusing a division, modulus or shift by a constant it computes, and a folded test in
# the first block is decided too; a program reduced to "ret #0" is refused as "expression
# rejects all packets".
ACCEPT = "accept"
REJECT = "reject"


class _Block:
    __slots__ = ("test", "jt", "jf", "key", "operand", "known")

    def __init__(self, test: Node, jt: Any, jf: Any) -> None:
        self.test = test
        self.jt = jt
        self.jf = jf
        op, a, b = test[1], test[2], test[3]
        self.key, self.operand = (a, b[1]) if b[0] in ("k", "kf") else ((a, b), None)
        ka, kb = (test[4][1], test[4][2]) if len(test) > 4 else (None, None)
        if ka is None and a[0] in ("k", "kf"):
            ka = a[1]
        if kb is None and b[0] in ("k", "kf"):
            kb = b[1]
        self.known = None
        if ka is not None and kb is not None:
            self.known = {"eq": ka == kb, "gt": ka > kb, "ge": ka >= kb, "set": (ka & kb) != 0}[op]

    def immediates(self) -> bool:
        return self.test[2][0] == "k" and self.test[3][0] == "k"

    def fact(self, sense: bool) -> tuple[Any, ...]:
        return (self.key, self.test[1], self.operand, sense)


def _blocks(n: Node, t: Any, f: Any) -> Any:
    """The entry of ``n`` with ``t``/``f`` as where it goes when true/false."""
    tag = n[0]
    if tag == "true":
        return t
    if tag == "not":
        return _blocks(n[1], f, t)
    if tag == "and":
        return _blocks(n[1], _blocks(n[2], t, f), f)
    if tag == "or":
        return _blocks(n[1], t, _blocks(n[2], t, f))
    return _Block(n, t, f)


def _decide(b: _Block, facts: frozenset) -> bool | None:
    """fold_edge(): the outcome of ``b`` on an edge dominated by ``facts``, if known."""
    code = b.test[1]
    for fkey, fcode, fop, sense in facts:
        if fkey != b.key or fcode != code:
            continue
        if fop == b.operand:
            return bool(sense)
        if sense and code == "eq" and b.operand is not None and fop is not None:
            return False
    return None


def _order(root: Any) -> list[_Block]:
    """Blocks reachable from ``root``, each after all its predecessors."""
    seen: set[int] = set()
    post: list[_Block] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        b, done = stack.pop()
        if not isinstance(b, _Block):
            continue
        if done:
            post.append(b)
            continue
        if id(b) in seen:
            continue
        seen.add(id(b))
        stack.append((b, True))
        stack.append((b.jf, False))
        stack.append((b.jt, False))
    post.reverse()
    return post


def _optimize(root: Any, fold: bool) -> Any:
    """Thread jumps and drop undecided-but-useless tests until nothing changes; the new root."""
    for _ in range(10_000):
        changed = False
        while isinstance(root, _Block) and (
            root.jt is root.jf or (root.known is not None and (fold or root.immediates()))
        ):
            root = root.jt if (root.jt is root.jf or root.known) else root.jf
            changed = True
        order = _order(root)
        facts_in: dict[int, frozenset] = {}
        for b in order:
            facts = facts_in.get(id(b), frozenset()) if b is not root else frozenset()
            for sense in (True, False):
                edge = facts | {b.fact(sense)}
                target = b.jt if sense else b.jf
                hops = 0
                while isinstance(target, _Block) and hops < 1000:
                    hops += 1
                    if target.jt is target.jf:
                        nxt = target.jt
                    elif target.immediates() and target.known is not None:
                        nxt = target.jt if target.known else target.jf
                    else:
                        d = _decide(target, edge)
                        if d is None:
                            break
                        nxt = target.jt if d else target.jf
                    target = nxt
                if target is not (b.jt if sense else b.jf):
                    changed = True
                    if sense:
                        b.jt = target
                    else:
                        b.jf = target
                if isinstance(target, _Block):
                    prev = facts_in.get(id(target))
                    facts_in[id(target)] = edge if prev is None else prev & edge
        if not changed:
            return root
    return root


def optimizer_refusal(node: Node) -> str | None:
    """The message libpcap's optimizer gives for ``node``, or None if it compiles."""
    root = _optimize(_blocks(node, ACCEPT, REJECT), fold=False)
    for b in _order(root):
        if len(b.test) > 4 and b.test[4][0]:
            return str(b.test[4][0][0])
    root = _optimize(root, fold=True)
    if root is REJECT:
        return "expression rejects all packets"
    return None


def rejects_all(node: Node) -> bool:
    """True when no path through the tests can accept a packet."""
    return _optimize(_optimize(_blocks(node, ACCEPT, REJECT), fold=False), fold=True) is REJECT
