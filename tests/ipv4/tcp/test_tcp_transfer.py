"""End to end: bulk transfers between two hosts through a router with netem loss and delay
(integrity by SHA-256, with each congestion control), asyncio streams (echo, flow control, EOF,
errors) and the blocking socket coroutines."""

from __future__ import annotations

import asyncio
import errno
import hashlib

import pytest

from tuxnet.lab.lab import Lab
from tuxnet.socket import AF_INET, SOCK_STREAM
from tuxnet.tools import run_command
from tuxnet.wire.addr import ip_aton


def routed_lab(loss: str = "0%", delay: str = "5ms", seed: int = 7):
    """a (10.0.1.1) -- r -- b (10.0.2.2); netem on both directions of a's link."""
    lab = Lab(seed)
    a, r, b = lab.add_host("a"), lab.add_host("r"), lab.add_host("b")
    d1, d2 = lab.add_link(a, "eth0", r, "eth0", impair={"delay": delay, "loss": loss, "limit": 1000})
    d3, d4 = lab.add_link(r, "eth1", b, "eth0", impair={"delay": delay, "limit": 1000})
    a.devinet.add(d1, ip_aton("10.0.1.1"), 24)
    r.devinet.add(d2, ip_aton("10.0.1.254"), 24)
    r.devinet.add(d3, ip_aton("10.0.2.254"), 24)
    b.devinet.add(d4, ip_aton("10.0.2.2"), 24)
    r.sysctl.set("net.ipv4.ip_forward", "1")
    assert run_command(a, "ip route add default via 10.0.1.254")[0] == 0
    assert run_command(b, "ip route add default via 10.0.2.254")[0] == 0
    return lab, a, r, b


def payload(n: int) -> bytes:
    return hashlib.shake_256(b"tuxnet").digest(n)


async def hash_sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    h = hashlib.sha256()
    while True:
        d = await reader.read(1 << 16)
        if not d:
            break
        h.update(d)
    writer.write(h.hexdigest().encode())
    await writer.drain()
    writer.close()


@pytest.mark.parametrize("cc", ["cubic", "reno", "bbr"])
def test_two_megabytes_through_a_lossy_router_arrive_intact(cc):
    lab, a, r, b = routed_lab(loss="1%")
    a.sysctl.set("net.ipv4.tcp_congestion_control", cc)
    data = payload(2_000_000)

    async def main():
        srv = await b.start_server(hash_sink, port=5001)
        rd, w = await a.open_connection("10.0.2.2", 5001)
        w.write(data)
        await w.drain()
        w.write_eof()
        digest = await rd.read()
        w.close()
        srv.close()
        await srv.wait_closed()
        return digest.decode()

    assert lab.run_coro(main(), timeout=600) == hashlib.sha256(data).hexdigest()
    assert a.drops.by_reason  # netem really dropped something
    mib, ext = a.mib.tcp, a.mib.tcpext
    assert mib.RetransSegs > 0
    assert ext.TCPSackRecovery > 0  # losses were repaired by SACK recovery, not only by timeouts
    assert ext.TCPOrigDataSent >= 2_000_000 // 1448


def test_clean_path_fills_the_pipe_without_retransmissions():
    lab, a, r, b = routed_lab(loss="0%", delay="10ms")
    data = payload(1_000_000)

    async def main():
        srv = await b.start_server(hash_sink, port=5001)
        rd, w = await a.open_connection("10.0.2.2", 5001)
        t0 = lab.now
        w.write(data)
        await w.drain()
        w.write_eof()
        digest = await rd.read()
        srv.close()
        await srv.wait_closed()
        return digest.decode(), lab.now - t0

    digest, took = lab.run_coro(main(), timeout=60)
    assert digest == hashlib.sha256(data).hexdigest()
    assert a.mib.tcp.RetransSegs == 0
    # slow start from 10 segments over a 40 ms RTT: about 7 round trips for 1 MB
    assert 0.2e9 < took < 0.5e9


