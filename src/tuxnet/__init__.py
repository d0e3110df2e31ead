"""tuxnet: the Linux networking stack in Python.

Many hosts (network namespaces) in one process under a deterministic virtual clock (the lab), or
one host on a real TAP device in real time (live), on one code path.
"""

__version__ = "0.1.0"
