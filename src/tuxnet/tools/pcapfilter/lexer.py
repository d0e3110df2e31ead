"""Tokenizer for pcap-filter(7) expressions, mirroring libpcap 1.10's scanner.l.

flex picks the longest match among all rules and, on a tie, the rule listed first; this module
does the same over the same rule list (keywords, operators, ``$B`` ARCnet ids, MAC addresses,
numbers, dotted IPv4 ids, IPv6 addresses, the bogus-MAC catch-all, the named constants such as
``tcp-syn``, plain ids and ``\\escaped`` ids).  Numbers are decimal, ``0x`` hex or ``0`` octal,
checked for 32-bit overflow like ``stou()``.

A token that libpcap's scanner reports as an error (``number 08 contains non-octal digit``,
``bogus ethernet address ...``) carries the message in ``Token.err``; the parser raises it when
it reads the token, as bison does.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["Token", "tokenize", "KEYWORDS", "NAMED_NUMBERS"]


class Token:
    __slots__ = ("kind", "text", "value", "err")

    def __init__(self, kind: str, text: str, value: object = None, err: str | None = None) -> None:
        self.kind = kind  # grammar token name: "NUM", "ID", "HID", "AND", "(" ...
        self.text = text
        self.value = value
        self.err = err

    def __repr__(self) -> str:
        return f"Token({self.kind!r}, {self.text!r})"


def _kw(names: str, kind: str) -> list[tuple[str, str]]:
    return [(n, kind) for n in names.split("|")]


# Keyword rules in scanner.l order (the order only matters between equal-length matches).
_KEYWORD_RULES: list[tuple[str, str]] = [
    *_kw("dst", "DST"), *_kw("src", "SRC"),
    *_kw("link|ether|ppp|slip", "LINK"), *_kw("fddi|tr|wlan", "LINK"),
    *_kw("arp", "ARP"), *_kw("rarp", "RARP"), *_kw("ip", "IP"), *_kw("sctp", "SCTP"),
    *_kw("tcp", "TCP"), *_kw("udp", "UDP"), *_kw("icmp", "ICMP"), *_kw("igmp", "IGMP"),
    *_kw("igrp", "IGRP"), *_kw("pim", "PIM"), *_kw("vrrp", "VRRP"), *_kw("carp", "CARP"),
    *_kw("radio", "RADIO"), *_kw("ip6", "IPV6"), *_kw("icmp6", "ICMPV6"), *_kw("ah", "AH"),
    *_kw("esp", "ESP"), *_kw("atalk", "ATALK"), *_kw("aarp", "AARP"), *_kw("decnet", "DECNET"),
    *_kw("lat", "LAT"), *_kw("sca", "SCA"), *_kw("moprc", "MOPRC"), *_kw("mopdl", "MOPDL"),
    *_kw("iso", "ISO"), *_kw("esis|es-is", "ESIS"), *_kw("isis|is-is", "ISIS"),
    *_kw("l1", "L1"), *_kw("l2", "L2"), *_kw("iih", "IIH"), *_kw("lsp", "LSP"),
    *_kw("snp", "SNP"), *_kw("csnp", "CSNP"), *_kw("psnp", "PSNP"), *_kw("clnp", "CLNP"),
    *_kw("stp", "STP"), *_kw("ipx", "IPX"), *_kw("netbeui", "NETBEUI"),
    *_kw("host", "HOST"), *_kw("net", "NET"), *_kw("mask", "NETMASK"), *_kw("port", "PORT"),
    *_kw("portrange", "PORTRANGE"), *_kw("proto", "PROTO"), *_kw("protochain", "PROTOCHAIN"),
    *_kw("gateway", "GATEWAY"), *_kw("type", "TYPE"), *_kw("subtype", "SUBTYPE"),
    *_kw("direction|dir", "DIR"), *_kw("address1|addr1", "ADDR1"),
    *_kw("address2|addr2", "ADDR2"), *_kw("address3|addr3", "ADDR3"),
    *_kw("address4|addr4", "ADDR4"), *_kw("ra", "RA"), *_kw("ta", "TA"),
    *_kw("less", "LESS"), *_kw("greater", "GREATER"), *_kw("byte", "CBYTE"),
    *_kw("broadcast", "TK_BROADCAST"), *_kw("multicast", "TK_MULTICAST"),
    ("and", "AND"), ("&&", "AND"), ("or", "OR"), ("||", "OR"), ("not", "!"),
    *_kw("len|length", "LEN"), *_kw("inbound", "INBOUND"), *_kw("outbound", "OUTBOUND"),
    *_kw("ifindex", "IFINDEX"), *_kw("vlan", "VLAN"), *_kw("mpls", "MPLS"),
    *_kw("pppoed", "PPPOED"), *_kw("pppoes", "PPPOES"), *_kw("geneve", "GENEVE"),
    *_kw("lane", "LANE"), *_kw("llc", "LLC"), *_kw("metac", "METAC"), *_kw("bcc", "BCC"),
    *_kw("oam", "OAM"), *_kw("oamf4", "OAMF4"), *_kw("oamf4ec", "OAMF4EC"),
    *_kw("oamf4sc", "OAMF4SC"), *_kw("sc", "SC"), *_kw("ilmic", "ILMIC"), *_kw("vpi", "VPI"),
    *_kw("vci", "VCI"), *_kw("connectmsg", "CONNECTMSG"), *_kw("metaconnect", "METACONNECT"),
    *_kw("on|ifname", "PF_IFNAME"), *_kw("rset|ruleset", "PF_RSET"),
    *_kw("rnr|rulenum", "PF_RNR"), *_kw("srnr|subrulenum", "PF_SRNR"),
    *_kw("reason", "PF_REASON"), *_kw("action", "PF_ACTION"),
    *_kw("fisu", "FISU"), *_kw("lssu|lsu", "LSSU"), *_kw("msu", "MSU"), *_kw("hfisu", "HFISU"),
    *_kw("hlssu", "HLSSU"), *_kw("hmsu", "HMSU"), *_kw("sio", "SIO"), *_kw("opc", "OPC"),
    *_kw("dpc", "DPC"), *_kw("sls", "SLS"), *_kw("hsio", "HSIO"), *_kw("hopc", "HOPC"),
    *_kw("hdpc", "HDPC"), *_kw("hsls", "HSLS"),
]
KEYWORDS: dict[str, str] = {}
for _text, _kind in _KEYWORD_RULES:
    KEYWORDS.setdefault(_text, _kind)

# scanner.l's named constants (they come after the number and address rules, before ID)
NAMED_NUMBERS: dict[str, int] = {
    "icmptype": 0, "icmpcode": 1,
    "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
    "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
    "icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
    "icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
    "icmp6type": 0, "icmp6code": 1,
    "icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
    "icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
    "icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
    "icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133, "icmp6-routeradvert": 134,
    "icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
    "icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
    "icmp6-nodeinformationresponse": 140, "icmp6-ineighbordiscoverysolicit": 141,
    "icmp6-ineighbordiscoveryadvert": 142, "icmp6-multicastlistenerreportv2": 143,
    "icmp6-homeagentdiscoveryrequest": 144, "icmp6-homeagentdiscoveryreply": 145,
    "icmp6-mobileprefixsolicit": 146, "icmp6-mobileprefixadvert": 147,
    "icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
    "icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
    "icmp6-multicastrouterterm": 153,
    "tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
    "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
}

_N = r"(?:0[xX][0-9A-Fa-f]+|[0-9]+)"
_B = r"[0-9A-Fa-f]{1,2}"
_B2 = r"[0-9A-Fa-f]{4}"
_W = r"[0-9A-Fa-f]{1,4}"
_V4 = rf"{_N}\.{_N}\.{_N}\.{_N}"


def _v6_patterns() -> list[str]:
    """The V680..V6004 alternatives of scanner.l, one regex each (flex takes the longest)."""
    pats = [":".join([_W] * 8)]
    for total in range(7, -1, -1):  # groups written around the '::'
        for left in range(total + 1):
            right = total - left
            pats.append(":".join([_W] * left) + "::" + ":".join([_W] * right))
    for total in range(6, -1, -1):  # ...:a.b.c.d forms
        if total == 6:
            pats.append(":".join([_W] * 6) + ":" + _V4)
            continue
        for left in range(total + 1):
            right = total - left
            tail = ":".join([_W] * right)
            pats.append(":".join([_W] * left) + "::" + (tail + ":" if tail else "") + _V4)
    return pats


# (kind, regex) rules after the keywords, in scanner.l order
_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("WS", re.compile(r"[ \r\n\t]")),
    ("CHAR", re.compile(r"[+\-*/%:\[\]!<>()&|^=]")),
    ("GEQ", re.compile(r">=")),
    ("LEQ", re.compile(r"<=")),
    ("NEQ", re.compile(r"!=")),
    ("=", re.compile(r"==")),
    ("LSH", re.compile(r"<<")),
    ("RSH", re.compile(r">>")),
    ("AID", re.compile(rf"\${_B}")),
    ("EID", re.compile(rf"{_B}:{_B}:{_B}:{_B}:{_B}:{_B}")),
    ("EID", re.compile(rf"{_B}-{_B}-{_B}-{_B}-{_B}-{_B}")),
    ("EID", re.compile(rf"{_B}\.{_B}\.{_B}\.{_B}\.{_B}\.{_B}")),
    ("EID", re.compile(rf"{_B2}\.{_B2}\.{_B2}")),
    ("EID", re.compile(rf"(?:{_B2}){{3}}")),
    ("NUM", re.compile(r"0[xX][0-9A-Fa-f]+")),
    ("NUM", re.compile(r"[0-9]+")),
    ("HID", re.compile(rf"{_N}\.{_N}")),
    ("HID", re.compile(rf"{_N}\.{_N}\.{_N}")),
    ("HID", re.compile(_V4)),
    *[("HID6", re.compile(p)) for p in _v6_patterns()],
    ("BOGUS_EID", re.compile(rf"{_B}:+(?:{_B}:+)+")),
    ("ID", re.compile(r"[A-Za-z0-9](?:[-_.A-Za-z0-9]*[.A-Za-z0-9])?")),
    ("ESCID", re.compile(r"\\[^ !()\n\t]+")),
]
_ID_START = re.compile(r"[A-Za-z0-9]")


def _stou(text: str) -> tuple[int | None, str | None]:
    """scanner.l stou(): the value, or the libpcap error message."""
    if text[:2] in ("0x", "0X"):
        value = int(text[2:], 16)
    elif text.startswith("0"):
        if any(c in "89" for c in text):
            return None, f"number {text} contains non-octal digit"
        value = int(text, 8)
    else:
        value = int(text)
    if value > 0xFFFFFFFF:
        return None, f"number {text} overflows 32 bits"
    return value, None


def _longest(rx: re.Pattern[str], text: str, pos: int) -> int:
    m = rx.match(text, pos)
    return m.end() - pos if m else 0


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``EOF`` token.

    Scanning stops at the first character no rule accepts (a ``LEX_ERROR`` token, which the
    grammar never accepts) or at a number libpcap refuses; bison reads tokens lazily, so tokens
    after that point could never matter.
    """
    tokens: list[Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        best_len = 0
        best_kind = ""
        # keyword rules come first in scanner.l
        if _ID_START.match(text, pos) or text[pos] in "&|":
            for kw_len in range(min(32, n - pos), 0, -1):
                if text[pos:pos + kw_len] in KEYWORDS:
                    best_len, best_kind = kw_len, "KW"
                    break
        for kind, rx in _RULES:
            if kind == "HID6" and text[pos] not in "0123456789abcdefABCDEF:":
                continue
            length = _longest(rx, text, pos)
            if length > best_len:
                best_len, best_kind = length, kind
        # the named constants sit between the bogus-address rule and ID
        if best_kind in ("ID", "NUM", "KW", ""):
            for const_len in range(min(40, n - pos), 0, -1):
                word = text[pos:pos + const_len]
                if word in NAMED_NUMBERS:
                    rank_ok = const_len > best_len or (const_len == best_len and best_kind == "ID")
                    if rank_ok:
                        best_len, best_kind = const_len, "CONST"
                    break
        if best_len == 0:
            tokens.append(Token("LEX_ERROR", text[pos]))
            break
        word = text[pos:pos + best_len]
        pos += best_len
        if best_kind == "WS":
            continue
        if best_kind == "KW":
            tokens.append(Token(KEYWORDS[word], word))
        elif best_kind == "CHAR":
            tokens.append(Token(word, word))
        elif best_kind == "NUM":
            value, err = _stou(word)
            if err is not None:
                tokens.append(Token("LEX_ERROR", word, err=err))
                break
            tokens.append(Token("NUM", word, value))
        elif best_kind == "CONST":
            tokens.append(Token("NUM", word, NAMED_NUMBERS[word]))
        elif best_kind == "HID6":
            err = None
            try:
                ipaddress.IPv6Address(word)
            except ValueError:
                err = f"bogus IPv6 address {word}"
            tokens.append(Token("HID6", word, err=err))
        elif best_kind == "BOGUS_EID":
            tokens.append(Token("EID", word, err=f"bogus ethernet address {word}"))
        elif best_kind == "ESCID":
            tokens.append(Token("ID", word[1:], word[1:]))
        elif best_kind == "AID":
            tokens.append(Token("AID", word))
        else:  # ID, HID, EID, GEQ, LEQ, NEQ, '=', LSH, RSH
            tokens.append(Token(best_kind, word, word))
    tokens.append(Token("EOF", ""))
    return tokens
