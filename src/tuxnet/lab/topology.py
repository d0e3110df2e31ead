"""Topology files in containerlab's shape, plus tuxnet's keys for impairments and sysctls.

    name: demo
    topology:
      nodes:
        h1:
          kind: linux            # a host: its own network namespace
          exec:                  # commands run in order once every link exists
            - ip addr add 10.0.1.2/24 dev eth1
          sysctls:               # tuxnet (and containerlab) key
            net.ipv4.ip_forward: 1
        sw1:
          kind: bridge           # a Linux bridge; each link to it adds a port
      links:
        - endpoints: ["h1:eth1", "sw1:p1"]
          mtu: 1500
          delay: 10ms            # tuxnet keys: netem on both ends' egress
          jitter: 1ms
          loss: 1%
          rate: 100mbit
          duplicate: 0.1%
          reorder: 5%
          corrupt: 0.1%
          queue: 1000

A broken file raises ``TopologyError`` whose message names the file and line, e.g.
``demo.yml:12: link endpoint "h9:eth1" names an unknown node "h9"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NODE_KINDS = ("linux", "bridge", "host")
NODE_KEYS = {"kind", "image", "exec", "sysctls", "mgmt-ipv4", "mgmt-ipv6", "labels", "env", "binds",
             "cmd", "startup-config", "group", "type", "ports"}
LINK_IMPAIR_KEYS = {"delay", "jitter", "loss", "rate", "duplicate", "reorder", "corrupt", "queue", "gap"}
LINK_KEYS = {"endpoints", "mtu", "type", "vars", "labels"} | LINK_IMPAIR_KEYS


class TopologyError(ValueError):
    """A topology file that cannot be built; the message names the file and line."""


@dataclass
class NodeSpec:
    name: str
    kind: str
    exec: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass
class LinkSpec:
    a: tuple[str, str]
    b: tuple[str, str]
    mtu: int = 1500
    impair: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass
class Topology:
    name: str
    nodes: dict[str, NodeSpec]
    links: list[LinkSpec]
    source: str = "<string>"


class _Node:
    """A YAML value with the line it came from."""

    __slots__ = ("value", "line")

    def __init__(self, value: Any, line: int) -> None:
        self.value = value
        self.line = line


def _convert(node: yaml.Node) -> _Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        d: dict[str, _Node] = {}
        for k, v in node.value:
            key = _convert(k)
            d[str(key.value)] = _convert(v)
        return _Node(d, line)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_convert(v) for v in node.value], line)
    # scalars: let PyYAML's safe constructor type them (int, float, bool, str)
    value = yaml.SafeLoader("").construct_object(node) if node.tag else node.value
    return _Node(value, line)


def _plain(n: _Node) -> Any:
    if isinstance(n.value, dict):
        return {k: _plain(v) for k, v in n.value.items()}
    if isinstance(n.value, list):
        return [_plain(v) for v in n.value]
    return n.value


def loads(text: str, source: str = "<string>") -> Topology:
    def fail(line: int, msg: str) -> TopologyError:
        return TopologyError(f"{source}:{line}: {msg}")

    try:
        root_node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(e, "problem", None) or str(e)
        raise fail(line, f"YAML syntax error: {problem}") from None
    if root_node is None:
        raise fail(1, "the file is empty")
    root = _convert(root_node)
    if not isinstance(root.value, dict):
        raise fail(root.line, "a topology file is a mapping with 'name' and 'topology'")
    name_n = root.value.get("name")
    name = str(name_n.value) if name_n is not None else Path(source).stem
    topo_n = root.value.get("topology")
    if topo_n is None or not isinstance(topo_n.value, dict):
        raise fail(topo_n.line if topo_n else root.line, "missing 'topology' mapping")
    nodes_n = topo_n.value.get("nodes")
    if nodes_n is None or not isinstance(nodes_n.value, dict) or not nodes_n.value:
        raise fail(nodes_n.line if nodes_n else topo_n.line, "'topology.nodes' must map node names to nodes")
    nodes: dict[str, NodeSpec] = {}
    for nname, nn in nodes_n.value.items():
        if not nname or len(nname) > 64 or any(c.isspace() or c in ":/" for c in nname):
            raise fail(nn.line, f"invalid node name {nname!r}")
        spec = nn.value if nn.value is not None else {}
        if not isinstance(spec, dict):
            raise fail(nn.line, f"node {nname!r} must be a mapping")
        for k, v in spec.items():
            if k not in NODE_KEYS:
                raise fail(v.line, f"node {nname!r}: unknown key {k!r}")
        kind = str(spec["kind"].value) if "kind" in spec else "linux"
        if kind not in NODE_KINDS:
            raise fail(spec["kind"].line, f"node {nname!r}: unsupported kind {kind!r} "
                                          f"(tuxnet runs {', '.join(NODE_KINDS)})")
        execs: list[str] = []
        if "exec" in spec:
            ev = spec["exec"]
            if not isinstance(ev.value, list) or not all(isinstance(x.value, str) for x in ev.value):
                raise fail(ev.line, f"node {nname!r}: 'exec' must be a list of commands")
            execs = [x.value for x in ev.value]
        sysctls: dict[str, str] = {}
        if "sysctls" in spec:
            sv = spec["sysctls"]
            if not isinstance(sv.value, dict):
                raise fail(sv.line, f"node {nname!r}: 'sysctls' must map keys to values")
            sysctls = {k: str(_plain(v)) for k, v in sv.value.items()}
        nodes[nname] = NodeSpec(nname, kind, execs, sysctls, nn.line)
    links: list[LinkSpec] = []
    links_n = topo_n.value.get("links")
    used: set[tuple[str, str]] = set()
    for ln in (links_n.value if links_n is not None and links_n.value else []):
        if not isinstance(ln.value, dict):
            raise fail(ln.line, "a link must be a mapping with 'endpoints'")
        for k, v in ln.value.items():
            if k not in LINK_KEYS:
                raise fail(v.line, f"link: unknown key {k!r}")
        ep = ln.value.get("endpoints")
        if ep is None or not isinstance(ep.value, list) or len(ep.value) != 2:
            raise fail(ep.line if ep else ln.line,
                       "a link needs 'endpoints' with exactly two \"node:interface\"")
        ends = []
        for e in ep.value:
            text = str(e.value)
            node, sep, ifname = text.partition(":")
            if not sep or not node or not ifname:
                raise fail(e.line, f"link endpoint {text!r} is not \"node:interface\"")
            if node not in nodes:
                raise fail(e.line, f"link endpoint {text!r} names an unknown node {node!r}")
            if len(ifname) > 15 or any(c.isspace() or c == "/" for c in ifname):
                raise fail(e.line, f"link endpoint {text!r}: invalid interface name {ifname!r}")
            if (node, ifname) in used:
                raise fail(e.line, f"link endpoint {text!r} is already used by another link")
            used.add((node, ifname))
            ends.append((node, ifname))
        mtu = 1500
        if "mtu" in ln.value:
            mv = ln.value["mtu"]
            if not isinstance(mv.value, int) or isinstance(mv.value, bool) or not 68 <= mv.value <= 65535:
                raise fail(mv.line, f"link mtu {mv.value!r} must be an integer from 68 to 65535")
            mtu = mv.value
        impair = {k: _plain(v) for k, v in ln.value.items() if k in LINK_IMPAIR_KEYS}
        if "queue" in impair:
            impair["limit"] = impair.pop("queue")
        links.append(LinkSpec(ends[0], ends[1], mtu, impair, ln.line))
    return Topology(name, nodes, links, source)


def load(path: str | Path) -> Topology:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise TopologyError(f"{p}: cannot read topology file: {e.strerror}") from None
    return loads(text, str(p))
