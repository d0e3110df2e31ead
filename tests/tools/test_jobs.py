import asyncio

from tuxnet.lab.lab import Lab
from tuxnet.tools import TOOLS


async def _sleeper(ns, argv, out, err):
    """A stand-in tool: prints, sleeps, prints; prints 'interrupted' when cancelled."""
    out.write("start\n")
    try:
        await asyncio.sleep(float(argv[0]))
    except asyncio.CancelledError:
        out.write("interrupted\n")
        raise
    out.write("end\n")
    return int(argv[1]) if len(argv) > 1 else 0


def _lab(monkeypatch):
    import sys
    import types

    mod = types.ModuleType("tuxnet.tools.zzsleep")
    mod.main = _sleeper
    monkeypatch.setitem(sys.modules, "tuxnet.tools.zzsleep", mod)
    monkeypatch.setitem(TOOLS, "zzsleep", "zzsleep")
    lab = Lab()
    lab.add_host("h1")
    return lab, lab.node("h1")


def test_background_job_runs_while_time_advances_and_wait_reports(monkeypatch):
    lab, h = _lab(monkeypatch)
    assert h.cmd("zzsleep 5 &") == "[1] 1001\n"
    assert h.cmd("jobs") == "[1]   Running                 zzsleep 5\n"
    assert h.cmd("timeout 2 zzsleep 100") == "start\ninterrupted\n"
    assert lab.now == 2_000_000_000
    rc, out = h.cmd_rc("wait")
    assert rc == 0
    assert out == "start\nend\n[1]+  Done                    zzsleep 5\n"
    assert lab.now == 5_000_000_000
    assert h.cmd("jobs") == ""


def test_kill_interrupts_and_exit_codes(monkeypatch):
    lab, h = _lab(monkeypatch)
    h.cmd("zzsleep 50 &")
    h.cmd("zzsleep 1 3 &")
    rc, out = h.cmd_rc("wait %2")
    assert rc == 3 and out.endswith("[2]+  Exit 3                  zzsleep 1 3\n")
    rc, out = h.cmd_rc("kill %1")
    assert rc == 0 and out == "start\ninterrupted\n[1]+  Terminated              zzsleep 50\n"
    assert lab.now == 1_000_000_000
    rc, out = h.cmd_rc("wait %7")
    assert rc == 127 and "no such job" in out
