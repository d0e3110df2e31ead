"""``%{ python }%`` events: TCP_INFO snapshots checked by the script's own Python (packetdrill code.c).

At each code event packetdrill takes ``getsockopt(TCP_INFO)`` of the socket under test and remembers
the snippet; when the script is over it writes one Python program (for each snippet: the symbolic
constants, ``tcpi_*`` variables of its snapshot, then the snippet) and runs it. Here the program runs
in-process, in one namespace shared by all snippets, with the same variables. A snippet that raises
fails the script at its line with ``error in Python code: <exception>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuxnet.ipv4.tcp.tcp_sockopt import tcp_get_info
from tuxnet.tools.packetdrill.errors import ScriptFailure

# write_symbols(): tcpi_state and tcpi_ca_state names, tcpi_options bits
SYMBOLS = {
    "TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4, "TCP_FIN_WAIT2": 5,
    "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8, "TCP_LAST_ACK": 9, "TCP_LISTEN": 10,
    "TCP_CLOSING": 11, "TCP_CA_Open": 0, "TCP_CA_Disorder": 1, "TCP_CA_CWR": 2, "TCP_CA_Recovery": 3,
    "TCP_CA_Loss": 4, "TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_WSCALE": 4, "TCPI_OPT_ECN": 8,
    "TCPI_OPT_SYN_DATA": 32,
}


@dataclass(slots=True)
class Fragment:
    path: str
    line: int
    code: str
    variables: dict[str, int]


def snapshot(sock: Any) -> dict[str, int]:
    """The variables write_tcp_info() emits for a socket's TCP_INFO."""
    info = tcp_get_info(sock.sk)
    out = dict(info)
    wscale = info.get("tcpi_wscale", 0)
    out["tcpi_snd_wscale"] = wscale & 0xF
    out["tcpi_rcv_wscale"] = wscale >> 4
    out["tcpi_delivery_rate_app_limited"] = info.get("tcpi_flags", 0) & 1
    return out


def execute(fragments: list[Fragment]) -> None:
    """Run every snippet in order in one namespace; the first exception fails the script."""
    namespace: dict[str, Any] = {"__name__": "packetdrill_code"}
    for frag in fragments:
        namespace.update(SYMBOLS)
        namespace.update(frag.variables)
        namespace["_file"], namespace["_line"] = frag.path, frag.line
        try:
            exec(compile(frag.code + "\n", f"{frag.path}:{frag.line}", "exec"), namespace)
        except Exception as e:  # the script's own code: any exception is its verdict
            text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            raise ScriptFailure(frag.line, f"error in Python code: {text}") from None
