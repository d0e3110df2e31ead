"""The services ``tuxnet live --serve`` offers (inetd's echo/discard/chargen/daytime, the HTTP server
and its client), checked in a two-host lab in virtual time: same code, no root, deterministic."""

from __future__ import annotations

import asyncio

import pytest

from tuxnet.apps.http import HttpServer, http_get, pattern_sha256
from tuxnet.apps.inetd import (
    CHARGEN_CYCLE,
    Inetd,
    chargen_line,
    daytime_line,
    set_wall_epoch,
    wall_time_ns,
)
from tuxnet.lab.lab import Lab
from tuxnet.socket import AF_INET, SOCK_DGRAM

SERVER = "10.0.0.2"


@pytest.fixture
def lab():
    lab = Lab(seed=3)
    lab.add_host("c")
    lab.add_host("s")
    lab.add_link("c", "eth0", "s", "eth0")
    lab.node("c").cmd("ip addr add 10.0.0.1/24 dev eth0", check=True)
    lab.node("s").cmd(f"ip addr add {SERVER}/24 dev eth0", check=True)
    return lab


def test_wall_clock_is_a_fixed_epoch_plus_virtual_time_in_the_lab(lab):
    s = lab.host("s")
    lab.run(61.5)
    assert wall_time_ns(s) == 1_767_225_600_000_000_000 + lab.now
    assert daytime_line(s) == b"Thu Jan  1 00:01:01 2026\r\n"
    set_wall_epoch(s, 0)  # what live mode does, with the host's time
    assert daytime_line(s) == b"Thu Jan  1 00:01:01 1970\r\n"


def test_chargen_pattern_is_rfc_864():
    assert chargen_line(0) == bytes(range(32, 104)) + b"\r\n"
    assert chargen_line(1)[:2] == b'!"' and chargen_line(94)[:2] == b"~ "
    assert chargen_line(95) == chargen_line(0)
    assert len(CHARGEN_CYCLE) == 95 * 74


def test_inetd_over_tcp(lab):
    c, s = lab.host("c"), lab.host("s")
    inetd = Inetd(s)
    lab.run_coro(inetd.start(["echo", "discard", "chargen", "daytime"]))

    async def go():
        r, w = await c.open_connection(SERVER, 7)
        data = bytes(range(256)) * 4000
        w.write(data)
        w.write_eof()
        echoed = await r.read()
        w.close()
        r, w = await c.open_connection(SERVER, 13)
        day = await r.read()
        w.close()
        r, w = await c.open_connection(SERVER, 19)
        stream = await r.readexactly(len(CHARGEN_CYCLE) * 3 + 10)
        w.close()
        r, w = await c.open_connection(SERVER, 9)
        w.write(b"x" * 100000)
        w.write_eof()
        nothing = await r.read()
        w.close()
        return data == echoed, day, stream, nothing

    same, day, stream, nothing = lab.run_coro(go(), timeout=60)
    assert same and nothing == b""
    assert day.endswith(b" 2026\r\n") and len(day) == 26
    assert stream == (CHARGEN_CYCLE * 4)[:len(stream)]
    lab.run_coro(inetd.close())
    assert not inetd.tcp and not inetd.udp


def test_inetd_over_udp_ignores_low_source_ports(lab):
    c, s = lab.host("c"), lab.host("s")
    inetd = Inetd(s)
    lab.run_coro(inetd.start(["echo"], tcp=False))
    assert set(inetd.udp) == {"echo"} and not inetd.tcp

    async def go():
        hi = c.socket(AF_INET, SOCK_DGRAM)
        lo = c.socket(AF_INET, SOCK_DGRAM)
        lo.bind(("0.0.0.0", 19))  # chargen's port: answering it could start an endless exchange
        await c.sock_sendto(lo, b"loop", (SERVER, 7))
        await c.sock_sendto(hi, b"hello", (SERVER, 7))
        got = await asyncio.wait_for(c.sock_recvfrom(hi, 100), 1)
        await asyncio.sleep(1)
        with pytest.raises(BlockingIOError):
            lo.recvfrom(100)
        return got

    assert lab.run_coro(go()) == (b"hello", (SERVER, 7))


async def raw_http(ns, request: bytes) -> bytes:
    r, w = await ns.open_connection(SERVER, 80)
    w.write(request)
    data = await r.read()  # until the server closes
    w.close()
    return data


@pytest.fixture
def web(lab):
    srv = HttpServer(lab.host("s"), idle_timeout=5)
    lab.run_coro(srv.start())
    yield srv
    lab.run_coro(srv.close())


def test_http_keep_alive_bytes_and_head(lab, web):
    c = lab.host("c")
    urls = [f"http://{SERVER}/bytes/{n}" for n in (0, 1, 200_000, 65536)]
    rs = lab.run_coro(http_get(c, urls), timeout=60)
    assert [r.status for r in rs] == [200] * 4
    assert [r.size for r in rs] == [0, 1, 200_000, 65536]
    assert [r.sha256 for r in rs] == [pattern_sha256(n) for n in (0, 1, 200_000, 65536)]
    assert rs[2].headers["content-type"] == "application/octet-stream"
    assert rs[0].headers["date"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert web.connections == 1 and web.requests == 4
    (h,) = lab.run_coro(http_get(c, [f"http://{SERVER}/bytes/12345"], method="HEAD"))
    assert h.status == 200 and h.headers["content-length"] == "12345" and h.size == 0


@pytest.mark.parametrize("request_,status,closes", [
    (b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404, False),
    (b"GET /bytes/12a HTTP/1.1\r\nHost: x\r\n\r\n", 404, False),
    (b"POST /bytes/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 405, False),
    (b"GET /bytes/1 HTTP/1.1\r\n\r\n", 400, True),  # HTTP/1.1 without Host
    (b"GARBAGE\r\n\r\n", 400, True),
    (b"GET /bytes/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501, True),
    (b"GET /bytes/1 HTTP/1.0\r\n\r\n", 200, True),  # 1.0 closes by default
    (b"GET /bytes/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, True),
    (b"GET /bytes/1 HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431, True),
])
def test_http_errors_and_connection_handling(lab, web, request_, status, closes):
    c = lab.host("c")
    data = lab.run_coro(raw_http(c, request_), timeout=30)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert (b"Connection: close" in head) == closes
    if status == 405:
        assert b"Allow: GET, HEAD" in head
    if status == 200:
        assert body == b"\x00"
    # a kept-alive connection is closed by the server only after its idle timeout (5 s here)
    assert lab.now >= (5e9 if not closes else 0)


@pytest.mark.slow
def test_http_streams_large_bodies_without_holding_them(lab, web):
    """20 MB are produced chunk by chunk: the peak memory stays well below the body's size."""
    import tracemalloc

    c = lab.host("c")
    tracemalloc.start()
    try:
        (r,) = lab.run_coro(http_get(c, [f"http://{SERVER}/bytes/20000000"]), timeout=600)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.size == 20_000_000 and r.sha256 == pattern_sha256(20_000_000)
    assert peak < 8 * 1024 * 1024  # far below the 20 MB body