def test_stream_echo_round_trip_and_peer_addresses():
    lab, a, r, b = routed_lab()

    async def echo(reader, writer):
        while data := await reader.read(100):
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    async def main():
        srv = await b.start_server(echo, host="10.0.2.2", port=7)
        assert srv.sockets[0].getsockname() == ("10.0.2.2", 7)
        rd, w = await a.open_connection("10.0.2.2", 7)
        assert isinstance(rd, asyncio.StreamReader) and isinstance(w, asyncio.StreamWriter)
        assert w.get_extra_info("peername") == ("10.0.2.2", 7)
        out = []
        for word in (b"hello", b"tuxnet", b"tcp"):
            w.write(word)
            await w.drain()
            out.append(await rd.readexactly(len(word)))
        w.write_eof()
        assert await rd.read() == b""
        w.close()
        await w.wait_closed()
        srv.close()
        await srv.wait_closed()
        return out

    assert lab.run_coro(main(), timeout=30) == [b"HELLO", b"TUXNET", b"TCP"]


def test_stream_flow_control_closes_the_window_and_drain_waits():
    lab, a, r, b = routed_lab()
    got = bytearray()
    reading = asyncio.Event()

    async def slow(reader, writer):
        await reading.wait()
        while d := await reader.read(1 << 16):
            got.extend(d)
        writer.close()

    async def main():
        srv = await b.start_server(slow, port=9)
        rd, w = await a.open_connection("10.0.2.2", 9)
        data = payload(8_000_000)  # more than the sender's and receiver's buffers hold
        w.write(data)
        drain = asyncio.ensure_future(w.drain())
        await asyncio.sleep(5)
        # the receiver is not reading: its buffer filled, the window closed, the writer waits
        assert not drain.done()
        assert a.mib.tcpext.TCPWinProbe + b.mib.tcpext.TCPToZeroWindowAdv > 0
        reading.set()
        await drain
        w.close()
        await w.wait_closed()
        await asyncio.sleep(2)
        srv.close()
        await srv.wait_closed()
        return data

    data = lab.run_coro(main(), timeout=120)
    assert bytes(got) == data


def test_open_connection_refused():
    lab, a, r, b = routed_lab()

    async def main():
        try:
            await a.open_connection("10.0.2.2", 4444)
        except ConnectionRefusedError as e:
            return e.errno

    assert lab.run_coro(main(), timeout=10) == errno.ECONNREFUSED


def test_socket_coroutines_connect_accept_sendall_recv():
    lab, a, r, b = routed_lab()
    data = payload(300_000)

    async def server(lst):
        conn, addr = await b.sock_accept(lst)
        buf = bytearray()
        while chunk := await b.sock_recv(conn, 65536):
            buf.extend(chunk)
        await b.sock_sendall(conn, hashlib.sha256(buf).digest())
        conn.close()
        return addr

    async def main():
        lst = b.socket(AF_INET, SOCK_STREAM)
        lst.bind(("0.0.0.0", 80))
        lst.listen(8)
        task = asyncio.ensure_future(server(lst))
        c = a.socket(AF_INET, SOCK_STREAM)
        await a.sock_connect(c, ("10.0.2.2", 80))
        await a.sock_sendall(c, data)
        c.shutdown(1)
        digest = await a.sock_recv(c, 64)
        addr = await task
        c.close()
        lst.close()
        return digest, addr, c

    digest, addr, c = lab.run_coro(main(), timeout=60)
    assert digest == hashlib.sha256(data).digest()
    assert addr[0] == "10.0.1.1"


def test_nonblocking_calls_would_block():
    lab, a, r, b = routed_lab()
    lst = b.socket(AF_INET, SOCK_STREAM)
    lst.bind(("0.0.0.0", 80))
    lst.listen(8)
    lst.setblocking(False)
    with pytest.raises(BlockingIOError):
        lst.accept()
    c = a.socket(AF_INET, SOCK_STREAM)
    c.setblocking(False)
    with pytest.raises(BlockingIOError) as e:
        c.connect(("10.0.2.2", 80))
    assert e.value.errno == errno.EINPROGRESS
    lab.run(0.1)
    conn, _ = lst.accept()
    conn.setblocking(False)
    with pytest.raises(BlockingIOError):
        conn.recv(10)
    # fill the send buffer: the peer never reads
    sent = 0
    with pytest.raises(BlockingIOError):
        for _ in range(10_000):
            sent += c.send(bytes(65536))
            lab.run(0.01)
    assert sent > 0
