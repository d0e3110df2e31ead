"""sysctl(8) from procps-ng: read, ``-w`` write, ``KEY=VALUE``, ``-a``, ``-n``, ``-q``, ``-e``.

Output and messages as procps-ng: ``net.ipv4.ip_forward = 1``; unknown keys give
``sysctl: cannot stat /proc/sys/KEY: No such file or directory`` and bad values
``sysctl: setting key "KEY": Invalid argument``, exit status 1 (255 for usage errors).
Keys may use ``/`` or ``.`` separators.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

USAGE = """
Usage:
 sysctl [options] [variable[=value] ...]

Options:
  -a, --all            display all variables
  -e, --ignore         ignore unknown variables errors
  -n, --values         print only values of the given variable(s)
  -q, --quiet          do not echo variable set
  -w, --write          enable writing a value to variable
"""


async def main(ns: Namespace, argv: list[str], out: TextIO, err: TextIO) -> int:
    show_all = values_only = quiet = ignore = write = False
    names: list[str] = []
    for a in argv:
        if a.startswith("--"):
            opt = {"--all": "a", "--values": "n", "--quiet": "q", "--ignore": "e", "--write": "w"}.get(a)
            if opt is None:
                err.write(f"sysctl: unrecognized option '{a}'\n{USAGE}")
                return 255
            a = "-" + opt
        if a.startswith("-") and len(a) > 1:
            for ch in a[1:]:
                if ch in "aAX":
                    show_all = True
                elif ch == "n":
                    values_only = True
                elif ch == "N":
                    pass
                elif ch == "q":
                    quiet = True
                elif ch == "e":
                    ignore = True
                elif ch == "w":
                    write = True
                else:
                    err.write(f"sysctl: invalid option -- '{ch}'\n{USAGE}")
                    return 255
            continue
        names.append(a)
    sc = ns.sysctl
    if show_all:
        for k in sc.sorted_keys():
            out.write(sc.format(sc.v[k]) + "\n" if values_only else f"{k} = {sc.format(sc.v[k])}\n")
        return 0
    if not names:
        err.write(f"sysctl: no variables specified\n{USAGE}")
        return 255
    rc = 0
    for item in names:
        if "=" in item:
            key, _, value = item.partition("=")
            key = key.strip().replace("/", ".")
            try:
                sc.set(key, value.strip())
            except OSError as e:
                if e.errno == errno.ENOENT:
                    if not ignore:
                        err.write(f"sysctl: cannot stat {sc.path_of(key)}: No such file or directory\n")
                        rc = 1
                else:
                    err.write(f"sysctl: setting key \"{key}\": {e.strerror}\n")
                    rc = 1
                continue
            if not quiet:
                val = sc.format(sc.v[key])
                out.write(f"{val}\n" if values_only else f"{key} = {val}\n")
        else:
            if write:
                err.write(f"sysctl: \"{item}\" must be of the form name=value\n")
                rc = 1
                continue
            key = item.replace("/", ".")
            if key not in sc.v:
                prefix = key + "."
                sub = [k for k in sc.sorted_keys() if k.startswith(prefix)]
                if sub:
                    for k in sub:
                        val = sc.format(sc.v[k])
                        out.write(f"{val}\n" if values_only else f"{k} = {val}\n")
                    continue
                if not ignore:
                    err.write(f"sysctl: cannot stat {sc.path_of(key)}: No such file or directory\n")
                    rc = 1
                continue
            val = sc.format(sc.v[key])
            out.write(f"{val}\n" if values_only else f"{key} = {val}\n")
    return rc
