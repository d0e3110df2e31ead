"""Tokenizer for packetdrill scripts, with the token rules of packetdrill's lexer.l.

Guarantees:
- Flex semantics: at each position the longest match wins; on a tie the earlier rule wins, so a
  reserved word (``ack``, ``win``, ``mss``, ``TS``, ``FO`` ...) beats WORD, INTEGER beats WORD
  (``1234``), HEX_INTEGER beats WORD (``0x1f``), and IPV4_ADDR/IPV6_ADDR beat FLOAT/INTEGER/WORD
  (``192.0.2.1``, ``fd::1``) while TCP sequence ranges such as ``1:1001`` stay INTEGER ':' INTEGER.
- ``//`` comments run to the end of the line, ``/* */`` comments and ``%{ }%`` code blocks may span
  lines; code text is stripped of spaces and tabs at both ends, as packetdrill does for Python.
- STRING and BACK_QUOTED values are the raw text between the delimiters (no escape processing).
- Every token carries its 1-based start line; an unterminated comment, string, command or code
  block raises ``PacketdrillSyntaxError`` naming the file and line where it starts.

Differences from lexer.l (documented, harmless for valid scripts): a carriage return counts as
whitespace; a ``//`` comment may end at end of file without a newline; the packet-fuzzing words of
newer packetdrill (``mut trun ins ip tcp ihl source_port``) are plain WORDs here and recognized by
the parser only inside a fuzz block, so they stay usable as symbol names elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["KEYWORDS", "PacketdrillSyntaxError", "Token", "tokenize"]

# Reserved words of lexer.l: text -> token kind.
KEYWORDS: dict[str, str] = {
    "sa_family": "SA_FAMILY", "sin_port": "SIN_PORT", "sin_addr": "SIN_ADDR", "msg_name": "MSG_NAME",
    "msg_iov": "MSG_IOV", "msg_flags": "MSG_FLAGS", "msg_control": "MSG_CONTROL", "cmsg_data": "CMSG_DATA",
    "cmsg_level": "CMSG_LEVEL", "cmsg_type": "CMSG_TYPE", "ee_errno": "EE_ERRNO", "ee_origin": "EE_ORIGIN",
    "ee_type": "EE_TYPE", "ee_code": "EE_CODE", "ee_info": "EE_INFO", "ee_data": "EE_DATA",
    "scm_sec": "SCM_SEC", "scm_nsec": "SCM_NSEC", "fd": "FD", "u32": "U32", "u64": "U64", "ptr": "PTR",
    "events": "EVENTS", "revents": "REVENTS", "onoff": "ONOFF", "linger": "LINGER", "htons": "_HTONS_",
    "ipv4": "IPV4", "ipv6": "IPV6", "icmp": "ICMP", "udp": "UDP", "GREv0": "GRE", "gre": "GRE",
    "raw": "RAW", "sum": "SUM", "off": "OFF", "key": "KEY", "seq": "SEQ", "none": "NONE",
    "checksum": "CHECKSUM", "present": "PRESENT", "mpls": "MPLS", "label": "LABEL", "tc": "TC",
    "ttl": "TTL", "inet_addr": "INET_ADDR", "inet6_addr": "INET6_ADDR", "ack": "ACK", "eol": "EOL",
    "ecr": "ECR", "mss": "MSS", "mtu": "MTU", "nop": "NOP", "sack": "SACK", "sackOK": "SACKOK",
    "md5": "MD5", "TS": "TIMESTAMP", "FO": "FAST_OPEN", "FOEXP": "FAST_OPEN_EXP", "tos": "TOS",
    "flowlabel": "FLOWLABEL", "flags": "FLAGS", "Flags": "FLAGS", "val": "VAL", "win": "WIN",
    "urg": "URG", "wscale": "WSCALE", "ect01": "ECT01", "ect0": "ECT0", "ect1": "ECT1",
    "noecn": "NO_ECN", "ce": "CE", "id": "ID",
}  # fmt: skip


class PacketdrillSyntaxError(Exception):
    """A script error, formatted ``path:line: message`` like packetdrill's own errors."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


