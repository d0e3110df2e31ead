"""cat(1) for the files a namespace has: /proc/net/* and /proc/sys/*."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from tuxnet.procfs import read_proc

if TYPE_CHECKING:
    from tuxnet.netns import Namespace


async def main(ns: Namespace, argv: list[str], out: TextIO, err: TextIO) -> int:
    rc = 0
    files = [a for a in argv if not (a.startswith("-") and a != "-")]
    if not files:
        err.write("cat: reading standard input is not supported in tuxnet\n")
        return 1
    for path in files:
        try:
            out.write(read_proc(ns, path))
        except OSError as e:
            err.write(f"cat: {path}: {e.strerror}\n")
            rc = 1
    return rc
