"""The congestion control registry and socket-side calls behave as net/ipv4/tcp_cong.c."""

from __future__ import annotations

import errno
import os
import random

import pytest

from tuxnet.ipv4.tcp import cong
from tuxnet.ipv4.tcp.cong import (
    TCP_CONG_NON_RESTRICTED,
    CongState,
    TcpCaState,
    TcpCongestionOps,
    available,
    find,
    register_congestion_control,
    tcp_assign_congestion_control,
    tcp_get_allowed_congestion_control,
    tcp_get_available_congestion_control,
    tcp_init_congestion_control,
    tcp_set_allowed_congestion_control,
    tcp_set_ca_state,
    tcp_set_congestion_control,
    tcp_set_default_congestion_control,
    tcp_unregister_congestion_control,
)
from tuxnet.ipv4.tcp.cong.bbr import Bbr
from tuxnet.ipv4.tcp.cong.cubic import Bictcp

TCP_ESTABLISHED = 1


def _ssthresh(tp: object) -> int:
    return 2


def _undo(tp: object) -> int:
    return 2


def _avoid(tp: object, ack: int, acked: int) -> None:
    pass


@pytest.fixture
def scratch_ops():
    """Register test algorithms and always remove them again (the registry is process-wide)."""
    added: list[TcpCongestionOps] = []

    def add(ops: TcpCongestionOps) -> TcpCongestionOps:
        register_congestion_control(ops)
        added.append(ops)
        return ops

    yield add
    for ops in added:
        tcp_unregister_congestion_control(ops)


def established_sock(algo: str = "cubic") -> CongState:
    tp = CongState(rng=random.Random(1))
    tp.sk_state = TCP_ESTABLISHED
    tcp_assign_congestion_control(tp, algo)
    tcp_init_congestion_control(tp)
    return tp


def test_builtins_listed_in_registration_order():
    assert available()[:3] == ("reno", "cubic", "bbr")
    assert tcp_get_available_congestion_control().split() == list(available())
    assert find("cubic") is cong.cubic.cubictcp
    assert find("vegas") is None


@pytest.mark.parametrize(
    "missing",
    [
        {"ssthresh": None},
        {"undo_cwnd": None},
        {"cong_avoid": None},
    ],
)
def test_register_rejects_missing_required_ops(scratch_ops, missing):
    fields = {"ssthresh": _ssthresh, "undo_cwnd": _undo, "cong_avoid": _avoid} | missing
    with pytest.raises(OSError) as ei:
        scratch_ops(TcpCongestionOps("incomplete", **fields))
    assert ei.value.errno == errno.EINVAL
    assert "incomplete" not in available()


def test_register_accepts_cong_control_instead_of_cong_avoid(scratch_ops):
    scratch_ops(
        TcpCongestionOps("ctlonly", ssthresh=_ssthresh, undo_cwnd=_undo, cong_control=lambda *a: None)
    )
    assert available()[-1] == "ctlonly"


def test_register_rejects_duplicate_name(scratch_ops):
    scratch_ops(TcpCongestionOps("dupe", ssthresh=_ssthresh, undo_cwnd=_undo, cong_avoid=_avoid))
    with pytest.raises(OSError) as ei:
        scratch_ops(TcpCongestionOps("dupe", ssthresh=_ssthresh, undo_cwnd=_undo, cong_avoid=_avoid))
    assert ei.value.errno == errno.EEXIST
    with pytest.raises(OSError) as ei:
        register_congestion_control(
            TcpCongestionOps("cubic", ssthresh=_ssthresh, undo_cwnd=_undo, cong_avoid=_avoid)
        )
    assert ei.value.errno == errno.EEXIST
    assert available().count("cubic") == 1


def test_setsockopt_unknown_name_is_enoent():
    tp = established_sock()
    with pytest.raises(OSError) as ei:
        tcp_set_congestion_control(tp, "nosuchalgo")
    assert ei.value.errno == errno.ENOENT
    assert ei.value.strerror == os.strerror(errno.ENOENT)
    assert tp.icsk_ca_ops is find("cubic")


def test_setsockopt_name_is_cut_to_15_characters():
    tp = established_sock()
    tcp_set_congestion_control(tp, "reno\0garbage")
    assert tp.icsk_ca_ops is find("reno")
    with pytest.raises(OSError) as ei:
        tcp_set_congestion_control(tp, "cubic" + "x" * 20)
    assert ei.value.errno == errno.ENOENT


