from tuxnet.lab.lab import Lab


def _n():
    lab = Lab()
    lab.add_host("h1")
    return lab.node("h1")


def test_read_write_and_vector_format():
    n = _n()
    assert n.cmd("sysctl net.ipv4.ip_forward") == "net.ipv4.ip_forward = 0\n"
    assert n.cmd("sysctl -w net.ipv4.ip_forward=1") == "net.ipv4.ip_forward = 1\n"
    assert n.ns.sysctl["net.ipv4.conf.all.forwarding"] == 1
    assert n.ns.mib.ip.Forwarding == 1
    assert n.cmd("sysctl -n net.ipv4.ip_local_port_range") == "32768\t60999\n"
    assert n.cmd("sysctl net/ipv4/ip_default_ttl") == "net.ipv4.ip_default_ttl = 64\n"
    assert n.cmd("cat /proc/sys/net/ipv4/ip_forward") == "1\n"


def test_errors_are_worded_like_procps():
    n = _n()
    rc, out = n.cmd_rc("sysctl net.ipv4.foo")
    assert rc == 1 and out == "sysctl: cannot stat /proc/sys/net/ipv4/foo: No such file or directory\n"
    rc, out = n.cmd_rc("sysctl -w net.ipv4.ip_forward=abc")
    assert rc == 1 and out == 'sysctl: setting key "net.ipv4.ip_forward": Invalid argument\n'
    # ipv4_local_port_range refuses a minimum below ip_unprivileged_port_start
    rc, out = n.cmd_rc("sysctl -w 'net.ipv4.ip_local_port_range=1000 2000'")
    assert rc == 1 and "Invalid argument" in out
    assert n.ns.sysctl["net.ipv4.ip_local_port_range"] == (32768, 60999)
    rc, out = n.cmd_rc("sysctl -z")
    assert rc == 255 and "invalid option -- 'z'" in out
    rc, out = n.cmd_rc("sysctl -w net.ipv4.tcp_congestion_control=nosuch")
    assert rc == 1 and "No such file or directory" in out


def test_all_lists_per_device_keys():
    n = _n()
    out = n.cmd("sysctl -a")
    assert "net.ipv4.conf.lo.rp_filter = 0\n" in out
    assert "net.ipv4.neigh.lo.ucast_solicit = 3\n" in out
    assert out.count("\n") > 150


def test_cat_proc_files():
    n = _n()
    snmp = n.cmd("cat /proc/net/snmp")
    lines = snmp.splitlines()
    assert lines[0].startswith("Ip: Forwarding DefaultTTL InReceives")
    assert lines[1].startswith("Ip: 2 64 ")
    assert [ln.split(":")[0] for ln in lines[::2]] == ["Ip", "Icmp", "Tcp", "Udp", "UdpLite"]
    rc, out = n.cmd_rc("cat /proc/net/nope")
    assert rc == 1 and out == "cat: /proc/net/nope: No such file or directory\n"
