"""The flags and small records shared by the ACK and loss-recovery code (FLAG_*, REXMIT_*,
struct tcp_sacktag_state; the private definitions at the top of net/ipv4/tcp_input.c)."""

from __future__ import annotations

from typing import Any

FLAG_DATA = 0x01
FLAG_WIN_UPDATE = 0x02
FLAG_DATA_ACKED = 0x04
FLAG_RETRANS_DATA_ACKED = 0x08
FLAG_SYN_ACKED = 0x10
FLAG_DATA_SACKED = 0x20
FLAG_ECE = 0x40
FLAG_LOST_RETRANS = 0x80
FLAG_SLOWPATH = 0x100
FLAG_ORIG_SACK_ACKED = 0x200
FLAG_SND_UNA_ADVANCED = 0x400
FLAG_DSACKING_ACK = 0x800
FLAG_SET_XMIT_TIMER = 0x1000
FLAG_SACK_RENEGING = 0x2000
FLAG_UPDATE_TS_RECENT = 0x4000
FLAG_NO_CHALLENGE_ACK = 0x8000
FLAG_ACK_MAYBE_DELAYED = 0x10000
FLAG_DSACK_TLP = 0x20000

FLAG_ACKED = FLAG_DATA_ACKED | FLAG_SYN_ACKED
FLAG_NOT_DUP = FLAG_DATA | FLAG_WIN_UPDATE | FLAG_ACKED
FLAG_CA_ALERT = FLAG_DATA_SACKED | FLAG_ECE | FLAG_DSACKING_ACK
FLAG_FORWARD_PROGRESS = FLAG_ACKED | FLAG_DATA_SACKED

# tcp_ack() results below zero: the segment is dropped with this reason
ACK_TOO_OLD = -1
ACK_UNSENT_DATA = -2

REXMIT_NONE = 0
REXMIT_LOST = 1
REXMIT_NEW = 2

USEC_PER_SEC = 1_000_000


class SackTagState:
    """struct tcp_sacktag_state."""

    __slots__ = ("first_sackt", "last_sackt", "reord", "sack_delivered", "flag", "rate")

    def __init__(self, rate: Any) -> None:
        self.first_sackt = 0
        self.last_sackt = 0
        self.reord = 0
        self.sack_delivered = 0
        self.flag = 0
        self.rate = rate


def usecs_to_jiffies(us: int) -> int:
    return -(-us // 1000)


# CONFIG_HZ of the reference kernel (Linux 6.18 as built for the oracle host). tuxnet's own jiffies
# are milliseconds; a timer whose length Linux computes in jiffies from microseconds is rounded to
# the reference kernel's tick by ref_jiffies_ms so that it fires when Linux's would.
LINUX_HZ = 250


def ref_jiffies_ms(us: int, extra_jiffies: int = 0) -> int:
    """usecs_to_jiffies(us) + extra_jiffies at LINUX_HZ (rounding up), in milliseconds."""
    tick_us = 1_000_000 // LINUX_HZ
    return (-(-us // tick_us) + extra_jiffies) * tick_us // 1000
