"""The shell commands of packetdrill scripts, emulated against the tuxnet namespace.

packetdrill hands `init`, event and cleanup commands to /bin/sh (``safe_system``). The corpus uses
a small vocabulary, which is emulated here with bash's list semantics (newlines and ``;`` run in
sequence, ``&&``/``||`` short-circuit, the status is the last command's, backslash-newline continues
a line, ``#`` comments, ``$((...))`` arithmetic, ``> /dev/null`` / ``2>&1`` / ``&>`` discard output):

- ``sysctl [-q] [-e] [-w] key=value...`` and ``echo VALUE > /proc/sys/...`` write ``ns.sysctl``
  (an unknown key fails as sysctl(8) does: ``cannot stat /proc/sys/...``, or is skipped with -e);
  ``set_sysctls.py /proc/sys/...=VALUE...`` (the corpus helper) does the same.
- ``.../defaults.sh``: the corpus's sysctl profile. The file is read (a one-line file naming another
  path, a symlink stored as text, is followed); a missing ``./defaults.sh`` (the kernel selftests
  layout) means the corpus's ``google/gtests/net/common/defaults.sh``, found next to the script or
  through ``TUXNET_PACKETDRILL_CORPUS``, else the same profile built in (``DEFAULTS_PROFILE``). The
  profile is applied leniently: keys tuxnet does not have are reported in the log and skipped.
- ``/tmp/sysctl_restore_${PPID}.sh``: nothing to restore, every script gets a fresh namespace.
- ``echo VALUE > /sys/module/tcp_cubic/parameters/NAME`` sets the CUBIC module's parameter (a module
  global, as on Linux); the run puts the old value back when the script ends (``Shell.restore``).
- ``nstat`` runs tuxnet's nstat; a pipeline of ``nstat``/``ip``/``ss``/``tc``/``cat`` into
  ``grep [-q] [-v] [-E|-F] PATTERN`` stages has grep's status.
- ``ip`` and ``tc`` run tuxnet's tools; ``ip tcp_metrics flush`` empties the Fast Open cookie
  cache (the only TCP metrics tuxnet keeps); ``ethtool -K tun0 <feature> off...`` succeeds (the
  device has no offloads).
- Anything else raises ``Unsupported``, as does a command that fails on tuxnet (the corpus scripts
  run cleanly on Linux, so a failure means a missing feature) unless its output is discarded
  (``> /dev/null``) or it belongs to the lenient defaults profile.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from tuxnet.tools import run_argv
from tuxnet.tools.packetdrill.errors import Unsupported

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

COMMON_DEFAULTS = Path("google/gtests/net/common/defaults.sh")
# kernel modules whose /sys/module/NAME/parameters a script may write: the tuxnet module holding them
MODULES = {"tcp_cubic": "tuxnet.ipv4.tcp.cong.cubic"}

# google/gtests/net/common/defaults.sh, for runs without the corpus next to the script.
DEFAULTS_PROFILE: tuple[tuple[str, str], ...] = (
    ("net.ipv4.tcp_rmem", "4096 540000 15728640"),
    ("net.ipv4.tcp_wmem", "4096 262144 4194304"),
    ("net.ipv4.tcp_timestamps", "1"),
    ("net.ipv4.tcp_syn_retries", "5"),
    ("net.ipv4.tcp_synack_retries", "5"),
    ("net.ipv4.tcp_frto", "2"),
    ("net.ipv4.tcp_sack", "1"),
    ("net.ipv4.tcp_dsack", "1"),
    ("net.ipv4.tcp_fack", "0"),
    ("net.ipv4.tcp_reordering", "3"),
    ("net.ipv4.tcp_congestion_control", "cubic"),
    ("net.ipv4.tcp_slow_start_after_idle", "0"),
    ("net.ipv4.tcp_early_retrans", "4"),
    ("net.ipv4.tcp_recovery", "1"),
    ("net.ipv4.tcp_tso_win_divisor", "3"),
    ("net.ipv4.tcp_ecn", "0"),
    ("net.ipv4.tcp_ecn_option", "2"),
    ("net.ipv4.tcp_pacing_ss_ratio", "200"),
    ("net.ipv4.tcp_pacing_ca_ratio", "120"),
    ("net.ipv4.tcp_notsent_lowat", "4294967295"),
    ("net.ipv4.tcp_fastopen", "0x70403"),
    ("net.ipv4.tcp_fastopen_key", "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4"),
    ("net.ipv4.tcp_syncookies", "1"),
)

_PIPE = "\x00|"  # stands for a pipe between simple commands (no shell word holds a NUL)
_FD_REDIRECT = re.compile(r"(?<![^\s;&|])[0-9](?=>)")
_ARITH = re.compile(r"\$\(\(([0-9+\-*/() ]+)\)\)")


def _grep_hit(line: str, pattern: str, fixed: bool) -> bool:
    return pattern in line if fixed else re.search(pattern, line) is not None


class _Failed(Exception):
    """A simple command that ran and failed on tuxnet (status, what it said)."""


class Shell:
    def __init__(self, ns: Namespace, script_dir: Path, log: list[str]) -> None:
        self.ns = ns
        self.script_dir = script_dir
        self.log = log
        self.saved_params: dict[tuple[str, str], int] = {}

    # -- entry point

    async def run(self, text: str, *, lenient: bool = False, cwd: Path | None = None) -> int:
        """Run a command text; returns its exit status. ``lenient``: failures are logged, not raised."""
        cwd = cwd or self.script_dir
        status = 0
        for line in text.replace("\\\n", " ").splitlines():
            for op, words, discard, redirect in self._parse(line):
                if (op == "&&" and status) or (op == "||" and not status):
                    continue
                try:
                    status = await self._simple(words, redirect, cwd, lenient)
                except _Failed as e:
                    status = 1
                    what = f"`{' '.join(words)}`: {e}"
                    if not (lenient or discard):
                        raise Unsupported(what) from None
                    self.log.append(f"ignored: {what}")
        return status

    # -- parsing

    def _parse(self, line: str) -> list[tuple[str, list[str], bool, str | None]]:
        """Simple commands of one line: (operator before it, words, output discarded, > target)."""
        line = _ARITH.sub(lambda m: str(_arith(m.group(1))), line)
        line = _FD_REDIRECT.sub("", line)  # "2>/dev/null" -> ">/dev/null"; "2>&1" -> ">&1"
        lex = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
        lex.whitespace_split = True
        lex.commenters = "#"
        try:
            tokens = list(lex)
        except ValueError as e:
            raise Unsupported(f"shell syntax: {line.strip()} ({e})") from None
        out: list[tuple[str, list[str], bool, str | None]] = []
        op, words, discard, redirect = ";", [], False, None
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t in (";", "&&", "||"):
                if words:
                    out.append((op, words, discard, redirect))
                op, words, discard, redirect = t, [], False, None
            elif t in (">", ">>", "&>", "&>>"):
                i += 1
                target = tokens[i] if i < len(tokens) else ""
                if target == "/dev/null":
                    discard = True
                else:
                    redirect = target
            elif t == ">&":
                i += 1  # duplicating a descriptor changes nothing here
            elif t == "|":
                words.append(_PIPE)  # a pipeline: the stages split again in _simple
            elif t in ("&", "<", "<<"):
                raise Unsupported(f"shell construct '{t}' in: {line.strip()}")
            else:
                words.append(t)
            i += 1
        if words:
            out.append((op, words, discard, redirect))
        return out

    # -- commands

    async def _simple(self, words: list[str], redirect: str | None, cwd: Path, lenient: bool) -> int:
        if _PIPE in words:
            return await self._pipeline(words, redirect)
        cmd = words[0]
        base = os.path.basename(cmd)
        if cmd == "echo" and redirect is not None:
            return self._echo(words[1:], redirect)
        if redirect is not None:
            raise Unsupported(f"shell redirection to {redirect}: {' '.join(words)}")
        if cmd == "sysctl":
            return self._sysctl(words[1:])
        if base == "set_sysctls.py":
            for arg in words[1:]:
                key, _, value = arg.partition("=")
                self._set_proc(key, value)
            return 0
        if re.fullmatch(r"/tmp/sysctl_restore_.*\.sh", cmd):
            return 0  # a fresh namespace per script: nothing to restore
        if cmd.startswith("/proc/sys/") and "=" in cmd:
            for arg in words:
                key, _, value = arg.partition("=")
                self._set_proc(key, value)
            return 0
        if base == "defaults.sh":
            return await self._defaults(cwd / cmd)
        if cmd.endswith(".sh"):
            path = cwd / cmd
            if not path.is_file():
                raise Unsupported(f"shell script {cmd} (not found)")
            return await self.run(_follow(path).read_text(), lenient=lenient, cwd=_follow(path).parent)
        if cmd == "ip" and words[1:3] == ["tcp_metrics", "flush"]:
            self.ns.tcp.fastopen.cache.clear()  # the only TCP metrics tuxnet keeps: Fast Open's
            return 0
        if cmd == "ethtool" and len(words) >= 4 and words[1] == "-K" and set(words[4::2]) == {"off"}:
            return 0  # the device offers no offloads to turn off
        if cmd in ("ip", "tc", "nstat"):
            out, err = io.StringIO(), io.StringIO()
            rc = await run_argv(self.ns, words, out, err)
            if rc:
                raise _Failed((err.getvalue() or out.getvalue()).strip() or f"exit status {rc}")
            return 0
        raise Unsupported(f"command `{' '.join(words)}`")

    async def _pipeline(self, words: list[str], redirect: str | None) -> int:
        """``TOOL ARGS | grep [-q] [-v] [-E|-F] PATTERN`` ...: the tool's output filtered; the status
        is the last grep's (0 when a line was selected)."""
        stages: list[list[str]] = [[]]
        for w in words:
            if w == _PIPE:
                stages.append([])
            else:
                stages[-1].append(w)
        if redirect is not None or stages[0][:1] not in (["nstat"], ["ip"], ["ss"], ["tc"], ["cat"]):
            raise Unsupported(f"shell pipeline: {' '.join(words).replace(_PIPE, '|')}")
        out, err = io.StringIO(), io.StringIO()
        status = await run_argv(self.ns, stages[0], out, err)
        lines = out.getvalue().splitlines()
        for stage in stages[1:]:
            if not stage or stage[0] != "grep":
                raise Unsupported(f"shell pipeline stage: {' '.join(stage)}")
            opts = [a for a in stage[1:] if a.startswith("-")]
            args = [a for a in stage[1:] if not a.startswith("-")]
            if len(args) != 1 or any(o not in ("-q", "-v", "-E", "-F") for o in opts):
                raise Unsupported(f"shell pipeline stage: {' '.join(stage)}")
            lines = [s for s in lines if _grep_hit(s, args[0], "-F" in opts) != ("-v" in opts)]
            status = 0 if lines else 1
        return status

    def _echo(self, args: list[str], target: str) -> int:
        if target.startswith("/sys/module/"):
            return self._set_module_param(target, " ".join(args))
        if not target.startswith("/proc/sys/"):
            raise Unsupported(f"`echo {' '.join(args)} > {target}`")
        self._set_proc(target, " ".join(args))
        return 0

    def _set_module_param(self, path: str, value: str) -> int:
        """A write to /sys/module/MODULE/parameters/NAME: the module's global, as on Linux (where it
        outlives the script); ``restore`` puts the old values back when the run ends."""
        parts = path.split("/")
        if len(parts) != 6 or parts[4] != "parameters" or parts[3] not in MODULES:
            raise Unsupported(f"writing {path}")
        module = importlib.import_module(MODULES[parts[3]])
        name = parts[5]
        if name not in module.MODULE_PARAMETERS:
            raise _Failed(f"{path}: No such file or directory")
        try:
            new = int(value.strip(), 0)
        except ValueError:
            raise _Failed(f"write error: Invalid argument ({path})") from None
        self.saved_params.setdefault((module.__name__, name), getattr(module, name))
        setattr(module, name, new)
        self.log.append(f"{path}={new}")
        return 0

    def restore(self) -> None:
        """Module parameters back to what they were before the script: the next script starts clean."""
        for (mod, name), old in self.saved_params.items():
            setattr(importlib.import_module(mod), name, old)
        self.saved_params.clear()

    def _sysctl(self, args: list[str]) -> int:
        ignore_unknown = False
        status = 0
        for a in args:
            if a.startswith("-"):
                ignore_unknown = ignore_unknown or "e" in a
                continue
            key, eq, value = a.partition("=")
            key = key.replace("/", ".")
            if not eq:
                if key not in self.ns.sysctl.v and not ignore_unknown:
                    path = self.ns.sysctl.path_of(key)
                    raise _Failed(f"sysctl: cannot stat {path}: No such file or directory")
                continue
            try:
                self._write(key, value)
            except _Failed:
                if not ignore_unknown or key in self.ns.sysctl.v:
                    raise
        return status

    def _set_proc(self, path: str, value: str) -> None:
        if not path.startswith("/proc/sys/"):
            raise Unsupported(f"writing {path}")
        self._write(path[len("/proc/sys/"):].replace("/", "."), value)

    def _write(self, key: str, value: str) -> None:
        value = value.strip().strip('"').strip("'")
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", value):
            value = str(int(value, 16))
        try:
            self.ns.sysctl.set(key, value)
        except OSError as e:
            path = self.ns.sysctl.path_of(key)
            reason = os.strerror(e.errno) if e.errno else str(e)
            if key not in self.ns.sysctl.v:
                raise _Failed(f"sysctl: cannot stat {path}: No such file or directory") from None
            raise _Failed(f"sysctl: setting key \"{key}\": {reason}") from None
        self.log.append(f"sysctl {key}={value}")

    async def _defaults(self, path: Path) -> int:
        found = _follow(path) if path.is_file() else self._corpus_defaults()
        if found is None:
            for key, value in DEFAULTS_PROFILE:
                try:
                    self._write(key, value)
                except _Failed as e:
                    self.log.append(f"ignored: defaults profile: {e}")
            return 0
        await self.run(found.read_text(), lenient=True, cwd=found.parent)
        return 0

    def _corpus_defaults(self) -> Path | None:
        roots = [*self.script_dir.resolve().parents, self.script_dir.resolve()]
        env = os.environ.get("TUXNET_PACKETDRILL_CORPUS")
        if env:
            roots.insert(0, Path(env))
        for root in roots:
            cand = root / COMMON_DEFAULTS
            if cand.is_file():
                return cand
        return None


