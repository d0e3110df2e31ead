"""The tuxnet command: run and shell, with good and broken input (never a traceback)."""

import io
import subprocess
import sys
from pathlib import Path

from tuxnet.lab.cli import main
from tuxnet.lab.shell import run_shell

TOPO = """\
name: two
topology:
  nodes:
    h1:
      exec:
        - ip addr add 10.9.0.1/24 dev eth0
    h2:
      exec:
        - ip addr add 10.9.0.2/24 dev eth0
  links:
    - endpoints: ["h1:eth0", "h2:eth0"]
"""


def write(tmp_path: Path, text: str, name: str = "t.yml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_run_prints_each_command_under_a_header(tmp_path, capsys):
    topo = write(tmp_path, TOPO)
    rc = main(["run", topo, "--cmd", "h1: ip -br addr show eth0", "--cmd", "h2: sysctl net.ipv4.ip_forward",
               "--until", "5"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "=== h1$ ip -br addr show eth0   [t=0.000s]\n" in out
    assert "10.9.0.1/24" in out
    assert "=== h2$ sysctl net.ipv4.ip_forward" in out and "net.ipv4.ip_forward = 0" in out
    assert out.rstrip().endswith("=== done at t=5.000s, 0 command(s) failed")


def test_run_exit_status_reflects_a_failed_command(tmp_path, capsys):
    topo = write(tmp_path, TOPO)
    rc = main(["run", topo, "--cmd", "h1: ip link show eth9"])
    out = capsys.readouterr().out
    assert rc == 1
    assert 'Device "eth9" does not exist.' in out and "--- exit 1" in out


def test_run_pcap_writes_one_file_per_interface(tmp_path, capsys):
    topo = write(tmp_path, TOPO)
    rc = main(["run", topo, "--pcap", str(tmp_path / "cap"), "--cmd", "h1: ip neigh"])
    assert rc == 0
    files = sorted(p.name for p in (tmp_path / "cap").iterdir())
    assert files == ["h1-eth0.pcap", "h2-eth0.pcap"]
    assert "=== capture: 2 files" in capsys.readouterr().out


def test_broken_inputs_give_clear_errors(tmp_path, capsys):
    bad = write(tmp_path, TOPO.replace('"h2:eth0"', '"h3:eth0"'), "bad.yml")
    assert main(["run", bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tuxnet: {bad}:11: link endpoint 'h3:eth0' names an unknown node 'h3'")
    assert main(["run", str(tmp_path / "missing.yml")]) == 2
    assert "cannot read topology file" in capsys.readouterr().err
    topo = write(tmp_path, TOPO)
    assert main(["run", topo, "--cmd", "h9: ip a"]) == 2
    assert "no node named 'h9'" in capsys.readouterr().err
    failing = write(tmp_path, TOPO.replace("10.9.0.2/24 dev eth0", "10.9.0.2/24 dev eth7"), "f.yml")
    assert main(["run", failing]) == 1
    assert "exec 'ip addr add 10.9.0.2/24 dev eth7' failed" in capsys.readouterr().err


def test_console_script_runs_without_traceback_on_bad_arguments(tmp_path):
    exe = Path(sys.executable).with_name("tuxnet")
    r = subprocess.run([str(exe), "run"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage: tuxnet run" in r.stderr and "Traceback" not in r.stderr


def test_shell_runs_commands_resolves_node_names_and_keeps_time(tmp_path):
    topo = write(tmp_path, TOPO)
    stdin = io.StringIO("help\nh1 ip route get h2\ntime\nsleep 2.5\ntime\nh9 ls\nnodes\nbogus\nexit\n")
    out = io.StringIO()
    assert run_shell(topo, stdin=stdin, out=out) == 0
    text = out.getvalue()
    assert "NODE COMMAND..." in text
    assert "10.9.0.2 dev eth0 src 10.9.0.1 uid 0" in text
    assert "0.000000 s\n" in text and "2.500000 s\n" in text
    assert "*** Unknown command: h9 ls" in text and "*** Unknown command: bogus" in text
    assert "h1 h2" in text


def test_run_background_job_with_node_names_and_sleep(tmp_path, capsys):
    """A trailing & stays an operator when node names are replaced; sleep advances virtual time while
    the job runs; wait shows its output."""
    topo = write(tmp_path, TOPO)
    rc = main(["run", topo, "--cmd", "h1: ping -c 3 h2 &", "--cmd", "h1: sleep 1.5",
               "--cmd", "h1: jobs", "--cmd", "h1: wait", "--cmd", "h1: sleep 1x"])
    out = capsys.readouterr().out
    assert rc == 1  # the bad interval
    assert "=== h1$ ping -c 3 h2 &   [t=0.000s]\n[1] 1001\n" in out
    assert "=== h1$ jobs   [t=1.500s]\n[1]   Running" in out
    assert "3 packets transmitted, 3 received" in out
    assert "sleep: invalid time interval '1x'" in out
