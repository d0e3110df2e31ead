"""nstat(8) (iproute2 misc/nstat.c): the SNMP and netstat counters of the namespace, as increments
since the previous run (its history file) or, with -a, absolute values.

Guarantees: counters are read from /proc/net/snmp then /proc/net/netstat (``IpInReceives``,
``TcpExtOutOfWindowIcmps`` ...), printed as ``"%-32s%-16llu%6.1f"`` under ``#kernel``; zero values
are left out unless -z; the gauges nstat ignores (IpForwarding, IpDefaultTTL, TcpRtoAlgorithm,
TcpRtoMin, TcpRtoMax, TcpMaxConn, TcpCurrEstab) are never shown as increments; -n updates the
history without output, -s prints without updating it, -r resets it; trailing PATTERNs (shell
globs) select counters. The history lives with the namespace (nstat keeps a file per user).
"""

from __future__ import annotations

import fnmatch
import weakref
from typing import TYPE_CHECKING, TextIO

from tuxnet.procfs import read_proc

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

_HISTORY: weakref.WeakKeyDictionary[object, dict[str, int]] = weakref.WeakKeyDictionary()
_USELESS = {"IpForwarding", "IpDefaultTTL", "TcpRtoAlgorithm", "TcpRtoMin", "TcpRtoMax", "TcpMaxConn",
            "TcpCurrEstab"}
_USAGE = ("Usage: nstat [OPTION] [ PATTERN [ PATTERN ] ]\n"
          "   -h, --help           this message\n"
          "   -a, --ignore         ignore history\n"
          "   -n, --nooutput       do not display anything, only update history\n"
          "   -r, --reset          reset history\n"
          "   -s, --noupdate       do not update history\n"
          "   -z, --zeros          show entries with zero activity\n")


def kernel_counters(ns: Namespace) -> dict[str, int]:
    """The counters in /proc/net/snmp and /proc/net/netstat order, prefixed by their table."""
    out: dict[str, int] = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        lines = read_proc(ns, path).splitlines()
        for head, vals in zip(lines[::2], lines[1::2], strict=False):
            names, values = head.split(), vals.split()
            prefix = names[0].rstrip(":")
            for name, value in zip(names[1:], values[1:], strict=False):
                out[prefix + name] = int(value)
    return out


async def main(ns: Namespace, argv: list[str], out: TextIO, err: TextIO) -> int:
    flags = set()
    patterns = []
    long_opts = {"--ignore": "a", "--nooutput": "n", "--reset": "r", "--noupdate": "s", "--zeros": "z",
                 "--help": "h"}
    for a in argv:
        if a.startswith("--"):
            if a not in long_opts:
                err.write(f"nstat: unrecognized option '{a}'\n" + _USAGE)
                return 255
            flags.add(long_opts[a])
        elif a.startswith("-") and len(a) > 1:
            for c in a[1:]:
                if c not in "anrszh":
                    err.write(f"nstat: invalid option -- '{c}'\n" + _USAGE)
                    return 255
                flags.add(c)
        else:
            patterns.append(a)
    if "h" in flags:
        out.write(_USAGE)
        return 0
    now = kernel_counters(ns)
    hist = {} if "r" in flags else _HISTORY.get(ns, {})
    if "n" not in flags:
        lines = ["#kernel"]
        for name, val in now.items():
            if patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
                continue
            if "a" not in flags:
                if name in _USELESS:
                    continue
                val = (val - hist.get(name, 0)) & 0xFFFFFFFFFFFFFFFF
            if not val and "z" not in flags:
                continue
            lines.append(f"{name:<32}{val:<16}{0.0:6.1f}")
        out.write("\n".join(lines) + "\n")
    if "s" not in flags:
        _HISTORY[ns] = now
    return 0
