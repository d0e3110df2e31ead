"""recvmsg() control messages in packetdrill scripts: cmsg_new's expected messages and
cmsg_expect_eq's comparison (run_system_call.c).

Guarantees: the expected messages are (level, type, (kind, value)) with kind "int" (an int's 4
bytes), "ee" (a sock_extended_err's six fields) or "ts" (a scm_timestamping's ts[0]); each
received message is compared in order by level, type and length, then an IP_RECVERR's
sock_extended_err field by field, a SCM_TIMESTAMPING's ts[0] within --tolerance_usecs of the
script time (zeros unchecked), anything else byte for byte; then the counts, with packetdrill's
messages. OPT_STATS expectations are ``Unsupported``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from tuxnet.sock import constants as C
from tuxnet.socket import CMSG_HDR_LEN
from tuxnet.tools.packetdrill import Cmsg, Int, ListExpr, ScmTimestamping, SockExtendedErr
from tuxnet.tools.packetdrill.errors import Unsupported
from tuxnet.tools.packetdrill.syscalls import U32, CallError, Syscalls, evaluate, type_name

if TYPE_CHECKING:
    from tuxnet.tools.packetdrill.runner import Run

_EXTERR = struct.Struct("=IBBBBII")
_SCM_TS = struct.Struct("=qqqqqq")
IP_RECVERR = 11


def cmsg_expected(control: ListExpr | None) -> list[tuple[int, int, Any]]:
    """cmsg_new: the script's expected cmsgs as (level, type, (kind, value)): an int's 4 bytes, a
    sock_extended_err's fields, a scm_timestamping's ts[0]."""
    out = []
    for item in control.items if control is not None else ():
        if not isinstance(item, Cmsg):
            raise CallError(f"Bad type; actual: {type_name(item)} expected: cmsg")
        level, ctype = Syscalls.s32(evaluate(item.level)), Syscalls.s32(evaluate(item.type))
        data = item.data
        if isinstance(data, SockExtendedErr):
            vals = [Syscalls.s32(evaluate(f)) for f in (data.ee_errno, data.ee_origin, data.ee_type,
                                                         data.ee_code, data.ee_info, data.ee_data)]
            out.append((level, ctype, ("ee", vals)))
        elif isinstance(data, ScmTimestamping):
            out.append((level, ctype, ("ts", (data.sec, data.nsec))))
        else:
            d = evaluate(data)
            if isinstance(d, Int):
                out.append((level, ctype, ("int", struct.pack("=i", Syscalls.s32(d)))))
            elif isinstance(d, ListExpr):
                raise Unsupported("SCM_TIMESTAMPING_OPT_STATS expectations")
            else:
                raise CallError("Unrecognized type for cmsg_data")
    return out


def cmsg_len(level: int, kind: str, raw: Any) -> int:
    if kind == "ee":
        return 16 + (16 if level == C.SOL_IP else 28)
    if kind == "ts":
        return _SCM_TS.size
    return len(raw)


def cmsg_expect_eq(run: Run, expected: list[tuple[int, int, Any]], actual: list[Any]) -> None:
    """cmsg_expect_eq: level, type and length of each cmsg in order, then its data (sock_extended_err
    field by field, scm_timestamping within the tolerance of the script time, else the bytes)."""
    pairs = zip(expected, actual, strict=False)
    for i, ((elevel, etype, (kind, val)), (alevel, atype, adata)) in enumerate(pairs):
        if alevel != elevel:
            raise CallError(f"Bad level in cmsg {i}: expected={elevel} actual={alevel}")
        if atype != etype:
            raise CallError(f"Bad type in cmsg {i}: expected={etype} actual={atype}")
        elen, alen = CMSG_HDR_LEN + cmsg_len(elevel, kind, val), CMSG_HDR_LEN + len(adata)
        if alen != elen:
            raise CallError(f"Bad len in cmsg {i}: expected={elen} actual={alen}")
        if (alevel, atype) in ((C.SOL_IP, IP_RECVERR), (41, 25)):
            if kind != "ee":
                raise CallError(f"Bad data in cmsg {i}: expected is not a sock_extended_err")
            got = _EXTERR.unpack_from(adata)
            names = ("errno", "origin", "type", "code", "info", "data")
            for name, want, have in zip(names, val, (got[0], got[1], got[2], got[3], got[5], got[6]),
                                        strict=True):
                if want & U32 != have:
                    raise CallError(f"Bad {name} in extended err {i}: expected={want & U32} actual={have}")
        elif (alevel, atype) == (C.SOL_SOCKET, C.SCM_TIMESTAMPING) and kind == "ts":
            ts = _SCM_TS.unpack_from(adata)
            sec, nsec = val
            if sec or nsec:  # only ts[0] can be given in a script; zeros are ignored
                start_usecs = run.start_ns // 1000
                exp_usecs = start_usecs + sec * 1_000_000 + nsec // 1000
                act_usecs = ts[0] * 1_000_000 + ts[1] // 1000
                if abs(exp_usecs - act_usecs) > run.config.tolerance_usecs:
                    raise CallError(f"Bad timestamp 0 in scm_timestamping {i}: expected={exp_usecs} "
                                    f"({exp_usecs - start_usecs}) actual={act_usecs} "
                                    f"({act_usecs - start_usecs}) start={start_usecs}")
        else:
            wd, gd = (val if kind == "int" else b""), bytes(adata)
            if gd != wd:
                ev = struct.unpack("=i", wd)[0] if len(wd) == 4 else wd.hex()
                av = struct.unpack("=i", gd)[0] if len(gd) == 4 else gd.hex()
                raise CallError(f"Bad data in cmsg {i}: expected={ev} actual={av}")
    n = min(len(expected), len(actual))
    if len(actual) > n:
        raise CallError(f"received more than {n} cmsgs")
    if len(expected) > n:
        raise CallError(f"received only {n} cmsgs")
