"""Whether this machine lets a test make network namespaces (root, iproute2, ``ip netns add``)."""

from __future__ import annotations

import os
import shutil
import subprocess


def netns_skip_reason(prefix: str) -> str | None:
    """None when a namespace can be made (one named PREFIX+pid is made and deleted), else why not."""
    if os.geteuid() != 0:
        return "needs root for ip netns"
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    name = f"{prefix}{os.getpid()}"
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        return f"ip netns add failed: {p.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None
