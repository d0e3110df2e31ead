"""packetdrill conformance: every script in the corpus's portable.txt runs against tuxnet and passes.

A script carrying a ``// Failure: REGEX`` comment is one of packetdrill's own tests of its error
reporting: it passes when the run fails at the next event after the comment with a message that
REGEX matches, as packetdrill's self-tests expect.

The corpus is read from ``../shared/conformance/packetdrill`` next to the repository, or from
``TUXNET_PACKETDRILL_CORPUS``; it is never copied into the project. ``test_corpus_pass_count``
runs the whole corpus and prints how many scripts pass (only portable scripts gate CI); the same
figure comes from ``tuxnet packetdrill $(find CORPUS -name '*.pkt')``.
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


def describe(res: Outcome) -> str:
    return "\n".join([res.summary(), *res.details])


@needs_corpus
@pytest.mark.parametrize("rel", PORTABLE)
def test_portable_script(rel: str) -> None:
    path = CORPUS / rel
    res = run_script(path)
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
        res = run_script(path)
        counts[res.status] += 1
        if res.message.startswith("internal error"):
            internal.append(res.summary())
    assert sum(counts.values()) == len(ALL)
    with capsys.disabled():
        print(f"\npacketdrill corpus: {counts['PASS']} passed, {counts['FAIL']} failed, "
              f"{counts['SKIP']} skipped of {len(ALL)} scripts")
        for line in internal:
            print(f"  {line}")
