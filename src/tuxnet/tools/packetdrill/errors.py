"""How a packetdrill run ends when it does not pass.

- ``ScriptFailure``: the script failed, as packetdrill would report it. ``line`` is the script line
  (0 when the failure is not tied to a line), ``message`` the text packetdrill prints after
  ``path:line: `` (``error handling packet: live packet field tcp_ack: expected: 1 (0x1) vs actual:
  0 (0x0)``), ``details`` extra lines (the script and actual packet dumps).
- ``Unsupported``: the script needs something the runner or tuxnet cannot emulate (a shell
  command, a system call, IPv6, encapsulation ...). Reported as a skip, never as a failure.
"""

from __future__ import annotations


class ScriptFailure(Exception):
    def __init__(self, line: int, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.details = list(details or ())

    def __str__(self) -> str:
        return f"{self.line}: {self.message}" if self.line else self.message


class Unsupported(Exception):
    def __init__(self, what: str, line: int = 0) -> None:
        super().__init__(what)
        self.what = what
        self.line = line

    def __str__(self) -> str:
        return self.what
