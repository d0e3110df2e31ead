import pytest

from tuxnet.lab.topology import TopologyError, loads

GOOD = """\
name: t
topology:
  nodes:
    h1:
      kind: linux
      exec:
        - ip addr add 10.0.0.1/24 dev eth1
      sysctls:
        net.ipv4.ip_forward: 1
    h2: {kind: linux}
    sw: {kind: bridge}
  links:
    - endpoints: ["h1:eth1", "sw:p1"]
      mtu: 1400
      delay: 10ms
      loss: 1%
      queue: 50
    - endpoints: ["h2:eth1", "sw:p2"]
"""


def test_good_file_parses_with_impairments():
    t = loads(GOOD, "t.yml")
    assert list(t.nodes) == ["h1", "h2", "sw"]
    assert t.nodes["h1"].exec == ["ip addr add 10.0.0.1/24 dev eth1"]
    assert t.nodes["h1"].sysctls == {"net.ipv4.ip_forward": "1"}
    assert t.nodes["sw"].kind == "bridge"
    l0 = t.links[0]
    assert (l0.a, l0.b, l0.mtu) == (("h1", "eth1"), ("sw", "p1"), 1400)
    assert l0.impair == {"delay": "10ms", "loss": "1%", "limit": 50}
    assert l0.line == 13


@pytest.mark.parametrize("text,line,words", [
    ("name: x\ntopology:\n  nodes:\n    h1: {kind: linux\n", 5, "YAML syntax error"),
    ("", 1, "empty"),
    ("name: x\n", 1, "missing 'topology'"),
    ("name: x\ntopology:\n  nodes:\n    h1: {kind: docker}\n", 4, "unsupported kind 'docker'"),
    ("name: x\ntopology:\n  nodes:\n    h1: {}\n  links:\n    - endpoints: [\"h1:eth0\", \"h9:eth0\"]\n",
     6, "unknown node 'h9'"),
    ("name: x\ntopology:\n  nodes:\n    h1: {}\n    h2: {}\n  links:\n    - endpoints: [\"h1:eth0\"]\n",
     7, "exactly two"),
    ("name: x\ntopology:\n  nodes:\n    h1: {}\n    h2: {}\n  links:\n"
     "    - endpoints: [\"h1:eth0\", \"h2:eth0\"]\n      mtu: 9\n", 8, "mtu 9"),
    ("name: x\ntopology:\n  nodes:\n    h1: {}\n    h2: {}\n  links:\n"
     "    - endpoints: [\"h1:eth0\", \"h2:eth0\"]\n    - endpoints: [\"h1:eth0\", \"h2:eth1\"]\n",
     8, "already used"),
    ("name: x\ntopology:\n  nodes:\n    h1: {colour: red}\n", 4, "unknown key 'colour'"),
    ("name: x\ntopology:\n  nodes:\n    h1:\n      exec: ls\n", 5, "'exec' must be a list"),
])
def test_broken_files_name_file_and_line(text, line, words):
    with pytest.raises(TopologyError) as ei:
        loads(text, "bad.yml")
    msg = str(ei.value)
    assert msg.startswith(f"bad.yml:{line}: "), msg
    assert words in msg
