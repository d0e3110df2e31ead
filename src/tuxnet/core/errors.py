"""errno-style errors, worded as Linux's strerror(3) words them.

Local misuse raises ``OSError(errno.X, strerror)`` exactly as a Linux system call would fail; bad
input from the network is counted and dropped, never raised.
"""

from __future__ import annotations

import errno
import os


def oserror(code: int, detail: str | None = None) -> OSError:
    """``OSError`` with Linux's message for ``code`` (``os.strerror`` on Linux gives glibc's words)."""
    err = OSError(code, os.strerror(code))
    if detail:
        err.add_note(detail)
    return err


def raise_errno(code: int, detail: str | None = None) -> None:
    raise oserror(code, detail)


__all__ = ["errno", "oserror", "raise_errno"]