def test_setsockopt_restricted_algorithm_needs_cap_net_admin(scratch_ops):
    scratch_ops(TcpCongestionOps("restricted", ssthresh=_ssthresh, undo_cwnd=_undo, cong_avoid=_avoid))
    tp = established_sock()
    with pytest.raises(OSError) as ei:
        tcp_set_congestion_control(tp, "restricted", cap_net_admin=False)
    assert ei.value.errno == errno.EPERM
    assert tp.icsk_ca_ops is find("cubic")
    # A namespace allowed list overrides the flag; root may always switch.
    tcp_set_congestion_control(tp, "restricted", cap_net_admin=False, allowed=("reno", "restricted"))
    assert tp.icsk_ca_ops.name == "restricted"
    with pytest.raises(OSError) as ei:
        tcp_set_congestion_control(tp, "cubic", cap_net_admin=False, allowed=("reno",))
    assert ei.value.errno == errno.EPERM
    tcp_set_congestion_control(tp, "cubic")  # root (the default)
    assert tp.icsk_ca_ops is find("cubic")


def test_switch_reinitialises_private_state_only_when_connected():
    tp = established_sock("cubic")
    assert isinstance(tp.ca_priv, Bictcp)
    old_priv = tp.ca_priv
    tcp_set_congestion_control(tp, "cubic")  # same algorithm: no change
    assert tp.ca_priv is old_priv and tp.icsk_ca_setsockopt
    tp.snd_ssthresh = 50
    tcp_set_congestion_control(tp, "bbr")
    assert isinstance(tp.ca_priv, Bbr) and tp.icsk_ca_initialized
    assert tp.snd_ssthresh == cong.TCP_INFINITE_SSTHRESH  # bbr_init ran
    assert tp.sk_pacing_status == cong.SK_PACING_NEEDED

    closed = CongState()
    tcp_assign_congestion_control(closed, "reno")
    tcp_set_congestion_control(closed, "bbr")
    assert closed.icsk_ca_ops is find("bbr") and not closed.icsk_ca_initialized
    assert closed.sk_pacing_status == cong.SK_PACING_NONE


def test_route_locked_congestion_control_is_eperm():
    tp = established_sock()
    tp.icsk_ca_dst_locked = True
    with pytest.raises(OSError) as ei:
        tcp_set_congestion_control(tp, "reno")
    assert ei.value.errno == errno.EPERM


def test_assign_unknown_default_falls_back_to_reno():
    tp = CongState()
    tcp_assign_congestion_control(tp, "gone")
    assert tp.icsk_ca_ops is find("reno")


def test_allowed_and_default_lists():
    assert tcp_get_allowed_congestion_control(("bbr", "reno")) == "reno bbr"  # list order
    flagged = [n for n in available() if find(n).flags & TCP_CONG_NON_RESTRICTED]
    assert tcp_get_allowed_congestion_control() == " ".join(flagged)
    assert tcp_set_allowed_congestion_control("reno  cubic") == ("reno", "cubic")
    with pytest.raises(OSError) as ei:
        tcp_set_allowed_congestion_control("reno westwood")
    assert ei.value.errno == errno.ENOENT
    assert tcp_set_default_congestion_control("bbr") is find("bbr")
    with pytest.raises(OSError) as ei:
        tcp_set_default_congestion_control("westwood")
    assert ei.value.errno == errno.ENOENT


def test_set_ca_state_lets_the_algorithm_see_the_old_state(scratch_ops):
    seen: list[tuple[int, int]] = []

    def set_state(tp, new_state):
        seen.append((tp.icsk_ca_state, new_state))

    scratch_ops(
        TcpCongestionOps(
            "watcher", ssthresh=_ssthresh, undo_cwnd=_undo, cong_avoid=_avoid, set_state=set_state
        )
    )
    tp = established_sock("watcher")
    tcp_set_ca_state(tp, TcpCaState.TCP_CA_Recovery)
    tcp_set_ca_state(tp, TcpCaState.TCP_CA_Open)
    assert seen == [(TcpCaState.TCP_CA_Open, TcpCaState.TCP_CA_Recovery), (TcpCaState.TCP_CA_Recovery, 0)]
    assert tp.icsk_ca_state == TcpCaState.TCP_CA_Open
