"""The TCP sender's chronographs (tcp_chrono_start/stop/set of net/ipv4/tcp_output.c and
tcp_get_info_chrono_stats of net/ipv4/tcp.c): how long the connection was busy sending, and how
much of that it was stalled by the peer's receive window or by its own send buffer.

Guarantees, as Linux 6.x:
- One chronograph runs at a time, the most interesting one: TCP_CHRONO_SNDBUF_LIMITED over
  TCP_CHRONO_RWND_LIMITED over TCP_CHRONO_BUSY. ``tcp_chrono_start`` switches only to a higher one;
  ``tcp_chrono_stop`` stops everything when both the write and retransmit queues are empty, else
  falls back to BUSY if the stopped one was running.
- Time is counted in jiffies (HZ = 1000) and reported in microseconds: ``tcpi_busy_time`` is the
  sum of all three, ``tcpi_rwnd_limited`` and ``tcpi_sndbuf_limited`` their own.
- Where they run: BUSY from the skb that makes the write queue non-empty (tcp_add_write_queue_tail)
  until everything is acknowledged (tcp_clean_rtx_queue) or purged; RWND_LIMITED while
  tcp_write_xmit stops at the receive window; SNDBUF_LIMITED from a transmit that emptied the
  write queue while the application waits for space (tcp_cwnd_validate, SOCK_NOSPACE) until
  tcp_check_space clears SOCK_NOSPACE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.ipv4.tcp.tcp_sock import U32

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpSock

TCP_CHRONO_UNSPEC = 0
TCP_CHRONO_BUSY = 1  # actively sending data (non-empty write queue)
TCP_CHRONO_RWND_LIMITED = 2  # stalled by an insufficient receive window
TCP_CHRONO_SNDBUF_LIMITED = 3  # stalled by an insufficient send buffer
USEC_PER_JIFFY = 1000  # USEC_PER_SEC / HZ


def tcp_chrono_set(tp: TcpSock, new: int) -> None:
    now = tp.jiffies()
    old = tp.chrono_type
    if old > TCP_CHRONO_UNSPEC:
        tp.chrono_stat[old - 1] += (now - tp.chrono_start) & U32
    tp.chrono_start = now
    tp.chrono_type = new


def tcp_chrono_start(tp: TcpSock, kind: int) -> None:
    """Start ``kind`` unless a more interesting chronograph already runs."""
    if kind > tp.chrono_type:
        tcp_chrono_set(tp, kind)


def tcp_chrono_stop(tp: TcpSock, kind: int) -> None:
    """``kind`` stopped: nothing runs once both queues are empty, else BUSY if ``kind`` was running."""
    if not tp.sk_write_queue and not tp.tcp_rtx_queue:
        tcp_chrono_set(tp, TCP_CHRONO_UNSPEC)
    elif kind == tp.chrono_type:
        tcp_chrono_set(tp, TCP_CHRONO_BUSY)


def tcp_add_write_queue_tail(tp: TcpSock, skb: object) -> None:
    """Queue ``skb`` for sending; the first one starts the BUSY chronograph."""
    wq = tp.sk_write_queue
    wq.append(skb)  # type: ignore[arg-type]
    if len(wq) == 1:
        tcp_chrono_start(tp, TCP_CHRONO_BUSY)


def tcp_get_info_chrono_stats(tp: TcpSock) -> tuple[int, int, int]:
    """(tcpi_busy_time, tcpi_rwnd_limited, tcpi_sndbuf_limited) in microseconds."""
    stats = [0, 0, 0]
    for i in (TCP_CHRONO_BUSY, TCP_CHRONO_RWND_LIMITED, TCP_CHRONO_SNDBUF_LIMITED):
        v = tp.chrono_stat[i - 1]
        if i == tp.chrono_type:
            v += (tp.jiffies() - tp.chrono_start) & U32
        stats[i - 1] = v * USEC_PER_JIFFY
    return sum(stats), stats[TCP_CHRONO_RWND_LIMITED - 1], stats[TCP_CHRONO_SNDBUF_LIMITED - 1]
