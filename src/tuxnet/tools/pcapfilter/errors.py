"""The error a bad filter expression raises."""

from __future__ import annotations


class FilterSyntaxError(ValueError):
    """A filter expression libpcap would refuse; ``str()`` is libpcap's message.

    tcpdump prints it as ``tcpdump: <message>`` and exits with status 1.
    """
