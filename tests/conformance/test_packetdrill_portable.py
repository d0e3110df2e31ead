"""packetdrill conformance: every script in the corpus's portable.txt runs against tuxnet and passes.

A script carrying a ``// Failure: REGEX`` comment is one of packetdrill's own tests of its error
reporting: it passes when the run fails at the next event after the comment with a message that
REGEX matches, as packetdrill's self-tests expect.

The corpus is read from ``../shared/conformance/packetdrill`` next to the repository, or from
``TUXNET_PACKETDRILL_CORPUS``; it is never copied into the project. ``test_corpus_pass_count``
runs the whole corpus and prints how many scripts pass (only portable scripts gate CI); the same
figure comes from ``tuxnet packetdrill --sysctl net.ipv4.tcp_syn_linear_timeouts=0 $(find CORPUS -name
'*.pkt')`` (``CORPUS_SYSCTLS``: the corpus predates Linux 6.7).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

from tuxnet.tools.packetdrill import LINUX_IPV4_DEFINES, parse_file
from tuxnet.tools.packetdrill.runner import Outcome, run_script

CORPUS = Path(
    os.environ.get(
        "TUXNET_PACKETDRILL_CORPUS",
        Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "packetdrill",
    )
)
PORTABLE_LIST = CORPUS / "portable.txt"
PORTABLE = [line.strip() for line in PORTABLE_LIST.read_text().splitlines()
            if line.strip() and not line.startswith("#")] if PORTABLE_LIST.is_file() else []
ALL = sorted(CORPUS.rglob("*.pkt")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not PORTABLE, reason=f"packetdrill corpus not found at {CORPUS}")

_FAILURE = re.compile(r"^\s*//\s*Failure:\s*(.*?)\s*$")


def expected_failure(path: Path) -> tuple[int, str] | None:
    """(line of the event that fails, regex of its message) from a ``// Failure:`` comment."""
    lines = path.read_text().splitlines()
    for i, text in enumerate(lines, 1):
        m = _FAILURE.match(text)
        if m:
            events = parse_file(path, LINUX_IPV4_DEFINES).events
            line = min(e.line for e in events if e.line > i)
            return line, m.group(1)
    return None


# The machine the corpus was written for. Its scripts predate Linux 6.7, whose
# tcp_syn_linear_timeouts (default 4) keeps the first SYN retransmission timeouts at 1 s; on older
# kernels the SYN timeout doubles from the first retransmission, which is what
# tcp_syn_linear_timeouts=0 gives on 6.7+ (measured on the 6.18 kernel here, tcp_syn_retries=1: SYNs
# at +0 and +1.03 s, ETIMEDOUT at 3.04 s; with the default 4: SYNs at +0, +1.02, +2.05 s). tuxnet
# follows the current default; the corpus runs on the host configured as its authors' kernels were.
CORPUS_SYSCTLS = {"net.ipv4.tcp_syn_linear_timeouts": "0"}

# Scripts written for FreeBSD (tests/bsd/) assume a stack that sends one packet per MSS: FreeBSD's
# packetdrill tun has no TSO. Linux always builds GSO packets for TCP and sets PSH on every
# multi-segment one (__tcp_transmit_skb), so on a default Linux host fr-4pkt-sack-bsd.pkt fails at
# line 26 (measured on 6.18 with a TSO tun: its 4000-byte write leaves as P. 1001:3001(2000) and
# P. 3001:5001(2000)). The host such a script needs is a Linux whose tun0 takes one segment per GSO
# packet: `ip link set dev tun0 gso_max_segs 1` (sk_setup_caps copies it to sk_gso_max_segs, so
# tcp_tso_segs and the size goal become one MSS and only tcp_push's PSH remains).
BSD_SETUP = ["ip link set dev tun0 gso_max_segs 1"]


def host_setup(rel: str) -> list[str]:
    return BSD_SETUP if "/tests/bsd/" in f"/{rel}" else []


# Portable scripts tuxnet does not pass yet, with the reason. Strict: when one starts passing, the
# test fails until it is removed from this table. Issue "TCP as Linux does it" stays open while the
# table is not empty.
KNOWN_GAPS: dict[str, str] = {}


def describe(res: Outcome) -> str:
    return "\n".join([res.summary(), *res.details])


@needs_corpus
@pytest.mark.parametrize("rel", PORTABLE)
def test_portable_script(rel: str, request: pytest.FixtureRequest) -> None:
    if rel in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_GAPS[rel], strict=True))
    path = CORPUS / rel
    res = run_script(path, sysctls=CORPUS_SYSCTLS, setup=host_setup(rel))
    want = expected_failure(path)
    if want is None:
        assert res.status == "PASS", describe(res)
        return
    line, regex = want
    assert res.status == "FAIL", f"expected a failure at line {line} matching {regex!r}: {describe(res)}"
    assert res.line == line and re.search(regex, res.message), \
        f"expected line {line} matching {regex!r}: {describe(res)}"


@needs_corpus
def test_corpus_pass_count(capsys: pytest.CaptureFixture[str]) -> None:
    """The whole corpus: every script gives an outcome; the pass count is printed, not asserted."""
    counts: Counter[str] = Counter()
    internal = []
    for path in ALL:
        res = run_script(path, sysctls=CORPUS_SYSCTLS, setup=host_setup(str(path.relative_to(CORPUS))))
        counts[res.status] += 1
        if res.message.startswith("internal error"):
            internal.append(res.summary())
    assert sum(counts.values()) == len(ALL)
    with capsys.disabled():
        print(f"\npacketdrill corpus: {counts['PASS']} passed, {counts['FAIL']} failed, "
              f"{counts['SKIP']} skipped of {len(ALL)} scripts")
        for line in internal:
            print(f"  {line}")