class Token:
    """One token: ``kind`` is a token name (``INTEGER``, ``WORD``, ``ACK`` ...) or the character itself."""

    __slots__ = ("kind", "text", "value", "line")

    def __init__(self, kind: str, text: str, value: object, line: int) -> None:
        self.kind = kind
        self.text = text  # the matched source text
        self.value = value  # int for INTEGER/HEX_INTEGER, float for FLOAT, str otherwise
        self.line = line

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r}, line {self.line})"


_WS = frozenset(" \t\n\r")
_WORD_CH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")

_RE_WORD = re.compile(r"[a-zA-Z0-9_]+")
_RE_INTEGER = re.compile(r"-?[0-9]+")
_RE_FLOAT = re.compile(r"-?[0-9]*\.[0-9]+")
_RE_HEX = re.compile(r"0x[0-9a-fA-F]+")
_RE_OPTION = re.compile(r"--[a-zA-Z0-9_]+")
_RE_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_RE_STRING = re.compile(r'"(?:\\.|[^"])*"', re.S)
_RE_BACKQ = re.compile(r"`(?:\\.|[^`])*`", re.S)
_RE_CCOMMENT = re.compile(r"/\*(?:[^*]|\*[^/])*\*/", re.S)
_RE_CODE = re.compile(r"%\{(?:[^}]|\}[^%])*\}%", re.S)

# IPv6 alternatives of lexer.l; flex takes the longest, so each is tried on its own.
_SEG = r"[0-9a-fA-F]{1,4}"
_V4 = r"[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+"
_IPV6_ALTS = [
    re.compile(p)
    for p in (
        r"::",
        rf"(?:{_SEG}:){{7}}{_SEG}",
        rf"(?:{_SEG}:){{1,7}}:",
        rf"(?:{_SEG}:){{1,6}}:{_SEG}",
        rf"(?:{_SEG}:){{1,5}}(?::{_SEG}){{1,2}}",
        rf"(?:{_SEG}:){{1,4}}(?::{_SEG}){{1,3}}",
        rf"(?:{_SEG}:){{1,3}}(?::{_SEG}){{1,4}}",
        rf"(?:{_SEG}:){{1,2}}(?::{_SEG}){{1,5}}",
        rf"{_SEG}:(?:(?::{_SEG}){{1,6}})",
        rf":(?::{_SEG}){{1,7}}",
        rf"::ffff:{_V4}",
        rf"::ffff:(?:0){{1,4}}:{_V4}",
        rf"(?:{_SEG}:){{1,4}}:{_V4}",
    )
]


def _ipv6_len(text: str, pos: int) -> int:
    best = 0
    for rx in _IPV6_ALTS:
        m = rx.match(text, pos)
        if m is not None and m.end() - pos > best:
            best = m.end() - pos
    return best


def _maybe_ipv6(text: str, pos: int) -> bool:
    """Cheap filter: an IPv6 address has a ':' after at most four hex digits."""
    i = pos
    end = min(len(text), pos + 5)
    while i < end and text[i] in _HEXDIGITS:
        i += 1
    return i < len(text) and text[i] == ":"


def _strip_code(raw: str) -> str:
    """The text between %{ and }%, without spaces and tabs at either end (lexer.l code())."""
    return raw[2:-2].strip(" \t")


