"""RFC 3168 ECN as Linux negotiates and marks it (tcp_ecn_create_request, tcp_ecn_send)."""

from __future__ import annotations

from tcpharness import Flow, Harness


def test_listener_answers_an_ecn_syn_and_marks_data_ect0():
    hs = Harness()  # net.ipv4.tcp_ecn defaults to 2: ECN when the peer asks for it
    lst = hs.listener(8080, 128)
    fl = Flow(hs, 40000, 8080)
    fl.send("SEW")
    synack = fl.recv()
    assert synack.flags == "SE.", synack
    assert synack.ip.tos & 3 == 0
    fl.iss_h = synack.seq
    fl.send(".")
    conn, _ = lst.accept()
    conn.setblocking(False)
    conn.send(b"x" * 100)
    hs.run(0.001)
    (data,) = hs.take()
    assert data.ip.tos & 3 == 2  # ECT(0)
    assert "E" not in data.flags and "W" not in data.flags
    # a pure ACK goes out Not-ECT
    fl.send("P.", b"y" * 10)
    hs.run(0.05)
    acks = hs.take()
    assert acks and all(a.ip.tos & 3 == 0 for a in acks)


def test_no_ecn_without_both_syn_flags():
    hs = Harness()
    lst = hs.listener(8080, 128)
    fl = Flow(hs, 40000, 8080)
    fl.send("SE")
    synack = fl.recv()
    assert synack.flags == "S.", synack
    fl.iss_h = synack.seq
    fl.send(".")
    conn, _ = lst.accept()
    conn.setblocking(False)
    conn.send(b"x" * 100)
    hs.run(0.001)
    (data,) = hs.take()
    assert data.ip.tos & 3 == 0
