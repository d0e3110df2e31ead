"""tc(8) from iproute2 6.1, for root qdiscs: ``tc [-s] qdisc {add|replace|change|link|del|show} ...``.

Syntax, output, messages and exit codes follow iproute2 6.1 against a Linux 6.x kernel:
``qdisc netem 8001: root refcnt 2 limit 1000 delay 10ms  1ms loss 1%``; with ``-s`` the
``Sent N bytes M pkt (dropped D, overlimits O requeues R)`` and ``backlog`` lines. Option parsing
is done here, as tc does in user space (q_netem.c, q_tbf.c, with tc's microsecond/tick arithmetic:
``delay 1.5ms`` becomes 23437 ticks of 64 ns); the qdiscs then behave as the kernel's.

Exit codes as tc: 0 success, 1 bad options or unknown device, 2 an error the kernel returned
(``Error: Specified qdisc kind is unknown.``, ``RTNETLINK answers: Invalid argument``), 255 bad usage
(``Command "x" is unknown, try "tc qdisc help".``).

Differences, each a tuxnet limit: devices have one transmit queue, so a root qdisc shows ``refcnt 2``;
only root qdiscs exist (no classes, filters, ingress/clsact, ``parent``); qdisc handles are numbered
per namespace; a device that is down shows no default qdisc even if it was up before (Linux keeps
showing it once the device was ever up); netem ``slot`` and rate percentages are not supported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from tuxnet.sched import QDISCS, Qdisc, create_qdisc, make_default_qdisc
from tuxnet.sched import netem as nm
from tuxnet.sched.netem import NetemOpt, dist_table, get_rate64, get_size, get_time, parse_percent
from tuxnet.sched.tbf import TbfOpt, limit_from_latency
from tuxnet.tools.ip.common import matches

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.netns import Namespace

TC_USAGE = (
    "Usage:\ttc [ OPTIONS ] OBJECT { COMMAND | help }\n\ttc [-force] -batch filename\n"
    "where  OBJECT := { qdisc | class | filter | chain |\n\t\t    action | monitor | exec }\n"
    "       OPTIONS := { -V[ersion] | -s[tatistics] | -d[etails] | -r[aw] |\n"
    "\t\t    -o[neline] | -j[son] | -p[retty] | -c[olor]\n"
    "\t\t    -b[atch] [filename] | -n[etns] name | -N[umeric] |\n"
    "\t\t     -nm | -nam[es] | { -cf | -conf } path\n"
    "\t\t     -br[ief] }\n"
)

QDISC_USAGE = """\
Usage: tc qdisc [ add | del | replace | change | show ] dev STRING
       [ handle QHANDLE ] [ root | ingress | clsact | parent CLASSID ]
       [ estimator INTERVAL TIME_CONSTANT ]
       [ stab [ help | STAB_OPTIONS] ]
       [ ingress_block BLOCK_INDEX ] [ egress_block BLOCK_INDEX ]
       [ [ QDISC_KIND ] [ help | OPTIONS ] ]

       tc qdisc { show | list } [ dev STRING ] [ QDISC_ID ] [ invisible ]
