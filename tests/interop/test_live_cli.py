"""``tuxnet live`` as a user runs it: startup, commands, clean stop on SIGTERM/SIGINT (FIN to open
connections, capture flushed, TAP released), and one-line errors with a non-zero status for bad
input: not root, no /dev/net/tun, a busy TAP, a name that is not a TAP, bad addresses and services."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

import tuxnet.drivers.tap as tap_mod
from tuxnet.drivers.tap import tun_alloc
from tuxnet.lab.cli import main as cli_main
from tuxnet.wire.pcap import read_pcap

from .conftest import PY, TUXNET_IP, Live, needs_root, sh, unique

HOLD_OPEN = r'''
import json, socket, sys
s = socket.create_connection((sys.argv[1], 9), timeout=30)
s.sendall(b"x" * 1000)
print("connected", flush=True)
try:
    b = s.recv(10)
    print(json.dumps({"end": "eof" if b == b"" else "data"}))
except ConnectionResetError:
    print(json.dumps({"end": "reset"}))
'''


def partial_pcap(path) -> int:
    """Whole records in a capture that is still being written (its last record may be cut)."""
    from tuxnet.wire.pcap import PcapReader

    n = 0
    with open(path, "rb") as f:
        try:
            for _ in PcapReader(f):
                n += 1
        except Exception:
            pass
    return n


@pytest.mark.root
@needs_root
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_fin_and_flushed_capture(kernel, live, tmp_path, sig):
    pcap = tmp_path / "live.pcap"
    lv = live("--serve", "discard", "--pcap", str(pcap))
    client = kernel.popen([PY, "-c", HOLD_OPEN, TUXNET_IP], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert client.stdout.readline().strip() == "connected"
        t0 = time.time()
        while time.time() - t0 < 5 and not partial_pcap(pcap):
            time.sleep(0.1)  # the capture is flushed every second while the host runs
        assert partial_pcap(pcap), "nothing in the capture while running"
        assert lv.stop(sig) == 0, lv.text()
        out, err = client.communicate(timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert json.loads(out) == {"end": "eof"}, err  # a FIN, not a reset
    assert "stopped" in lv.stdout() and "Traceback" not in lv.text()
    frames = read_pcap(str(pcap))
    fins = [Ether(f) for _, _, f in frames if TCP in Ether(f) and Ether(f)[TCP].flags.F]
    assert any(f[IP].src == TUXNET_IP and f[TCP].sport == 9 for f in fins)
    assert all(abs(ts / 1e9 - t0) < 60 for ts, _, _ in frames)  # host time stamps
    # the TAP tuxnet created went away with it
    assert kernel.ip(f"link show {lv.tap}", check=False).returncode != 0


@pytest.mark.root
@needs_root
def test_commands_run_in_order_and_failures_set_the_status(kernel, persistent_tap):
    lv = Live(kernel, persistent_tap, ["--address", f"{TUXNET_IP}/24", "--gateway", "10.99.0.1",
                                       "--cmd", "ip route", "--cmd", "nosuchtool", "--cmd", "ip -br addr"])
    try:
        assert lv.wait() == 1, lv.text()
    finally:
        lv.kill()
    out = lv.stdout()
    assert "(attached," in lv.ready_line()
    assert out.index("=== ip route") < out.index("=== nosuchtool") < out.index("=== ip -br addr")
    assert "default via 10.99.0.1 dev " + persistent_tap in out
    assert "nosuchtool: command not found" in lv.text() and "--- exit 127" in out
    assert f"{persistent_tap}" in out.split("=== ip -br addr")[1] and f"{TUXNET_IP}/24" in out
    # a persistent TAP stays after tuxnet exits
    assert kernel.ip(f"link show {persistent_tap}").returncode == 0


@pytest.mark.root
@needs_root
def test_deleting_the_tap_ends_the_session_with_a_message(kernel, live):
    lv = live("--serve", "echo")
    kernel.ip(f"link del {lv.tap}")
    assert lv.wait(15) == 1, lv.text()
    assert f"tuxnet: {lv.tap}: File descriptor in bad state (was the TAP deleted?)\n" in lv.text()
    assert "Traceback" not in lv.text()


# ------------------------------------------------------------------------------ errors
def run_live(argv: list[str], capsys) -> tuple[int, str]:
    rc = cli_main(["live", *argv])
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


@pytest.mark.parametrize("argv,message", [
    (["--address", "10.0.0.300/24"], "invalid --address '10.0.0.300/24'"),
    (["--address", "10.0.0.2"], "invalid --address '10.0.0.2'"),
    (["--address", "224.0.0.1/24"], "invalid --address"),
    (["--address", "10.0.0.2/24", "--gateway", "10.0.0"], "invalid --gateway '10.0.0'"),
    (["--address", "10.0.0.2/24", "--serve", "echo,telnet"], "unknown service 'telnet'"),
    (["--address", "10.0.0.2/24", "--serve", "http:99999"], "bad port in service 'http:99999'"),
    (["--address", "10.0.0.2/24", "--serve", "echo", "--serve", "echo"], "service 'echo' given twice"),
])
def test_bad_arguments_are_refused_before_any_tap_exists(capsys, argv, message):
    rc, text = run_live(["--tap", "tnbad0", *argv], capsys)
    assert rc == 2 and text.startswith("tuxnet: ") and message in text and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1


def test_missing_dev_net_tun(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tap_mod, "TUN_PATH", str(tmp_path / "tun"))
    rc, text = run_live(["--tap", "tnbad0", "--address", "10.0.0.2/24"], capsys)
    assert rc == 1
    assert text.strip() == (f"tuxnet: cannot open {tmp_path / 'tun'}: No such file or directory (the tun "
                            "module is not loaded, or this container has no /dev/net/tun)")


def test_unwritable_pcap(capsys, tmp_path):
    rc, text = run_live(["--tap", "tnbad0", "--address", "10.0.0.2/24", "--pcap",
                         str(tmp_path / "no" / "such" / "dir.pcap")], capsys)
    assert rc == 2 and "cannot write" in text and "No such file or directory" in text


@pytest.mark.root
@needs_root
def test_not_root(tmp_path):
    tap = unique("tnu")
    lv = Live(None, tap, ["--address", "10.0.0.2/24"], user="65534")
    try:
        rc = lv.wait()
    finally:
        lv.kill()
    assert rc == 1, lv.text()
    assert lv.text().strip() == ("tuxnet: cannot open /dev/net/tun: Permission denied "
                                 "(live mode needs root or CAP_NET_ADMIN)")
    assert sh(["ip", "link", "show", tap], check=False).returncode != 0


@pytest.mark.root
@needs_root
def test_busy_tap(kernel):
    tap = unique("tnb")
    fd, created = tun_alloc(tap)  # this test process holds the TAP, in the root netns
    try:
        assert created
        lv = Live(None, tap, ["--address", "10.0.0.2/24", "--serve", "echo"])
        try:
            rc = lv.wait()
        finally:
            lv.kill()
    finally:
        import os

        os.close(fd)
    assert rc == 1 and lv.text().strip() == f"tuxnet: {tap} is busy (Device or resource busy)"


@pytest.mark.root
@needs_root
def test_not_a_tap_and_unreachable_gateway(kernel):
    lv = Live(kernel, "lo", ["--address", "10.0.0.2/24"])
    assert lv.wait() == 1
    assert lv.text().strip() == "tuxnet: lo exists and is not a TAP device (Invalid argument)"
    tap = unique("tng")
    lv = Live(kernel, tap, ["--address", "10.0.0.2/24", "--gateway", "192.168.7.1"])
    assert lv.wait() == 2
    assert lv.text().strip() == (f"tuxnet: ip route add default via 192.168.7.1 dev {tap}: "
                                 "Error: Nexthop has invalid gateway.")
    assert kernel.ip(f"link show {tap}", check=False).returncode != 0  # removed on the way out


@pytest.mark.root
@needs_root
def test_attaching_to_someone_elses_tap_without_privilege():
    """With /dev/net/tun open to all (as most distributions ship it), an unprivileged user may attach
    only to a TAP made for them: another's is EPERM, reported with the fix."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    where = Path(tempfile.mkdtemp())  # under /tmp: reachable by the unprivileged user (pytest's is not)
    where.chmod(0o755)
    node = where / "tun"
    os.mknod(node, 0o666 | 0o020000, os.makedev(10, 200))  # a world-writable /dev/net/tun
    node.chmod(0o666)
    tap = unique("tno")
    sh(["ip", "tuntap", "add", "dev", tap, "mode", "tap", "user", "0"])
    try:
        os.seteuid(65534)
        try:
            with pytest.raises(tap_mod.TapError) as e:
                tun_alloc(tap, path=str(node))
        finally:
            os.seteuid(0)
    finally:
        sh(["ip", "tuntap", "del", "dev", tap, "mode", "tap"], check=False)
        shutil.rmtree(where)
    assert str(e.value) == (f"tuxnet: cannot attach to {tap}: Operation not permitted (live mode needs root "
                            "or CAP_NET_ADMIN, or a TAP made for you with: "
                            f"ip tuntap add dev {tap} mode tap user $USER)")
