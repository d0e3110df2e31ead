"""/proc/net and /proc/sys of one namespace, rendered exactly as Linux prints them.

Files backed by other subsystems (``/proc/net/route``, ``arp``, ``udp``, ``tcp``, ``sockstat``) ask
those subsystems through small render functions they provide; a subsystem not present in a namespace
gives the file with its header only, as an empty table does in Linux.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from tuxnet.core.errors import oserror

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

# path -> renderer; subsystems add theirs with register_proc_file
_FILES: dict[str, Callable[[Namespace], str]] = {}


def register_proc_file(path: str, render: Callable[[Namespace], str]) -> None:
    if path in _FILES:
        raise ValueError(f"{path} is already registered")
    _FILES[path] = render


def _snmp_pair(name: str, items: list[tuple[str, int]]) -> str:
    return (f"{name}: " + " ".join(k for k, _ in items) + "\n"
            + f"{name}: " + " ".join(str(v) for _, v in items) + "\n")


def proc_net_snmp(ns: Namespace) -> str:
    """net/ipv4/proc.c snmp_seq_show."""
    m = ns.mib
    out = _snmp_pair("Ip", m.ip.items()) + _snmp_pair("Icmp", m.icmp.items())
    msgs = [(f"InType{t}", n) for t, n in sorted(m.icmpmsg_in.items()) if n]
    msgs += [(f"OutType{t}", n) for t, n in sorted(m.icmpmsg_out.items()) if n]
    if msgs:
        # Linux interleaves by type: InType0 InType3 OutType0 ... sorted by (type, in/out) -> it prints
        # all In then all Out within the same ICMP type ordering (icmpmsg_put).
        msgs.sort(key=lambda kv: (int(kv[0].split("Type")[1]), kv[0].startswith("Out")))
        out += _snmp_pair("IcmpMsg", msgs)
    out += _snmp_pair("Tcp", m.tcp.items()) + _snmp_pair("Udp", m.udp.items())
    out += _snmp_pair("UdpLite", m.udplite.items())
    return out


def proc_net_netstat(ns: Namespace) -> str:
    m = ns.mib
    return _snmp_pair("TcpExt", m.tcpext.items()) + _snmp_pair("IpExt", m.ipext.items())


def proc_net_dev(ns: Namespace) -> str:
    """net/core/net-procfs.c dev_seq_show."""
    lines = [
        "Inter-|   Receive                                                |  Transmit",
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo"
        " colls carrier compressed",
    ]
    for dev in sorted(ns.devices.values(), key=lambda d: d.ifindex):
        s = dev.stats
        rx_errors = s.rx_errors
        lines.append(
            f"{dev.name:>6}:{s.rx_bytes:8d} {s.rx_packets:7d} {rx_errors:4d} "
            f"{s.rx_dropped + s.rx_missed_errors:4d} {s.rx_fifo_errors:4d} "
            f"{s.rx_length_errors + s.rx_over_errors + s.rx_crc_errors + s.rx_frame_errors:5d} "
            f"{0:10d} {s.multicast:9d} {s.tx_bytes:8d} {s.tx_packets:7d} {s.tx_errors:4d} "
            f"{s.tx_dropped:4d} {s.tx_fifo_errors:4d} {s.collisions:5d} "
            f"{s.tx_carrier_errors + s.tx_aborted_errors + s.tx_window_errors + s.tx_heartbeat_errors:7d} "
            f"{0:10d}")
    return "\n".join(lines) + "\n"


def proc_net_dev_snmp_drops(ns: Namespace) -> str:
    """Not a Linux file: tuxnet's drop counters by reason (what dropwatch would total)."""
    items = sorted(ns.drops.by_reason.items(), key=lambda kv: kv[0].value)
    return "".join(f"{r.value} {n}\n" for r, n in items)


register_proc_file("/proc/net/snmp", proc_net_snmp)
register_proc_file("/proc/net/netstat", proc_net_netstat)
register_proc_file("/proc/net/dev", proc_net_dev)
register_proc_file("/proc/net/tuxnet_drops", proc_net_dev_snmp_drops)


def read_proc(ns: Namespace, path: str) -> str:
    """The text of a /proc file in this namespace; ENOENT as open(2) would give."""
    path = "/" + "/".join(p for p in path.split("/") if p)
    if path.startswith("/proc/sys/"):
        key = path[len("/proc/sys/"):].replace("/", ".")
        if key in ns.sysctl.v:
            return ns.sysctl.format(ns.sysctl.v[key]) + "\n"
        raise oserror(errno.ENOENT)
    render = _FILES.get(path)
    if render is None:
        _load_providers()
        render = _FILES.get(path)
    if render is None:
        raise oserror(errno.EISDIR if path in ("/proc", "/proc/net", "/proc/sys") else errno.ENOENT)
    return render(ns)


def write_proc(ns: Namespace, path: str, text: str) -> None:
    if not path.startswith("/proc/sys/"):
        raise oserror(errno.EACCES)
    ns.sysctl.set(path[len("/proc/sys/"):].replace("/", "."), text)


def list_proc_net() -> list[str]:
    _load_providers()
    return sorted(p for p in _FILES if p.startswith("/proc/net/"))


def _load_providers() -> None:
    """Subsystems that render /proc files register them at import; import the ones that exist."""
    import importlib

    for mod in ("tuxnet.ipv4.route", "tuxnet.ipv4.arp", "tuxnet.ipv4.udp", "tuxnet.ipv4.raw",
                "tuxnet.ipv4.tcp.proc", "tuxnet.socket", "tuxnet.ipv4.ip_fragment"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError:
            pass
