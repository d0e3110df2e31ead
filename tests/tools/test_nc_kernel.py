"""nc against Debian's netcat-openbsd 1.219 on the same topology in network namespaces and in a
lab (test_ping_kernel.py): exit codes, stdout and stderr of clients and listeners, with ephemeral
port numbers masked. The real nc reads the text from stdin, tuxnet's from --send. Needs root,
iproute2 and netcat-openbsd."""

from __future__ import annotations

import os
import shutil

import pytest
from test_ping_kernel import KernelNet, lab_like_kernel, mask, tux_run, tux_start

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("nc") is None,
                       reason="needs root, iproute2 and netcat-openbsd to build network namespaces"),
]

# (listener on h2 or None, its stdin, client on h1, its stdin)
CASES = [
    ("timeout 5 nc -u -l -n -v 9999", "", "timeout 4.5 nc -u -n -v 10.0.2.2 9999", "hello\n"),
    ("timeout 3 nc -u -l 9999", "", "nc -u -q 0 10.0.2.2 9999", "one\ntwo\n"),
    ("nc -l -v -n 9999", "welcome\n", "nc -v -n -N 10.0.2.2 9999", "hello\n"),
    ("timeout 3 nc -l -k 8080", "", "nc -z -v 10.0.2.2 8079-8081", ""),
    ("timeout 5 nc -u -l 53", "", "nc -u -z -v 10.0.2.2 53", ""),
    (None, "", "nc -u -z -v -n 10.0.2.2 9999 53", ""),
    (None, "", "nc -z -v -n 10.0.2.2 80", ""),
    (None, "", "nc -v -n -w 1 10.0.1.99 80", ""),
    (None, "", "nc 10.0.2.2", ""),
    (None, "", "nc -z -l 5", ""),
    (None, "", "nc 10.0.2.2 99999", ""),
    (None, "", "nc 10.0.2.2 foo", ""),
    (None, "", "nc -w abc 10.0.2.2 5", ""),
    (None, "", "nc -s 10.9.9.9 10.0.2.2 80", ""),
    (None, "", "nc -x", ""),
]


def _send_args(text: str) -> str:
    return "".join(f" --send {line}" for line in text.splitlines())


@pytest.mark.parametrize(("server", "server_in", "client", "client_in"), CASES, ids=[c[2] for c in CASES])
def test_nc_matches_netcat_openbsd(server, server_in, client, client_in):
    with KernelNet() as net:
        srv = net.start("h2", server, server_in) if server else None
        real = net.run("h1", client, stdin=client_in)
        real_srv = None
        if srv is not None:
            out, err = srv.communicate(timeout=10)
            real_srv = (srv.returncode, out, err)
    lab = lab_like_kernel()
    task = tux_start(lab, "h2", server + _send_args(server_in)) if server else None
    ours = tux_run(lab, "h1", client + _send_args(client_in))
    assert ours[0] == real[0], (ours, real)
    assert mask(ours[1]) == mask(real[1]) and mask(ours[2]) == mask(real[2])
    if task is not None:
        lab.run(10)
        t, out, err = task
        assert t.done() and real_srv is not None
        assert (t.result(), mask(out.getvalue()), mask(err.getvalue())) == (
            real_srv[0], mask(real_srv[1]), mask(real_srv[2]))