Where:
QDISC_KIND := { [p|b]fifo | tbf | prio | cbq | red | etc. }
OPTIONS := ... try tc qdisc add <desired QDISC_KIND> help
STAB_OPTIONS := ... try tc qdisc add stab help
QDISC_ID := { root | ingress | handle QHANDLE | parent CLASSID }
"""

NETEM_USAGE = """\
Usage: ... netem [ limit PACKETS ]
                 [ delay TIME [ JITTER [CORRELATION]]]
                 [ distribution {uniform|normal|pareto|paretonormal} ]
                 [ corrupt PERCENT [CORRELATION]]
                 [ duplicate PERCENT [CORRELATION]]
                 [ loss random PERCENT [CORRELATION]]
                 [ loss state P13 [P31 [P32 [P23 P14]]]
                 [ loss gemodel PERCENT [R [1-H [1-K]]]
                 [ ecn ]
                 [ reorder PERCENT [CORRELATION] [ gap DISTANCE ]]
                 [ rate RATE [PACKETOVERHEAD] [CELLSIZE] [CELLOVERHEAD]]
                 [ slot MIN_DELAY [MAX_DELAY] [packets MAX_PACKETS] [bytes MAX_BYTES]]
                 [ slot distribution {uniform|normal|pareto|paretonormal|custom}
                   DELAY JITTER [packets MAX_PACKETS] [bytes MAX_BYTES]]
"""

TBF_USAGE = (
    "Usage: ... tbf limit BYTES burst BYTES[/BYTES] rate KBPS [ mtu BYTES[/BYTES] ]\n"
    "\t[ peakrate KBPS ] [ latency TIME ] [ overhead BYTES ] [ linklayer TYPE ]\n"
)

ROOT = "root"


class TcExit(Exception):
    """Stop with this exit code after the message (already formatted) is written to stderr."""

    def __init__(self, rc: int, message: str = "") -> None:
        super().__init__(message)
        self.rc = rc
        self.message = message


class Args:
    """argv with iproute2's NEXT_ARG / NEXT_ARG_OK."""

    __slots__ = ("argv", "i")

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.i = 0

    def more(self) -> bool:
        return self.i < len(self.argv)

    @property
    def cur(self) -> str:
        return self.argv[self.i]

    def next(self) -> str:
        self.i += 1
        if self.i >= len(self.argv):
            raise TcExit(255, 'Command line is not complete. Try option "help"\n')
        return self.argv[self.i]

    def next_is_number(self, signed: bool = False) -> bool:
        if self.i + 1 >= len(self.argv):
            return False
        c = self.argv[self.i + 1][:1]
        return c.isdigit() or (signed and c == "-")

    def rest(self) -> list[str]:
        return self.argv[self.i:]


def _get_u32(text: str) -> int:
    v = int(text, 0)
    if not 0 <= v <= nm.U32_MAX:
        raise ValueError(text)
    return v


def _get_s32(text: str) -> int:
    v = int(text, 0)
    if not -(1 << 31) <= v < (1 << 31):
        raise ValueError(text)
    return v


# ================================================================ netem options (q_netem.c)
def parse_netem(argv: list[str]) -> NetemOpt:
    def illegal(what: str) -> TcExit:
        return TcExit(1, f'Illegal "{what}"\n')

    def fraction(text: str, what: str) -> float:
        try:
            return parse_percent(text)
        except ValueError:
            raise illegal(what) from None

    def percent(text: str, what: str) -> int:
        return nm.percent_to_u32(fraction(text, what))

    def ticks(text: str, what: str) -> int:
        try:
            t = get_time(text)
        except ValueError:
            raise illegal(what) from None
        if (t * nm.TICK_IN_USEC) >= (1 << 32):
            raise TcExit(1, f"Illegal {t} time (too large)\n")
        return nm.time2tick(t)

    o = NetemOpt()
    cor = [0, 0, 0]
    present_corr = False
    reorder: list[int] | None = None
    corrupt: list[int] | None = None
    ecn = False
    a = Args(argv)
    while a.more():
        arg = a.cur
        if matches(arg, "limit"):
            v = a.next()
            try:
                o.limit = get_size(v)
            except ValueError:
                raise illegal("limit") from None
        elif matches(arg, "latency") or matches(arg, "delay"):
            o.latency_ns = ticks(a.next(), "latency") << nm.PSCHED_SHIFT
            if a.next_is_number():
                o.jitter_ns = ticks(a.next(), "latency") << nm.PSCHED_SHIFT
                if a.next_is_number():
                    present_corr = True
                    cor[0] = percent(a.next(), "latency")
        elif matches(arg, "loss") or matches(arg, "drop"):
            if o.loss > 0 or o.loss_model is not None:
                raise illegal("duplicate loss argument\n")
            v = a.next()
            if v[:1].isdigit() or v == "random":
                if v == "random":
                    v = a.next()
                o.loss = percent(v, "loss percent")
                if a.next_is_number():
                    present_corr = True
                    cor[1] = percent(a.next(), "loss correlation")
            elif v == "state":
                p13 = fraction(a.next(), "loss p13")
                u = nm.percent_to_u32
                gi = [u(p13), u(1.0 - p13), 0, u(1.0), 0]  # p13 p31 p32 p23 p14 and their defaults
                for k, what in enumerate(("loss p31", "loss p32", "loss p23", "loss p14"), start=1):
                    if not a.next_is_number():
                        break
                    gi[k] = percent(a.next(), what)
                o.loss_model = ("gi", *gi)
            elif v == "gemodel":
                p = fraction(a.next(), "loss gemodel p")
                ge = [nm.percent_to_u32(p), nm.percent_to_u32(1.0 - p), 0, 0]  # p r h k1
                for k, what in enumerate(("loss gemodel r", "loss gemodel h", "loss gemodel k"), start=1):
                    if not a.next_is_number():
                        break
                    ge[k] = percent(a.next(), what)
                    if k == 2:
                        ge[2] = nm.U32_MAX - ge[2]  # the option is 1-h, the kernel wants h
                o.loss_model = ("ge", *ge)
            else:
                raise TcExit(1, f"Unknown loss parameter: {v}\n")
        elif matches(arg, "ecn"):
            ecn = True
        elif matches(arg, "reorder"):
            reorder = [percent(a.next(), "reorder"), 0]
            if a.next_is_number():
                present_corr = True
                reorder[1] = percent(a.next(), "reorder")
        elif matches(arg, "corrupt"):
            corrupt = [percent(a.next(), "corrupt"), 0]
            if a.next_is_number():
                present_corr = True
                corrupt[1] = percent(a.next(), "corrupt")
        elif matches(arg, "gap"):
            v = a.next()
            try:
                o.gap = _get_u32(v)
            except ValueError:
                raise illegal("gap") from None
        elif matches(arg, "duplicate"):
            o.duplicate = percent(a.next(), "duplicate")
            if a.next_is_number():
                cor[2] = percent(a.next(), "duplicate")  # q_netem.c does not mark TCA_NETEM_CORR here
        elif matches(arg, "distribution"):
            try:
                o.dist = dist_table(a.next())
            except ValueError as e:
                raise TcExit(1, f"{e}\n") from None
        elif matches(arg, "rate"):
            v = a.next()
            try:
                if "%" in v:
                    raise ValueError(v)  # a percentage of the link speed: no speed in the lab
                rate = get_rate64(v)
                po = _get_s32(a.next()) if a.next_is_number(signed=True) else 0
                cs = _get_u32(a.next()) if a.next_is_number() else 0
                co = _get_s32(a.next()) if a.next_is_number(signed=True) else 0
            except ValueError:
                raise illegal("rate") from None
            o.rate = (rate, po, cs, co)
        elif matches(arg, "slot"):
            raise TcExit(1, 'netem: "slot" is not supported in tuxnet\n')
        else:
            msg = "" if arg == "help" else f'What is "{arg}"?\n'
            raise TcExit(1, msg + NETEM_USAGE)
        a.i += 1
    if reorder is not None and reorder[0]:
        if o.latency_ns == 0:
            raise TcExit(1, "reordering not possible without specifying some delay\n" + NETEM_USAGE)
        if o.gap == 0:
            o.gap = 1
    elif o.gap > 0:
        raise TcExit(1, "gap specified without reorder probability\n" + NETEM_USAGE)
    if ecn and o.loss <= 0 and o.loss_model is None:
        raise TcExit(1, "ecn requested without loss model\n" + NETEM_USAGE)
    if o.dist is not None and (o.latency_ns == 0 or o.jitter_ns == 0):
        raise TcExit(1, "distribution specified but no latency and jitter values\n" + NETEM_USAGE)
    if present_corr:
        o.corr = (cor[0], cor[1], cor[2])
    if reorder is not None:
        o.reorder = (reorder[0], reorder[1])
    if corrupt is not None:
        o.corrupt = (corrupt[0], corrupt[1])
    o.ecn = True if ecn else None  # TCA_NETEM_ECN is only sent when asked for
    return o


# ================================================================ tbf options (q_tbf.c)
def parse_tbf(argv: list[str]) -> TbfOpt:
    def illegal(name: str, value: str) -> TcExit:
        return TcExit(1, f'tbf: illegal value for "{name}": "{value}"\n')

    def dup(what: str) -> TcExit:
        return TcExit(1, f'tbf: duplicate "{what}" specification\n')

    def size_and_cell(name: str, text: str) -> int:
        base, _, cell = text.partition("/")
        try:
            n = get_size(base)
            if cell and (int(cell, 0) <= 0 or int(cell, 0) & (int(cell, 0) - 1)):
                raise ValueError(cell)
        except ValueError:
            raise illegal(name, text) from None
        return n

    limit = latency = buffer = mtu = mpu = overhead = 0
    rate = prate = 0
    a = Args(argv)
    while a.more():
        arg = a.cur
        if matches(arg, "limit"):
            v = a.next()
            if limit:
                raise dup("limit")
            if latency:
                raise TcExit(1, 'tbf: specifying both "latency" and "limit" is not allowed\n')
            try:
                limit = get_size(v)
            except ValueError:
                raise illegal("limit", v) from None
        elif matches(arg, "latency"):
            v = a.next()
            if latency:
                raise dup("latency")
            if limit:
                raise TcExit(1, 'tbf: specifying both "limit" and "/latency" is not allowed\n')
            try:
                latency = get_time(v)
            except ValueError:
                raise illegal("latency", v) from None
        elif matches(arg, "burst") or arg in ("buffer", "maxburst"):
            v = a.next()
            if buffer:
                raise dup("buffer/burst/maxburst")
            buffer = size_and_cell(arg, v)
        elif arg in ("mtu", "minburst"):
            v = a.next()
            if mtu:
                raise dup("mtu/minburst")
            mtu = size_and_cell(arg, v)
        elif arg == "mpu":
            v = a.next()
            if mpu:
                raise dup("mpu")
            try:
                mpu = get_size(v)
            except ValueError:
                raise illegal("mpu", v) from None
        elif arg in ("rate", "peakrate") or matches(arg, "peakrate"):
            name = "rate" if arg == "rate" else "peakrate"
            v = a.next()
            if (rate if name == "rate" else prate):
                raise dup(name)
            try:
                if "%" in v:
                    raise ValueError(v)
                r = get_rate64(v)
            except ValueError:
                raise illegal(name, v) from None
            if name == "rate":
                rate = r
            else:
                prate = r
        elif matches(arg, "overhead"):
            v = a.next()
            if overhead:
                raise dup("overhead")
            try:
                overhead = int(v, 10)
                if not 0 <= overhead <= 0xFFFF:
                    raise ValueError(v)
            except ValueError:
                raise illegal("overhead", v) from None
        elif matches(arg, "linklayer"):
            v = a.next()
            if not matches(v, "ethernet"):
                raise illegal("linklayer", v)  # ATM cell accounting is not modelled
        elif arg == "help":
            raise TcExit(1, TBF_USAGE)
        else:
            raise TcExit(1, f'tbf: unknown parameter "{arg}"\n' + TBF_USAGE)
        a.i += 1
    msg = ""
    if rate == 0:
        msg += 'tbf: the "rate" parameter is mandatory.\n'
    if not buffer:
        msg += 'tbf: the "burst" parameter is mandatory.\n'
    if prate and not mtu:
        msg += 'tbf: when "peakrate" is specified, "mtu" must also be specified.\n'
    if limit == 0 and latency == 0:
        msg += 'tbf: either "limit" or "latency" is required.\n'
    if msg:
        raise TcExit(1, msg + TBF_USAGE)
    if limit == 0:
        limit = limit_from_latency(rate, buffer, latency, prate, mtu)
    return TbfOpt(rate, buffer, limit, prate, mtu if prate else 0, mpu, overhead)


# ================================================================ tc qdisc
def _parse_handle(text: str) -> str:
    """get_qdisc_handle: "1:" or "1" -> "1:"; "none" -> "0:"."""
    if text == "none":
        return "0:"
    major, sep, rest = text.partition(":")
    try:
        v = int(major, 16)
    except ValueError:
        v = -1
    if v < 0 or v >= 1 << 16 or rest:
        raise TcExit(255, f'Error: argument "{text}" is wrong: invalid qdisc ID\n')
    return f"{v:x}:"


def _is_default(q: Qdisc) -> bool:
    return q.handle == "0:"


def _new_qdisc(dev: NetDevice, kind: str, opt: object, handle: str | None) -> Qdisc:
    if kind in ("netem", "tbf"):
        q = create_qdisc(dev, kind, opt=opt, handle=handle)
    else:
        q = create_qdisc(dev, kind)
        q.handle = handle or nm.alloc_handle(dev)
    return q


def _graft(dev: NetDevice, new: Qdisc) -> None:
    """qdisc_graft on the root: the old qdisc is destroyed with what it held."""
    old = dev.qdisc
    dev.qdisc = new
    if old is not None and old is not new:
        getattr(old, "destroy", old.reset)()


def qdisc_modify(ns: Namespace, cmd: str, argv: list[str], err: TextIO) -> int:
    """tc_qdisc_modify + the kernel's tc_modify_qdisc / tc_get_qdisc for root qdiscs."""
    a = Args(argv)
    devname: str | None = None
    handle: str | None = None
    parent: str | None = None
    kind: str | None = None
    opts: list[str] = []
    while a.more():
        arg = a.cur
        if arg == "dev":
            v = a.next()
            if devname is not None:
                raise TcExit(255, f'Error: duplicate "dev": "{v}" is the second value.\n')
            devname = v
        elif arg == "handle":
            v = a.next()
            if handle is not None:
                raise TcExit(255, f'Error: duplicate "handle": "{v}" is the second value.\n')
            handle = _parse_handle(v)
        elif arg == "root":
            if parent is not None:
                raise TcExit(255, 'Error: "root" is duplicate parent ID\n')
            parent = ROOT
        elif arg in ("ingress", "clsact"):
            if parent is not None:
                raise TcExit(255, f'Error: "{arg}" is duplicate parent ID\n')
            parent = arg
            kind = arg
        elif arg == "parent":
            v = a.next()
            if parent is not None:
                raise TcExit(255, f'Error: duplicate "parent": "{v}" is the second value.\n')
            parent = v
        elif matches(arg, "help"):
            raise TcExit(0, QDISC_USAGE)
        else:
            kind = arg
            a.i += 1
            opts = a.rest()
            break
        a.i += 1

    opt: object = None
    if kind == "netem":
        opt = parse_netem(opts)
    elif kind == "tbf":
        opt = parse_tbf(opts)
    elif kind == "pfifo_fast":
        if opts:
            raise TcExit(255, "qdisc 'pfifo_fast' does not support option parsing\n")
    elif kind is not None and opts:
        raise TcExit(1, f'Unknown qdisc "{kind}", hence option "{opts[0]}" is unparsable\n')

    if devname is None:
        raise TcExit(2, "RTNETLINK answers: No such device\n")
    dev = ns.devices.get(devname)
    if dev is None:
        raise TcExit(1, f'Cannot find device "{devname}"\n')

    # ---- the kernel's side (net/sched/sch_api.c: tc_get_qdisc, tc_modify_qdisc), root qdiscs only
    cur = dev.qdisc
    if parent not in (None, ROOT):
        raise TcExit(2, "Error: Failed to find specified qdisc.\n")
    if cmd == "del":
        if parent is None:  # looked up by handle alone; there is no classid to delete it from
            if handle is not None and not _is_default(cur) and cur.handle == handle:
                raise TcExit(2, "Error: Classid cannot be zero.\n")
            raise TcExit(2, "Error: Failed to find qdisc with specified handle.\n")
        if handle is not None and handle != cur.handle:
            raise TcExit(2, "Error: Invalid handle.\n")
        if kind is not None and kind != cur.kind:
            raise TcExit(2, "Error: Invalid qdisc name.\n")
        if _is_default(cur):
            raise TcExit(2, "Error: Cannot delete qdisc with handle of zero.\n")
        _graft(dev, make_default_qdisc(dev))
        return 0

    create, replace, excl = cmd in ("add", "replace"), cmd in ("replace", "link"), cmd == "add"
    q = None if _is_default(cur) else cur  # "It may be default qdisc, ignore it"
    graft = False
    if parent is None:
        if handle is None:
            raise TcExit(2, "Error: Handle cannot be zero.\n")
        if q is None or q.handle != handle:
            raise TcExit(2, "Error: Specified qdisc not found.\n")
    elif q is None or handle is None or q.handle != handle:
        if handle is not None:
            if q is not None and not replace:
                raise TcExit(2, "Error: NLM_F_REPLACE needed to override.\n")
            graft = True
        elif q is None or (kind is not None and kind != q.kind and not excl):
            # a request naming another kind replaces the root qdisc; Linux 6.x does this for
            # "change" too (checked against the kernel), not only for "replace"
            graft = True
    if graft:
        if not create and q is None:
            raise TcExit(2, "Error: Qdisc not found. To create specify NLM_F_CREATE flag.\n")
        if kind is None or kind not in QDISCS:
            raise TcExit(2, "Error: Specified qdisc kind is unknown.\n")
        try:
            new = _new_qdisc(dev, kind, opt, handle)
        except OSError as e:
            raise TcExit(2, f"RTNETLINK answers: {e.strerror}\n") from None
        _graft(dev, new)
        return 0
    assert q is not None
    if excl:
        raise TcExit(2, "Error: Exclusivity flag on, cannot modify.\n")
    if kind is not None and kind != q.kind:
        raise TcExit(2, "Error: Invalid qdisc name.\n")
    apply = getattr(q, "apply", None)
    if opt is not None and apply is not None:
        try:
            apply(opt)
        except OSError as e:
            raise TcExit(2, f"RTNETLINK answers: {e.strerror}\n") from None
    return 0


def print_qdisc(dev: NetDevice, q: Qdisc, show_dev: bool, stats: int, out: TextIO) -> None:
    """print_qdisc (tc/tc_qdisc.c)."""
    line = f"qdisc {q.kind} {q.handle} "
    if show_dev:
        line += f"dev {dev.name} "
    line += "root refcnt 2 " + q.describe()
    out.write(line + "\n")
    if stats:
        st = q.stats
        out.write(f" Sent {st.bytes} bytes {st.packets} pkt (dropped {st.drops}, overlimits "
                  f"{st.overlimits} requeues {st.requeues}) \n")
        out.write(f" backlog {nm.sprint_size(st.backlog)} {st.qlen}p requeues {st.requeues}\n")


def qdisc_list(ns: Namespace, argv: list[str], stats: int, out: TextIO) -> int:
    """tc_qdisc_list."""
    a = Args(argv)
    devname: str | None = None
    handle: str | None = None
    want_root = True
    while a.more():
        arg = a.cur
        if arg == "dev":
            v = a.next()
            if devname is not None:
                raise TcExit(255, f'Error: duplicate "dev": "{v}" is the second value.\n')
            devname = v
        elif arg == "root":
            pass
        elif arg == "ingress":
            want_root = False
        elif arg == "handle":
            handle = _parse_handle(a.next())
        elif arg == "parent":
            a.next()
            want_root = False
        elif arg == "invisible":
            pass
        elif matches(arg, "help"):
            raise TcExit(0, QDISC_USAGE)
        else:
            raise TcExit(255, f'What is "{arg}"? Try "tc qdisc help".\n')
        a.i += 1
    if devname is not None:
        dev = ns.devices.get(devname)
        if dev is None:
            raise TcExit(1, f'Cannot find device "{devname}"\n')
        devs = [dev]
    else:
        devs = [ns.by_index[i] for i in sorted(ns.by_index)]
    if not want_root:
        return 0
    for dev in devs:
        q = dev.qdisc
        if q is None or (not dev.is_up and _is_default(q)):
            continue  # noop_qdisc (TCQ_F_BUILTIN) is not dumped
        if handle is not None and q.handle != handle:
            continue
        print_qdisc(dev, q, devname is None, stats, out)
    return 0


async def main(ns: Namespace, argv: list[str], out: TextIO, err: TextIO) -> int:
    stats = 0
    i = 0
    while i < len(argv) and argv[i].startswith("-") and len(argv[i]) > 1:
        opt = argv[i]
        if opt.startswith("--"):
            opt = opt[1:]
        if matches(opt, "-stats") or matches(opt, "-statistics"):
            stats += 1
        elif matches(opt, "-details") or matches(opt, "-raw") or matches(opt, "-pretty") \
                or matches(opt, "-iec") or matches(opt, "-oneline") or matches(opt, "-Numeric"):
            pass
        elif matches(opt, "-Version"):
            out.write("tc utility, iproute2-6.1.0\n")
            return 0
        elif matches(opt, "-help"):
            err.write(TC_USAGE)
            return 0
        else:
            err.write(f'Option "{argv[i]}" is unknown, try "tc -help".\n')
            return 255
        i += 1
    argv = argv[i:]
    try:
        if not argv:
            err.write(TC_USAGE)
            return 0
        obj, rest = argv[0], argv[1:]
        if matches(obj, "help"):
            err.write(TC_USAGE)
            return 0
        if not matches(obj, "qdisc"):
            err.write(f'Object "{obj}" is unknown, try "tc help".\n')
            return 255
        if not rest:
            return qdisc_list(ns, [], stats, out)
        cmd = rest[0]
        for name in ("add", "change", "replace", "link"):
            if matches(cmd, name):
                return qdisc_modify(ns, name, rest[1:], err)
        if matches(cmd, "delete"):
            return qdisc_modify(ns, "del", rest[1:], err)
        if matches(cmd, "list") or matches(cmd, "show") or matches(cmd, "lst"):
            return qdisc_list(ns, rest[1:], stats, out)
        if matches(cmd, "help"):
            err.write(QDISC_USAGE)
            return 0
        err.write(f'Command "{cmd}" is unknown, try "tc qdisc help".\n')
        return 255
    except TcExit as e:
        err.write(e.message)
        return e.rc


__all__ = ["main", "parse_netem", "parse_tbf", "matches"]
