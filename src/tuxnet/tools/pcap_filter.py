"""tcpdump's filter expressions (pcap-filter(7)): the public entry point.

The compiler lives in :mod:`tuxnet.tools.pcapfilter`; see its docstring for what it guarantees.
"""

from __future__ import annotations

from tuxnet.tools.pcapfilter import FilterSyntaxError, compile_filter, filter_source

__all__ = ["FilterSyntaxError", "compile_filter", "filter_source"]