def tokenize(text: str, path: str = "<script>") -> list[Token]:
    """Split a script into tokens, ending with an ``EOF`` token."""
    toks: list[Token] = []
    pos = 0
    n = len(text)
    line = 1
    append = toks.append
    while pos < n:
        c = text[pos]
        if c in _WS:
            if c == "\n":
                line += 1
            pos += 1
            continue
        if c == "/" and pos + 1 < n and text[pos + 1] in "/*":
            if text[pos + 1] == "/":
                end = text.find("\n", pos)
                pos = n if end < 0 else end  # the newline itself is counted as whitespace
                continue
            m = _RE_CCOMMENT.match(text, pos)
            if m is None:
                raise PacketdrillSyntaxError(path, line, "unterminated /* comment")
            line += m.group().count("\n")
            pos = m.end()
            continue
        if c == "%" and text.startswith("%{", pos):
            m = _RE_CODE.match(text, pos)
            if m is None:
                raise PacketdrillSyntaxError(path, line, "unterminated %{ code block")
            raw = m.group()
            append(Token("CODE", raw, _strip_code(raw), line))
            line += raw.count("\n")
            pos = m.end()
            continue
        if c == '"' or c == "`":
            m = (_RE_STRING if c == '"' else _RE_BACKQ).match(text, pos)
            if m is None:
                what = "string" if c == '"' else "`command`"
                raise PacketdrillSyntaxError(path, line, f"unterminated {what}")
            raw = m.group()
            append(Token("STRING" if c == '"' else "BACK_QUOTED", raw, raw[1:-1], line))
            line += raw.count("\n")
            pos = m.end()
            continue
        if c == ".":
            if text.startswith("...", pos):
                append(Token("ELLIPSIS", "...", "...", line))
                pos += 3
                continue
            m = _RE_FLOAT.match(text, pos)
            if m is not None:
                append(Token("FLOAT", m.group(), float(m.group()), line))
                pos = m.end()
                continue
            append(Token(".", ".", ".", line))
            pos += 1
            continue
        if c == "-":
            m = _RE_OPTION.match(text, pos)
            if m is not None:
                append(Token("OPTION", m.group(), m.group()[2:], line))
                pos = m.end()
                continue
            new_pos = _alnum(text, pos, line, append)  # -1, -0.5
            if new_pos == pos:
                append(Token("-", "-", "-", line))
                new_pos = pos + 1
            pos = new_pos
            continue
        if c in _WORD_CH or c == ":":
            pos = _alnum(text, pos, line, append)
            continue
        append(Token(c, c, c, line))
        pos += 1
    toks.append(Token("EOF", "", None, line))
    return toks


def _alnum(text: str, pos: int, line: int, append: Callable[[Token], None]) -> int:
    """The longest of FLOAT, INTEGER, HEX_INTEGER, WORD/keyword, IPV4_ADDR, IPV6_ADDR at ``pos``.

    Returns the new position; ``pos`` unchanged if nothing matched (a '-' without digits).
    """
    cands: list[tuple[int, int, str]] = []  # (length, -rule order, kind): flex prefers earlier rules
    if text[pos] != "-":
        mw = _RE_WORD.match(text, pos)
        if mw is not None:
            word = mw.group()
            kind = KEYWORDS.get(word)
            if word == "sequence" and text.startswith("#", mw.end()):
                cands.append((9, 0, "SEQUENCE"))
            cands.append((len(word), 0 if kind else -6, kind or "WORD"))
        mh = _RE_HEX.match(text, pos)
        if mh is not None:
            cands.append((mh.end() - pos, -5, "HEX_INTEGER"))
        m4 = _RE_IPV4.match(text, pos)
        if m4 is not None:
            cands.append((m4.end() - pos, -12, "IPV4_ADDR"))
        if _maybe_ipv6(text, pos):
            l6 = _ipv6_len(text, pos)
            if l6:
                cands.append((l6, -13, "IPV6_ADDR"))
    mf = _RE_FLOAT.match(text, pos)
    if mf is not None:
        cands.append((mf.end() - pos, -3, "FLOAT"))
    mi = _RE_INTEGER.match(text, pos)
    if mi is not None:
        cands.append((mi.end() - pos, -4, "INTEGER"))
    if not cands:
        if text[pos] == ":":
            append(Token(":", ":", ":", line))
            return pos + 1
        return pos
    length, _, kind = max(cands)
    tok_text = text[pos : pos + length]
    value: object
    if kind == "INTEGER":
        value = int(tok_text)
    elif kind == "HEX_INTEGER":
        value = int(tok_text, 16)
    elif kind == "FLOAT":
        value = float(tok_text)
    else:
        value = tok_text
    append(Token(kind, tok_text, value, line))
    return pos + length
