"""nstat(8): increments since the last run, absolute values, zeros, patterns, the gauges it skips."""

from __future__ import annotations

from tuxnet.lab.lab import Lab
from tuxnet.tools import run_command


def test_increments_absolute_and_patterns():
    ns = Lab(1).add_host("h")
    rc, text = run_command(ns, "nstat")
    assert rc == 0 and text.startswith("#kernel\n")
    ns.mib.tcpext.TCPFastOpenPassive += 3
    ns.mib.ip.InReceives += 1
    rc, text = run_command(ns, "nstat")
    assert text == ("#kernel\n"
                    f"{'IpInReceives':<32}{1:<16}{0.0:6.1f}\n"
                    f"{'TcpExtTCPFastOpenPassive':<32}{3:<16}{0.0:6.1f}\n")
    # nothing new since the last run
    assert run_command(ns, "nstat")[1] == "#kernel\n"
    # -a: absolute values, with the gauges nstat never shows as increments
    text = run_command(ns, "nstat -a TcpExtTCPFastOpen* IpDefaultTTL")[1]
    assert text.splitlines()[1:] == [f"{'IpDefaultTTL':<32}{64:<16}{0.0:6.1f}",
                                     f"{'TcpExtTCPFastOpenPassive':<32}{3:<16}{0.0:6.1f}"]
    assert "TcpExtTCPFastOpenActive " in run_command(ns, "nstat -az TcpExtTCPFastOpen*")[1]
    assert run_command(ns, "nstat -x")[0] == 255