def _follow(path: Path) -> Path:
    """A one-line file naming another file (a symlink stored as text) leads to that file."""
    for _ in range(8):
        text = path.read_text().strip()
        if "\n" in text or not text or " " in text:
            return path
        nxt = path.parent / text
        if not nxt.is_file():
            return path
        path = nxt
    return path


def _arith(expr: str) -> int:
    """$((...)) with integers and + - * / ( ) only."""
    tokens = re.findall(r"\d+|[-+*/()]", expr)
    pos = 0

    def atom() -> int:
        nonlocal pos
        t = tokens[pos]
        pos += 1
        if t == "(":
            v = add()
            pos += 1
            return v
        if t == "-":
            return -atom()
        return int(t)

    def mul() -> int:
        nonlocal pos
        v = atom()
        while pos < len(tokens) and tokens[pos] in "*/":
            op = tokens[pos]
            pos += 1
            r = atom()
            v = v * r if op == "*" else int(v / r)
        return v

    def add() -> int:
        nonlocal pos
        v = mul()
        while pos < len(tokens) and tokens[pos] in "+-":
            op = tokens[pos]
            pos += 1
            r = mul()
            v = v + r if op == "+" else v - r
        return v

    try:
        return add()
    except (IndexError, ZeroDivisionError, ValueError):
        raise Unsupported(f"shell arithmetic $(({expr}))") from None
