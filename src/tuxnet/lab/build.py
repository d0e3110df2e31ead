"""Build a running lab from a topology: nodes, links, impairments, sysctls, then each node's exec.

Order mirrors containerlab's deploy: create every node, wire every link (veth pairs, both ends up;
bridge nodes get a Linux bridge named after the node with each link's end as a port), apply the nodes'
sysctls, then run the ``exec`` lists node by node in file order. A failing exec command stops the
build with ``BuildError`` naming the node, the command and its output.
"""

from __future__ import annotations

from tuxnet.lab.lab import Lab
from tuxnet.lab.topology import Topology, TopologyError


class BuildError(RuntimeError):
    pass


def build(topo: Topology, *, seed: int = 0, run_exec: bool = True) -> Lab:
    lab = Lab(seed=seed, name=topo.name)
    bridges = {}
    for spec in topo.nodes.values():
        ns = lab.add_host(spec.name, kind=spec.kind)
        if spec.kind == "bridge":
            from tuxnet.bridge.bridge import create_bridge

            br = create_bridge(ns, spec.name[:15])
            br.open()
            bridges[spec.name] = br
    for link in topo.links:
        (na, ia), (nb, ib) = link.a, link.b
        try:
            da, db = lab.add_link(na, ia, nb, ib, mtu=link.mtu, impair=link.impair or None)
        except (ValueError, OSError) as e:
            raise TopologyError(f"{topo.source}:{link.line}: link {na}:{ia} - {nb}:{ib}: {e}") from None
        for node, dev in ((na, da), (nb, db)):
            if node in bridges:
                bridges[node].add_port(dev)
    for spec in topo.nodes.values():
        ns = lab.host(spec.name)
        for key, value in spec.sysctls.items():
            try:
                ns.sysctl.set(key.replace("/", "."), value)
            except OSError as e:
                raise TopologyError(f"{topo.source}:{spec.line}: node {spec.name!r}: sysctl {key}: "
                                    f"{e.strerror}") from None
    if run_exec:
        for spec in topo.nodes.values():
            node = lab.node(spec.name)
            for cmd in spec.exec:
                rc, out = node.cmd_rc(cmd)
                if rc != 0:
                    raise BuildError(f"{topo.source}: node {spec.name!r}: exec {cmd!r} failed "
                                     f"(exit {rc}):\n{out}")
    return lab
