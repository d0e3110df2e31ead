"""The run's configuration: packetdrill's config.c settings and defaults, and the script's
``--name=value`` options over them.

Defaults (IPv4) are those the corpus harnesses pass (the kernel selftests' ksft_runner.sh,
packetdrill's run_all.py): local address 192.168.0.1/16 (packetdrill alone would pick a random one
in 192.168.0.0/16), gateway 192.168.0.1, remote 192.0.2.1 routed as a /32 (``--remote_ip`` without
a prefix length; packetdrill alone routes its default 192.0.2.1/24), bind and connect port 8080,
MTU 1500, ``--tolerance_usecs`` 4000, ``--tolerance_percent`` 12.5, TS ecr not scaled, TS val not
checked (``--tcp_ts_tick_usecs`` 0), segments aggregated unless ``--strict_segments``.

An unknown option, a missing or forbidden argument or a bad value fails the script with
packetdrill's message; options for what tuxnet does not emulate (IPv6, wire mode, shared-object
mode, link speed ...) raise ``Unsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuxnet.tools.packetdrill import Script
from tuxnet.tools.packetdrill.errors import ScriptFailure, Unsupported
from tuxnet.wire.addr import ip_aton, ip_ntoa


@dataclass
class Config:
    """config.c's settings, with its defaults (IPv4)."""

    local_ip: int = ip_aton("192.168.0.1")
    remote_ip: int = ip_aton("192.0.2.1")
    remote_plen: int = 32
    gateway_ip: int = ip_aton("192.168.0.1")
    prefix_len: int = 16
    bind_port: int = 8080
    connect_port: int = 8080
    mtu: int = 1500
    tolerance_usecs: int = 4000
    tolerance_percent: float = 12.5
    tcp_ts_ecr_scaled: bool = False
    tcp_ts_tick_usecs: int = 0
    strict_segments: bool = False
    socket_domain: int = 2  # AF_INET
    mss: int = 0  # --mss: the gso_size of injected TCP packets with a larger payload (GRO packets)
    seed: int = 0

    @property
    def local_ip_str(self) -> str:
        return ip_ntoa(self.local_ip)

    @property
    def remote_ip_str(self) -> str:
        return ip_ntoa(self.remote_ip)

    @property
    def remote_net(self) -> int:
        mask = (0xFFFFFFFF << (32 - self.remote_plen)) & 0xFFFFFFFF
        return self.remote_ip & mask


_HAS_ARG = {"ip_version": True, "bind_port": True, "connect_port": True, "remote_ip": True,
            "local_ip": True, "gateway_ip": True, "netmask_ip": True, "speed": True, "mss": True,
            "mtu": True, "init_scripts": True, "tolerance_usecs": True, "tolerance_percent": True,
            "wire_client": False, "wire_server": False, "wire_server_ip": True, "wire_server_at": True,
            "wire_server_port": True, "wire_client_dev": True, "wire_server_dev": True,
            "so_filename": True, "so_flags": True, "tcp_ts_ecr_scaled": False, "tcp_ts_tick_usecs": True,
            "strict_segments": False, "non_fatal": True, "dry_run": False, "is_anyip": False,
            "send_omit_free": False, "debug": False, "define": True, "verbose": False,
            "code_command": True, "code_format": True, "code_sockopt": True}


def make_config(script: Script) -> Config:
    """parse_script_options: the script's ``--name=value`` lines over the defaults."""
    cfg = Config()
    for opt in script.options:
        name, value = opt.name, opt.value
        if name not in _HAS_ARG:
            raise ScriptFailure(0, f"option '{name}' unknown")
        if value is not None and not _HAS_ARG[name]:
            raise ScriptFailure(0, f"option '{name}' forbids an argument")
        if value is None and _HAS_ARG[name]:
            raise ScriptFailure(0, f"option '{name}' requires an argument")
        try:
            _apply_option(cfg, name, value or "")
        except ValueError:
            raise ScriptFailure(0, f"bad --{name}: {value}") from None
    return cfg


def _apply_option(cfg: Config, name: str, value: str) -> None:
    if name == "ip_version":
        if value != "ipv4":
            raise Unsupported(f"--ip_version={value} (IPv4 only)")
    elif name in ("bind_port", "connect_port"):
        port = int(value)
        if not 0 < port <= 0xFFFF:
            raise ValueError(value)
        setattr(cfg, name, port)
    elif name == "mss":
        cfg.mss = int(value)
        if not 0 <= cfg.mss <= 0xFFFF:
            raise ValueError(value)
    elif name == "local_ip":
        cfg.local_ip = ip_aton(value)
    elif name == "remote_ip":
        addr, _, plen = value.partition("/")
        cfg.remote_ip, cfg.remote_plen = ip_aton(addr), int(plen) if plen else 32
    elif name == "gateway_ip":
        cfg.gateway_ip = ip_aton(value)
    elif name == "netmask_ip":
        cfg.prefix_len = bin(ip_aton(value)).count("1")
    elif name == "mtu":
        cfg.mtu = int(value)
    elif name == "tolerance_usecs":
        cfg.tolerance_usecs = int(value)
        if cfg.tolerance_usecs <= 0:
            raise ValueError(value)
    elif name == "tolerance_percent":
        cfg.tolerance_percent = float(value)
        if not 0.0 <= cfg.tolerance_percent <= 100.0:
            raise ValueError(value)
    elif name == "tcp_ts_ecr_scaled":
        cfg.tcp_ts_ecr_scaled = True
    elif name == "tcp_ts_tick_usecs":
        cfg.tcp_ts_tick_usecs = int(value)
        if not 0 <= cfg.tcp_ts_tick_usecs <= 1000000:
            raise ValueError(value)
    elif name == "strict_segments":
        cfg.strict_segments = True
    elif name == "code_format" and value != "python":
        raise ScriptFailure(0, f"unsupported --code_format '{value}'")
    elif name in ("speed", "init_scripts", "non_fatal", "so_filename", "so_flags", "is_anyip") or \
            name.startswith("wire_"):
        raise Unsupported(f"--{name}")
    # define (done by the parser), verbose, debug, dry_run,
    # code_command, code_sockopt, send_omit_free: nothing to do here
