"""tcpdump's filter language (pcap-filter(7)) compiled to a Python predicate over Ethernet frames.

``compile_filter("tcp port 80")`` returns ``f(frame: bytes, wirelen: int | None = None) -> bool``
matching exactly the frames libpcap 1.10's BPF code for DLT_EN10MB matches: same qualifiers and
defaults (``port`` covers TCP, UDP and SCTP over IPv4 and IPv6; ``host`` covers IPv4, ARP and
RARP addresses; transport fields are read from first fragments only), same arithmetic (32-bit
unsigned), and the same rejection of a frame whenever a test reads past its captured end.
Malformed expressions raise :class:`FilterSyntaxError` with libpcap's message.

Modules: ``lexer`` (scanner.l), ``grammar`` (grammar.y), ``gencode`` (gencode.c),
``codegen`` (Python source generation and the "rejects all packets" check of optimize.c),
``names`` (services, protocols and ether types tables).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from . import codegen, grammar
from .errors import FilterSyntaxError
from .gencode import Gen, Node
from .lexer import tokenize

__all__ = ["FilterSyntaxError", "compile_filter", "filter_source"]

Resolver = Callable[[str], Iterable[str]]


def _compile_ir(expr: str, netmask: int, resolve_host: Resolver | None) -> Node:
    gen = Gen(netmask=netmask, resolve_host=(lambda n: list(resolve_host(n))) if resolve_host else None)
    node = grammar.parse(tokenize(expr), gen)
    try:
        refusal = codegen.optimizer_refusal(node)
    except RecursionError:
        refusal = None
    if refusal:
        raise FilterSyntaxError(refusal)
    return node


def compile_filter(expr: str, *, netmask: int = 0,
                   resolve_host: Resolver | None = None) -> Callable[..., bool]:
    """Compile a pcap-filter(7) expression for Ethernet (EN10MB) frames.

    ``netmask`` is the capture interface's IPv4 netmask (``ip broadcast`` tests the host part),
    0 like tcpdump uses when it has none.  ``resolve_host(name)`` returns the addresses of a host
    name (``host h1``); without it every name is an ``unknown host``.

    The returned function takes the captured bytes and optionally the frame's length on the wire
    (``len``, ``less``, ``greater``; the captured length by default).
    """
    node = _compile_ir(expr, netmask, resolve_host)
    try:
        return codegen.build(node, expr)
    except (RecursionError, MemoryError, SyntaxError) as e:
        raise FilterSyntaxError("expression too complex") from e


def filter_source(expr: str, *, netmask: int = 0, resolve_host: Resolver | None = None) -> str:
    """The Python source ``compile_filter`` builds for ``expr`` (for debugging and ``-d``)."""
    return codegen.python_source(_compile_ir(expr, netmask, resolve_host))
