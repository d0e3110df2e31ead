"""The curl tool against tuxnet's HTTP server in the lab (curl 7.88.1's output conventions), and nc as
an echo client of inetd's echo service. Time is the lab's virtual clock."""

from __future__ import annotations

import hashlib
import io
import shlex

import pytest

from tuxnet.apps.http import HttpServer, pattern_sha256
from tuxnet.apps.inetd import start_tcp
from tuxnet.lab.lab import Lab
from tuxnet.tools import run_argv

SERVER = "10.0.0.2"


@pytest.fixture
def lab():
    lab = Lab(seed=5)
    lab.add_host("c")
    lab.add_host("s")
    lab.add_link("c", "eth0", "s", "eth0", impair_a={"delay": "5ms"})
    lab.node("c").cmd("ip addr add 10.0.0.1/24 dev eth0", check=True)
    lab.node("s").cmd(f"ip addr add {SERVER}/24 dev eth0", check=True)
    return lab


@pytest.fixture
def web(lab):
    srv = HttpServer(lab.host("s"), idle_timeout=5)
    lab.run_coro(srv.start())
    yield srv
    lab.run_coro(srv.close())


def curl(lab, line: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = lab.run_coro(run_argv(lab.host("c"), shlex.split(line), out, err), timeout=120)
    return rc, out.getvalue(), err.getvalue()


def test_body_to_stdout_and_status_line_formats(lab, web):
    assert curl(lab, f"curl -s http://{SERVER}/nothing") == (0, "Not Found\n", "")
    assert curl(lab, f"curl -s -o /dev/null -w '%{{http_code}}' http://{SERVER}/nothing") == (0, "404", "")
    rc, out, err = curl(lab, f"curl -sI http://{SERVER}/bytes/5")
    assert rc == 0 and out.startswith("HTTP/1.1 200 OK\r\n") and "Content-Length: 5\r\n" in out
    assert out.endswith("\r\n\r\n") and err == ""
    rc, out, _ = curl(lab, f"curl -si http://{SERVER}/bytes/3")
    assert rc == 0 and out.endswith("\r\n\r\n\x00\x01\x02")


def test_two_downloads_share_one_connection_to_files(lab, web, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    url = f"http://{SERVER}/bytes/1000000"
    fmt = "'%{http_code} %{size_download} %{num_connects}\\n'"
    rc, out, err = curl(lab, f"curl -s -o {a} -o {b} -w {fmt} {url} {url}")
    assert (rc, err) == (0, "")
    assert out.splitlines() == ["200 1000000 1", "200 1000000 0"]  # the second reused the connection
    assert web.connections == 1
    for f in (a, b):
        assert hashlib.sha256(f.read_bytes()).hexdigest() == pattern_sha256(1_000_000)


def test_write_out_variables_use_the_loop_clock(lab, web):
    rc, out, err = curl(lab, "curl -s -o /dev/null -w '%{remote_ip}:%{remote_port} %{http_version} "
                             "%{content_type} %{url_effective} %{exitcode} %{time_total} %% %{nope}\\n' "
                             f"http://{SERVER}/bytes/10")
    ip_port, ver, ctype, url, code, secs, pct = out.split()
    assert (rc, ip_port, ver, ctype, url, code, pct) == (
        0, f"{SERVER}:80", "1.1", "application/octet-stream", f"http://{SERVER}/bytes/10", "0", "%")
    # virtual time, 5 ms for each of: ARP, the handshake, the request, and the body segment that waits
    # (Nagle) for the ACK of the head
    assert secs == "0.020000"
    assert err == "curl: unknown --write-out variable: 'nope'\n"


def test_errors_and_exit_codes(lab, web):
    assert curl(lab, f"curl -s http://{SERVER}:81/") == (7, "", "")
    rc, out, err = curl(lab, f"curl -sS -w '%{{http_code}}\\n' http://{SERVER}:81/")
    assert (rc, out) == (7, "000\n")
    assert err == f"curl: (7) Failed to connect to {SERVER} port 81 after 5 ms: Couldn't connect to server\n"
    assert curl(lab, f"curl -sf http://{SERVER}/nothing") == (22, "", "")
    rc, _, err = curl(lab, f"curl -f http://{SERVER}/nothing")
    assert (rc, err) == (22, "curl: (22) The requested URL returned error: 404\n")
    assert curl(lab, "curl -s ftp://x/")[0] == 1
    assert curl(lab, "curl nosuchhost")[0:2] == (6, "")
    assert curl(lab, "curl")[0] == 2
    assert curl(lab, "curl --bogus x")[0] == 2


def test_max_time_counts_virtual_time(lab):
    lab.node("s").cmd("tc qdisc add dev eth0 root netem delay 3s", check=True)
    srv = HttpServer(lab.host("s"), idle_timeout=5)
    lab.run_coro(srv.start())
    t0 = lab.now
    rc, out, err = curl(lab, f"curl -m 2 -w '%{{http_code}}' http://{SERVER}/bytes/1")
    assert (rc, out) == (28, "000")
    assert err == "curl: (28) Operation timed out after 2000 milliseconds with 0 bytes received\n"
    assert lab.now - t0 == 2_000_000_000


def test_nc_is_an_echo_client(lab):
    lab.run_coro(start_tcp(lab.host("s"), "echo"))
    out, err = io.StringIO(), io.StringIO()
    rc = lab.run_coro(run_argv(lab.host("c"), ["nc", "-N", SERVER, "7", "--send", "hello", "--send", "world"],
                               out, err), timeout=30)
    assert (rc, out.getvalue(), err.getvalue()) == (0, "hello\nworld\n", "")
